"""Feature-importance agreement: models trained on real and on synthetic rows rank the features alike, or not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perpetuum.errors import DataInputError
from perpetuum.evaluate.utility import feature_importance_agreement


def signal_table(rows: int = 3000, seed: int = 0) -> pd.DataFrame:
    """A binary target driven strongly by `strong`, less by `medium` and `colour`, and not at all by `noise`."""
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(
        {
            "strong": rng.normal(size=rows),
            "medium": rng.normal(size=rows),
            "weak": rng.normal(size=rows),
            "colour": rng.choice(["red", "green", "blue"], rows),
            "noise": rng.normal(size=rows),
        }
    )
    logit = 3.0 * table["strong"] + 1.2 * table["medium"] + 0.4 * table["weak"] + (table["colour"] == "red") * 0.8
    table["target"] = np.where(rng.random(rows) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return table


def test_a_sample_of_the_same_process_ranks_features_alike():
    result = feature_importance_agreement(signal_table(seed=1), signal_table(seed=0), "target")
    assert result["score"] > 0.7
    assert result["task"] == "classification" and result["scoring"] == "roc_auc"
    assert result["top_features"]["real"][0] == result["top_features"]["synthetic"][0] == "strong"
    assert set(result["importance_real"]) == {"strong", "medium", "weak", "colour", "noise"}


def test_a_synthetic_table_whose_target_follows_another_feature_disagrees():
    real = signal_table(seed=0)
    swapped = signal_table(seed=1).rename(columns={"strong": "noise", "noise": "strong"})
    result = feature_importance_agreement(swapped, real, "target")
    # Importance is measured on real rows, where the synthetic model's favourite ("noise") predicts nothing:
    # both swapped features sink to the bottom of its ranking, so the rank correlation halves rather than flips.
    assert result["score"] < 0.6
    assert result["importance_synthetic"]["strong"] < 0.1 * result["importance_real"]["strong"]
    assert result["top_features"]["synthetic"][0] != "strong"


def test_numeric_targets_are_scored_by_r2_and_the_held_out_slice_is_capped():
    table = signal_table(rows=2000)
    table["target"] = 2.0 * table["strong"] + table["medium"] + np.random.default_rng(0).normal(0, 0.1, 2000)
    result = feature_importance_agreement(table.iloc[:1000], table.iloc[1000:], "target", max_rows=400)
    assert result["task"] == "regression" and result["scoring"] == "r2"
    assert result["n_test"] == 100 and result["n_train_real"] == 400 and result["n_train_synthetic"] == 400
    assert result["score"] > 0.5


def test_a_missing_or_constant_target_is_a_clear_error():
    table = signal_table(rows=300)
    with pytest.raises(DataInputError, match="not in"):
        feature_importance_agreement(table, table, "outcome")
    with pytest.raises(DataInputError, match="fewer than two"):
        feature_importance_agreement(table.assign(target="yes"), table, "target")
