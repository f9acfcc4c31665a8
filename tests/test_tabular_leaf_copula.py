"""The quality synthesizer's within-leaf copula: strongly correlated numeric columns stay correlated, and so does
a two-category column with the numeric ones."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from perpetuum.errors import ParameterError
from perpetuum.tabular import Between, get_synthesizer, load_synthesizer
from perpetuum.tabular.leaf_copula import (band_normal_scores, calibrate_correlation, draw_normal_scores,
                                            pooled_correlation, uniforms_of, within_leaf_normal_scores)

# radius, perimeter and area of the cell nuclei correlate at r 0.94-0.99; texture is only weakly tied to them
CORRELATED = ["mean radius", "mean perimeter", "mean area", "worst radius", "mean texture"]


@pytest.fixture(scope="module")
def cancer():
    bunch = load_breast_cancer(as_frame=True)
    table = bunch.data[CORRELATED].copy()
    table["diagnosis"] = np.where(bunch.target == 1, "benign", "malignant")
    return table


@pytest.fixture(scope="module")
def fitted(cancer):
    return get_synthesizer("quality")(seed=0).fit(cancer)


def _largest_correlation_gap(real: pd.DataFrame, synthetic: pd.DataFrame) -> float:
    return float((real[CORRELATED].corr() - synthetic[CORRELATED].corr()).abs().to_numpy().max())


def test_pooled_correlation_recovers_a_known_correlation_despite_unusable_values():
    rng = np.random.default_rng(0)
    scores = rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], size=20_000)
    usable = rng.random(scores.shape) > 0.3
    scores[~usable] = 50.0  # values that are not usable must not count, whatever they hold
    assert pooled_correlation(scores, usable)[0, 1] == pytest.approx(0.8, abs=0.02)


def test_pooled_correlation_is_positive_definite_when_pairs_are_estimated_on_different_rows():
    rng = np.random.default_rng(0)
    base = rng.standard_normal(300)
    scores = np.column_stack([base, base, -base])
    # columns 0-1 and 0-2 share rows 0-199, columns 1-2 only rows 100-199: each pair alone is consistent, together
    # they ask for r(0,1) = 1, r(0,2) = -1 and r(1,2) = -1, which no correlation matrix has exactly
    usable = np.zeros(scores.shape, dtype=bool)
    usable[:200, 0] = True
    usable[100:, 1:] = True
    correlation = pooled_correlation(scores, usable)
    np.linalg.cholesky(correlation)
    assert np.allclose(np.diag(correlation), 1.0)


def test_drawn_scores_give_uniforms_with_the_asked_dependence():
    uniforms = uniforms_of(draw_normal_scores(np.array([[1.0, 0.9], [0.9, 1.0]]), 50_000, {},
                                              np.random.default_rng(0)))
    assert uniforms.min() > 0 and uniforms.max() < 1
    assert np.allclose(np.quantile(uniforms, [0.1, 0.5, 0.9], axis=0).T, [0.1, 0.5, 0.9], atol=0.01)
    # Spearman correlation of a Gaussian copula with r = 0.9: (6 / pi) * arcsin(0.45) = 0.891
    ranks = np.argsort(np.argsort(uniforms, axis=0), axis=0)
    assert np.corrcoef(ranks.T)[0, 1] == pytest.approx(0.891, abs=0.01)


def test_a_banded_score_stays_in_its_band_and_the_others_follow_it():
    correlation = np.array([[1.0, 0.6, 0.0], [0.6, 1.0, 0.3], [0.0, 0.3, 1.0]])
    n = 100_000
    above_zero = (np.zeros(n), np.full(n, np.inf))
    scores = draw_normal_scores(correlation, n, {0: above_zero}, np.random.default_rng(0))
    assert (scores[:, 0] >= 0).all()
    half_normal_mean = np.sqrt(2 / np.pi)
    assert scores[:, 0].mean() == pytest.approx(half_normal_mean, abs=0.01)
    assert scores[:, 1].mean() == pytest.approx(0.6 * half_normal_mean, abs=0.01)
    # a band that is the whole line changes nothing: the joint law is the plain correlated normal
    whole_line = (np.full(n, -np.inf), np.full(n, np.inf))
    scores = draw_normal_scores(correlation, n, {1: whole_line}, np.random.default_rng(0))
    np.testing.assert_allclose(np.corrcoef(scores.T), correlation, atol=0.01)
    np.testing.assert_allclose(scores.std(axis=0), 1.0, atol=0.01)


def test_a_two_category_value_scores_at_the_mean_of_its_band():
    scores, usable = band_normal_scores(np.array([0, 1, 0, 1]), np.array([0.5, 0.5, 1.0, 0.0]))
    assert scores[:2] == pytest.approx([-np.sqrt(2 / np.pi), np.sqrt(2 / np.pi)])
    assert usable.tolist() == [True, True, False, False]  # a leaf holding one category has no position in it


def test_a_two_category_column_keeps_its_dependence_on_a_number_inside_coarse_leaves():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(2000)
    table = pd.DataFrame({"x": x, "flag": np.where(rng.random(2000) < 1 / (1 + np.exp(-3 * x)), "yes", "no")})
    real_correlation = np.corrcoef(table["x"], table["flag"] == "yes")[0, 1]  # 0.70

    def fitted_with(dependence):  # leaves of 1,500 rows: the forest can hardly split, the dependence is inside
        return get_synthesizer("quality")(seed=0, min_leaf_rows=1500, within_leaf_dependence=dependence).fit(table)

    joined, independent = fitted_with("copula"), fitted_with("independent")
    for model, low, high in ((joined, real_correlation - 0.05, real_correlation + 0.05), (independent, -0.1, 0.1)):
        rows = model.sample(20_000)
        assert low < np.corrcoef(rows["x"], rows["flag"] == "yes")[0, 1] < high
    # rows conditioned on the class keep it: their x sits where the real "yes" rows' does (0.68)
    conditioned = joined.sample(5_000, conditions={"flag": "yes"})
    assert (conditioned["flag"] == "yes").all()
    assert conditioned["x"].mean() == pytest.approx(table.loc[table["flag"] == "yes", "x"].mean(), abs=0.05)


def test_a_value_at_the_middle_of_its_leaf_has_score_zero_and_a_zero_width_box_is_unusable():
    scores, usable = within_leaf_normal_scores(
        np.array([0.3, 1.0]), np.array([0.3, 1.0]), np.array([1.0, 1.0]), np.array([-1.0, 1.0]), np.array([1.6, 1.0])
    )
    assert scores[0] == pytest.approx(0.0, abs=1e-9)
    assert usable.tolist() == [True, False]


def test_quality_synthesizer_keeps_strong_correlations_that_independent_leaves_flatten(cancer, fitted):
    independent = get_synthesizer("quality")(seed=0, within_leaf_dependence="independent").fit(cancer)
    gap_with_copula = _largest_correlation_gap(cancer, fitted.sample(len(cancer)))
    gap_independent = _largest_correlation_gap(cancer, independent.sample(len(cancer)))
    assert gap_with_copula <= 0.06
    assert gap_independent > 2 * gap_with_copula


def test_conditions_still_hold_exactly_with_the_copula(fitted):
    rows = fitted.sample(300, conditions={"diagnosis": "malignant", "mean radius": Between(15.0, 20.0)})
    assert len(rows) == 300
    assert (rows["diagnosis"] == "malignant").all()
    assert rows["mean radius"].between(15.0, 20.0).all()


def test_columns_keep_moving_together_within_a_conditioned_class(cancer, fitted):
    rows = fitted.sample(500, conditions={"diagnosis": "malignant"})
    real = cancer[cancer["diagnosis"] == "malignant"]
    assert real["mean radius"].corr(real["mean perimeter"]) > 0.99
    assert rows["mean radius"].corr(rows["mean perimeter"]) >= 0.9  # independent leaves: about 0.78


def test_the_copula_is_saved_and_loaded_with_the_model(fitted, tmp_path):
    fitted.save(tmp_path / "model")
    loaded = load_synthesizer(tmp_path / "model")
    np.testing.assert_array_equal(loaded.leaf_correlation_, fitted.leaf_correlation_)
    assert loaded.copula_columns_ == fitted.copula_columns_ == list(range(len(CORRELATED) + 1))  # with diagnosis
    pd.testing.assert_frame_equal(loaded.sample(200, seed=3), fitted.sample(200, seed=3))


def test_a_model_saved_before_binary_columns_joined_the_copula_still_loads_and_samples(fitted, tmp_path):
    fitted.save(tmp_path / "model")
    arrays_file = tmp_path / "model" / "arrays.npz"
    arrays = dict(np.load(arrays_file))
    numeric = list(range(len(CORRELATED)))  # such files hold the numeric columns' matrix and no column list
    del arrays["copula_columns"]
    arrays["leaf_correlation"] = arrays["leaf_correlation"][np.ix_(numeric, numeric)]
    np.savez(arrays_file, **arrays)
    rows = load_synthesizer(tmp_path / "model").sample(300, seed=1)
    assert set(rows["diagnosis"]) == {"benign", "malignant"}
    assert rows["mean radius"].corr(rows["mean perimeter"]) > 0.9


def test_unknown_within_leaf_dependence_is_rejected_with_the_choices(cancer):
    with pytest.raises(ParameterError, match="'copula', 'independent'"):
        get_synthesizer("quality")(within_leaf_dependence="gaussian").fit(cancer)


def test_calibration_moves_a_damped_copula_until_the_drawn_rows_match_the_target():
    rng = np.random.default_rng(0)
    target = np.array([[1.0, 0.6], [0.6, 1.0]])

    def damped_draws(correlation):  # a sampler whose rows come out with 3/4 of the copula's correlation
        damped = correlation[0, 1] * 0.75
        return rng.multivariate_normal([0, 0], [[1.0, damped], [damped, 1.0]], size=20_000)

    calibrated, gaps = calibrate_correlation(target.copy(), target, damped_draws, 4)
    assert gaps[0] > 0.1 and min(gaps) < 0.02 and len(gaps) == 5
    assert calibrated[0, 1] == pytest.approx(0.8, abs=0.03)  # what the damping sampler needs to reach 0.6
    # a gap within sampling noise is left as it is
    unchanged, _ = calibrate_correlation(target, target, lambda c: rng.multivariate_normal([0, 0], c, 50), 2)
    np.testing.assert_array_equal(unchanged, target)


def test_the_calibrated_copula_brings_the_correlations_closer():
    bunch = load_breast_cancer(as_frame=True)  # all 30 columns: many pairs at r > 0.7 that leaves damp
    table = bunch.data.assign(diagnosis=np.where(bunch.target == 1, "benign", "malignant"))
    real = table[bunch.data.columns].corr().to_numpy()
    upper = np.triu_indices(len(real), 1)

    def mean_gap(model) -> float:  # enough rows that sampling noise does not decide
        drawn = model.sample(20 * len(table))[bunch.data.columns].corr().to_numpy()
        return float(np.mean(np.abs(drawn - real)[upper]))

    pooled = get_synthesizer("quality")(seed=1, copula_calibration_rounds=0).fit(table)
    calibrated = get_synthesizer("quality")(seed=1).fit(table)
    assert min(calibrated.copula_gaps_) < calibrated.copula_gaps_[0]
    assert mean_gap(calibrated) < mean_gap(pooled) - 0.003  # measured: 0.030 against 0.036
    with pytest.raises(ParameterError, match="copula_calibration_rounds"):
        get_synthesizer("quality")(copula_calibration_rounds=-1).fit(table)
