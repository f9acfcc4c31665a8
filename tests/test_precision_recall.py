"""α-precision, β-recall and authenticity on Adult samples whose answers are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perpetuum.datasets import load_adult
from perpetuum.errors import DataInputError
from perpetuum.evaluate.precision_recall import alpha_precision_beta_recall

NUMBERS = ["age", "fnlwgt", "education-num", "hours-per-week", "capital-gain", "capital-loss"]
CATEGORIES = ["workclass", "education", "marital-status", "occupation", "relationship", "race", "native-country"]


@pytest.fixture(scope="module")
def samples() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two disjoint 2000-row samples of Adult: the real table and an independent 'synthetic' one."""
    shuffled = load_adult().sample(frac=1.0, random_state=0).reset_index(drop=True)
    return shuffled.iloc[:2000], shuffled.iloc[2000:4000].reset_index(drop=True)


def test_an_exact_copy_is_perfectly_precise_and_covering_but_not_authentic(samples):
    real, _ = samples
    result = alpha_precision_beta_recall(real, real.sample(frac=1.0, random_state=1))
    assert result["integrated_precision"] == 1.0
    assert result["integrated_recall"] == 1.0
    assert result["authenticity"] == 0.0


def test_an_independent_sample_is_precise_covering_and_authentic(samples):
    real, independent = samples
    result = alpha_precision_beta_recall(real, independent)
    assert result["integrated_precision"] > 0.95
    assert result["integrated_recall"] > 0.95
    assert result["authenticity"] > 0.4


def test_shrunk_numbers_lower_both_scores(samples):
    real, independent = samples
    shrunk = independent.copy()
    for column in NUMBERS:
        shrunk[column] = shrunk[column].mean() + 0.3 * (shrunk[column] - shrunk[column].mean())
    result = alpha_precision_beta_recall(real, shrunk)
    assert result["integrated_precision"] < 0.93 and result["integrated_recall"] < 0.93


def test_collapse_to_the_most_common_categories_loses_recall(samples):
    real, independent = samples
    modes = independent.assign(**{column: independent[column].mode()[0] for column in CATEGORIES})
    result = alpha_precision_beta_recall(real, modes)
    assert result["integrated_recall"] < 0.2
    assert result["integrated_precision"] < 0.5  # all rows pile up near the centre of the real data


def test_curves_come_back_for_plotting_and_a_seed_fixes_the_result(samples):
    real, independent = samples
    result = alpha_precision_beta_recall(real, independent, max_rows=500, seed=3)
    assert len(result["precision_curve"]["alpha"]) == len(result["precision_curve"]["precision"]) == 20
    assert len(result["recall_curve"]["beta"]) == len(result["recall_curve"]["recall"]) == 20
    assert result["levels"][0] == 0.05 and result["levels"][-1] == 1.0
    assert np.all(np.diff(result["precision_curve"]["precision"]) >= 0)
    assert result["n_real"] == result["n_synthetic"] == 500
    assert alpha_precision_beta_recall(real, independent, max_rows=500, seed=3) == result


def test_mismatched_columns_and_an_empty_synthetic_table_are_clear_errors(samples):
    real, _ = samples
    with pytest.raises(DataInputError, match="income"):
        alpha_precision_beta_recall(real, real.drop(columns="income"))
    with pytest.raises(DataInputError, match="no rows"):
        alpha_precision_beta_recall(real, real.iloc[:0])
