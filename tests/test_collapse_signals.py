"""Collapse signals: lost tails, lost rare categories and shrinking variance are each caught and named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perpetuum.errors import DataInputError
from perpetuum.evaluate.collapse_signals import (
    collapse_signals,
    rare_category_survival,
    tail_coverage,
    variance_ratio,
)


def table(rows: int = 5000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    # 20 common labels and 8 rare ones (0.2 % each).
    labels = [f"common{index}" for index in range(20)] + [f"rare{index}" for index in range(8)]
    weights = np.r_[np.full(20, (1 - 8 * 0.002) / 20), np.full(8, 0.002)]
    return pd.DataFrame(
        {
            "income": rng.lognormal(10.0, 0.8, rows),
            "age": rng.normal(40.0, 12.0, rows),
            "job": rng.choice(labels, rows, p=weights),
        }
    )


def test_identical_tables_show_no_sign_of_collapse():
    real = table()
    result = collapse_signals(real, real.copy())
    assert result["tail_coverage"]["score"] == 1.0
    assert result["rare_category_survival"]["score"] == 1.0
    assert result["variance_ratio"]["per_column"] == {"income": 1.0, "age": 1.0}
    assert result["variance_ratio"]["median"] == 1.0
    assert result["warnings"] == []


def test_a_fresh_sample_of_the_same_distribution_shows_no_sign_of_collapse():
    result = collapse_signals(table(seed=0), table(seed=1))
    assert result["tail_coverage"]["score"] > 0.8
    assert result["variance_ratio"]["per_column"]["age"] == pytest.approx(1.0, abs=0.1)
    assert result["variance_ratio"]["min"] > 0.8  # a lognormal's sample variance varies a lot from sample to sample
    assert result["warnings"] == []


def test_clipped_tails_have_tail_coverage_near_zero_and_a_warning():
    real = table()
    clipped = real.copy()
    for column in ("income", "age"):
        low, high = np.percentile(real[column], [1, 99])
        clipped[column] = real[column].clip(low, high)
    result = collapse_signals(real, clipped)
    assert result["tail_coverage"]["score"] == pytest.approx(0.0, abs=0.01)
    assert result["tail_coverage"]["per_column"]["income"]["ratio"] == pytest.approx(0.0, abs=0.01)
    assert any("tails lost" in warning and "income" in warning for warning in result["warnings"])


def test_a_lost_lower_tail_is_not_hidden_by_a_heavier_upper_tail():
    real = pd.DataFrame({"value": np.random.default_rng(0).normal(size=4000)})
    low, high = np.percentile(real["value"], [1, 99])
    shifted = real.assign(value=real["value"].clip(lower=low) + 0.5)  # no lower tail, a thicker upper one
    entry = tail_coverage(real, shifted)["per_column"]["value"]
    assert entry["lower_ratio"] == 0.0 and entry["upper_ratio"] > 2.0
    assert entry["ratio"] > 1.0  # both tails together look fine ...
    assert entry["coverage"] == pytest.approx(0.5)  # ... the coverage does not


def test_shrunk_variance_gives_a_ratio_below_the_threshold_and_a_warning():
    real = table()
    shrunk = real.assign(age=real["age"].mean() + 0.7 * (real["age"] - real["age"].mean()))
    result = collapse_signals(real, shrunk)
    assert result["variance_ratio"]["per_column"]["age"] == pytest.approx(0.49)
    assert result["variance_ratio"]["per_column"]["income"] == 1.0
    assert result["variance_ratio"]["min"] == pytest.approx(0.49)
    assert any("variance shrinks" in warning and "age (0.49)" in warning for warning in result["warnings"])


def test_lost_rare_categories_are_listed_and_warned_about():
    real = table()
    common_only = real[~real["job"].str.startswith("rare")]
    result = collapse_signals(real, common_only.sample(len(real), replace=True, random_state=0))
    survival = result["rare_category_survival"]
    assert survival["score"] == 0.0
    assert survival["per_column"]["job"]["n_rare"] == 8
    assert {entry["category"] for entry in survival["per_column"]["job"]["lost"]} == {f"rare{i}" for i in range(8)}
    assert any("rare categories lost" in warning for warning in result["warnings"])


def test_rare_share_sets_what_counts_as_rare():
    real = pd.DataFrame({"label": ["a"] * 90 + ["b"] * 8 + ["c"] * 2})
    synthetic = pd.DataFrame({"label": ["a"] * 95 + ["b"] * 5})
    assert rare_category_survival(real, synthetic)["per_column"] == {}  # 1 %: nothing is rare
    entry = rare_category_survival(real, synthetic, rare_share=0.1)["per_column"]["label"]
    assert entry["survival"] == 0.5 and entry["lost"] == [{"category": "c", "real_share": 0.02}]


def test_variance_ratio_leaves_out_constant_columns_and_categories():
    real = pd.DataFrame({"constant": [1.0] * 50, "value": np.arange(50.0), "label": ["a"] * 50})
    assert set(variance_ratio(real, real.copy())["per_column"]) == {"value"}


def test_mismatched_columns_and_an_empty_synthetic_table_are_clear_errors():
    real = table(rows=200)
    with pytest.raises(DataInputError, match="job"):
        collapse_signals(real, real.drop(columns="job"))
    with pytest.raises(DataInputError, match="no rows"):
        collapse_signals(real, real.iloc[:0])
