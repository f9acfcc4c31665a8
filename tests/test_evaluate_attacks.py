"""Privacy attacks: membership inference and Anonymeter's risks see copies of training rows, not fresh samples."""

from __future__ import annotations

import sys

import pandas as pd
import pytest

from perpetuum.datasets import load_adult
from perpetuum.errors import DataInputError, ParameterError, PerpetuumError
from perpetuum.evaluate.anonymeter_attacks import anonymeter_risks
from perpetuum.evaluate.attacks import membership_inference


@pytest.fixture(scope="module")
def adult_split() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Three disjoint 3000-row samples of Adult: train, holdout and an independent 'synthetic' stand-in."""
    shuffled = load_adult().sample(frac=1.0, random_state=0).reset_index(drop=True)
    return shuffled.iloc[:3000], shuffled.iloc[3000:6000], shuffled.iloc[6000:9000]


@pytest.fixture(scope="module")
def small_split(adult_split):
    """1500-row train, holdout and independent tables for the (slower) Anonymeter attacks."""
    train, holdout, independent = adult_split
    return train.iloc[:1500], holdout.iloc[:1500], independent.iloc[:1500]


# --- membership inference --------------------------------------------------------------------------------------


def test_copies_of_train_give_membership_away(adult_split):
    train, holdout, _ = adult_split
    result = membership_inference(train, train.sample(frac=1.0, random_state=1), holdout)
    assert result["auc"] > 0.95 and result["advantage"] > 0.9
    assert result["median_distance_members"] == 0.0


def test_an_independent_sample_tells_nothing_about_membership(adult_split):
    train, holdout, independent = adult_split
    result = membership_inference(train, independent, holdout, seed=0)
    assert result["auc"] == pytest.approx(0.5, abs=0.07)
    assert result["advantage"] < 0.14


def test_membership_candidates_are_half_members_half_non_members(adult_split):
    train, holdout, independent = adult_split
    assert membership_inference(train, independent, holdout, max_rows=1000)["n_candidates"] == 500
    assert membership_inference(train, independent, holdout.iloc[:200])["n_candidates"] == 200


def test_membership_inference_needs_a_holdout_and_matching_columns(adult_split):
    train, holdout, independent = adult_split
    with pytest.raises(ParameterError, match="need a holdout"):
        membership_inference(train, independent, None)
    with pytest.raises(DataInputError, match="income"):
        membership_inference(train, independent.drop(columns="income"), holdout)
    with pytest.raises(DataInputError, match="no rows"):
        membership_inference(train, independent.iloc[:0], holdout)


# --- anonymeter ------------------------------------------------------------------------------------------------


RISKS = ("singling_out_univariate", "singling_out_multivariate", "linkability")


@pytest.fixture(scope="module")
def fresh_risks(small_split) -> dict:
    """Anonymeter's risks for an independent sample of the same population (no training row reused)."""
    train, holdout, independent = small_split
    return anonymeter_risks(train, independent, holdout, n_attacks=200, target="income")


def test_anonymeter_risks_report_each_attack_with_its_confidence_interval(fresh_risks):
    result = fresh_risks
    assert result["n_attacks"] == 200 and result["n_rows"] == 1500
    assert list(result["inference"]) == ["income", "age", "native-country"]  # target, then two spread evenly
    for summary in [result[name] for name in RISKS] + list(result["inference"].values()):
        assert 0.0 <= summary["ci"][0] <= summary["risk"] <= summary["ci"][1] <= 1.0
        for rate in ("attack_rate", "control_rate", "baseline_rate"):
            assert 0.0 <= summary[rate]["value"] <= 1.0 and summary[rate]["error"] >= 0.0
    assert result["linkability"]["aux_columns"][0][0] == "age"
    assert set(result["seconds"]) >= set(RISKS)


def test_a_copy_of_train_carries_far_more_risk_than_an_independent_sample(small_split, fresh_risks):
    train, holdout, _ = small_split
    copied = anonymeter_risks(train, train.sample(frac=1.0, random_state=1), holdout, n_attacks=200, target="income")
    fresh = fresh_risks
    assert copied["singling_out_multivariate"]["risk"] > fresh["singling_out_multivariate"]["risk"] + 0.5
    assert copied["inference"]["income"]["risk"] > fresh["inference"]["income"]["risk"] + 0.5
    assert fresh["singling_out_multivariate"]["ci"][0] < 0.1


def test_named_secrets_are_attacked_and_unknown_ones_rejected(small_split):
    train, holdout, independent = small_split
    columns = ["age", "sex", "race", "income"]
    result = anonymeter_risks(
        train[columns], independent[columns], holdout[columns], n_attacks=50, secrets=["sex"], seed=1
    )
    assert list(result["inference"]) == ["sex"]
    with pytest.raises(DataInputError, match="salary"):
        anonymeter_risks(train, independent, holdout, secrets=["salary"])


def test_privacy_attacks_without_a_holdout_are_refused(small_split):
    train, _, independent = small_split
    with pytest.raises(ParameterError, match="need a holdout"):
        anonymeter_risks(train, independent, None)


def test_a_missing_anonymeter_says_how_to_install_it(small_split, monkeypatch):
    train, holdout, independent = small_split
    monkeypatch.setitem(sys.modules, "anonymeter.evaluators", None)  # makes the import fail
    with pytest.raises(PerpetuumError, match=r"pip install anonymeter==1\.1\.0"):
        anonymeter_risks(train, independent, holdout)
