"""The slow volatility level under the time-series model: what it measures, its new paths, and the model with it."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("arch")

from perpetuum.errors import ParameterError  # noqa: E402
from perpetuum.timeseries.data import builtin_series, read_series  # noqa: E402
from perpetuum.timeseries.model import GarchFHS, load_model  # noqa: E402
from perpetuum.timeseries.slow_level import LevelPaths, slow_level  # noqa: E402


def _eras(days: int = 4000) -> np.ndarray:
    """Returns whose volatility is 1 % for the first half of the days and 3 % for the second."""
    rng = np.random.default_rng(0)
    return (rng.standard_normal(days) * np.where(np.arange(days) < days // 2, 0.01, 0.03))[:, None]


def test_the_slow_level_follows_the_volatility_of_each_era():
    level = slow_level(_eras(), 250)[:, 0]
    assert level[500] == pytest.approx(0.01, rel=0.1)
    assert level[3500] == pytest.approx(0.03, rel=0.1)
    assert level[0] == pytest.approx(0.01, rel=0.15)  # at the ends the window holds the days there are
    with pytest.raises(ParameterError, match="at least 2 days"):
        slow_level(_eras(), 1)


def test_level_paths_keep_the_datas_variation_and_cross_covariance_and_start_where_asked():
    rng = np.random.default_rng(1)
    both = np.column_stack([_eras()[:, 0], 0.5 * _eras()[:, 0] + 0.01 * rng.standard_normal(4000)])
    levels = slow_level(both, 250)
    paths = LevelPaths(levels)
    drawn = np.log(paths.sample(20, len(levels), np.random.default_rng(2)))
    data = np.log(levels)
    # every full-length path has the data's periodogram: its level varies as much as the data's and the two
    # columns' levels move together as much as in the data
    np.testing.assert_allclose(drawn.var(axis=1), np.broadcast_to(data.var(axis=0), (20, 2)), rtol=1e-9)
    data_cross = np.mean((data[:, 0] - data[:, 0].mean()) * (data[:, 1] - data[:, 1].mean()))
    drawn_cross = np.mean((drawn[:, :, 0] - drawn[:, :, 0].mean(axis=1, keepdims=True))
                          * (drawn[:, :, 1] - drawn[:, :, 1].mean(axis=1, keepdims=True)), axis=1)
    np.testing.assert_allclose(drawn_cross, data_cross, rtol=1e-9)
    # but they are new paths, not the data's level shifted in time
    assert np.median([np.corrcoef(path[:, 0], data[:, 0])[0, 1] for path in drawn]) < 0.5
    started = paths.sample(50, 300, np.random.default_rng(3), start=levels[-1])
    np.testing.assert_allclose(started[:, 0], np.broadcast_to(levels[-1], (50, 2)))
    assert np.abs(np.log(started[:, 5] / levels[-1])).max() < 0.1  # a slow level moves little in a week
    longer = paths.sample(3, 2 * len(levels) + 7, np.random.default_rng(4))
    assert longer.shape == (3, 8007, 2) and np.isfinite(longer).all()


def test_a_series_too_short_for_a_slow_level_is_modelled_by_the_recursion_alone():
    frame = builtin_series("sp500").tail(900)  # 899 returns: fewer than 4 windows of 250 days
    model = GarchFHS(seed=0).fit(read_series(frame, time="Date", values="Adj Close"))
    assert not model.uses_level()
    assert (model.slow_levels_["all"] == 1.0).all()
    paths = model.sample(3, 40, seed=0)
    assert paths.shape == (3, 40, 1) and np.isfinite(paths).all()


@pytest.mark.parametrize("window", [1, 2.5, "500"])
def test_a_bad_level_window_is_refused(window):
    with pytest.raises(ParameterError, match="level_window"):
        GarchFHS(level_window=window).fit(read_series(builtin_series("sp500"), time="Date", values="Adj Close"))


def test_a_model_saved_before_the_slow_level_loads_as_one_without_it(tmp_path):
    data = read_series(builtin_series("sp500"), time="Date", values="Adj Close")
    plain = GarchFHS(seed=0, level_window=None).fit(data)
    plain.save(tmp_path / "model")
    description = json.loads((tmp_path / "model" / "model.json").read_text())
    del description["params"]["level_window"]  # what such a file holds: no setting and no level arrays
    (tmp_path / "model" / "model.json").write_text(json.dumps(description))
    arrays = dict(np.load(tmp_path / "model" / "arrays.npz"))
    del arrays["slow_levels_0"]
    np.savez(tmp_path / "model" / "arrays.npz", **arrays)
    loaded = load_model(tmp_path / "model")
    assert loaded.level_window is None and not loaded.uses_level()
    np.testing.assert_array_equal(loaded.sample(2, 30, seed=9), plain.sample(2, 30, seed=9))
