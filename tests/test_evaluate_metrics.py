"""Evaluation metrics: known answers on hand-made tables, sanity on Adult, agreement with sdmetrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from perpetuum.errors import DataInputError, ParameterError
from perpetuum.evaluate import (
    column_pair_trends,
    column_shapes,
    dcr_share,
    detection_score,
    exact_copies,
    tstr,
)

ADULT = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "adult" / "adult.csv"


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    if not ADULT.exists():
        pytest.skip(f"Adult data set not found at {ADULT}")
    return pd.read_csv(ADULT)


@pytest.fixture(scope="module")
def adult_split(adult):
    """Three disjoint 4000-row samples of Adult: train, holdout and an independent 'synthetic' stand-in."""
    shuffled = adult.sample(frac=1.0, random_state=0).reset_index(drop=True)
    return shuffled.iloc[:4000], shuffled.iloc[4000:8000], shuffled.iloc[8000:12000]


def mixed_table(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.gamma(2.0, 50.0, rows),
            "count": rng.integers(0, 10, rows),
            "colour": rng.choice(["red", "green", "blue"], rows),
            "member": rng.random(rows) < 0.3,
            "joined": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1000, rows), unit="D"),
        }
    )


def exactly_correlated(correlation: float, rows: int = 500, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two columns whose sample Pearson correlation is exactly `correlation`."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    x = (x - x.mean()) / x.std()
    noise = rng.normal(size=rows)
    noise -= noise.mean()
    noise -= (noise @ x) / (x @ x) * x
    noise /= noise.std()
    return x, correlation * x + np.sqrt(1.0 - correlation**2) * noise


# --- column shapes ---------------------------------------------------------------------------------------------


def test_identical_tables_have_perfect_shapes_and_trends():
    table = mixed_table()
    assert column_shapes(table, table.copy())["score"] == pytest.approx(1.0)
    trends = column_pair_trends(table, table.copy(), strong_correlation=0, strong_association=0)
    assert trends["score"] == pytest.approx(1.0)


def test_disjoint_categories_and_disjoint_ranges_score_zero():
    real = pd.DataFrame({"label": ["a", "b"] * 50, "value": np.arange(100.0)})
    synthetic = pd.DataFrame({"label": ["c", "d"] * 50, "value": np.arange(100.0) + 1000})
    shapes = column_shapes(real, synthetic)
    assert shapes["per_column"] == {"label": pytest.approx(0.0), "value": pytest.approx(0.0)}


def test_shapes_compare_category_frequencies_by_total_variation():
    real = pd.DataFrame({"label": ["a"] * 50 + ["b"] * 50})
    synthetic = pd.DataFrame({"label": ["a"] * 80 + ["b"] * 20})
    assert column_shapes(real, synthetic)["score"] == pytest.approx(1 - 0.3)


def test_shapes_ignore_missing_values():
    real = pd.DataFrame({"value": [1.0, 2.0, 3.0, np.nan, np.nan], "label": ["a", "b", None, None, "a"]})
    synthetic = pd.DataFrame({"value": [1.0, 2.0, 3.0, 3.0, 2.0, 1.0], "label": ["a", "b", "a", "a", "b", "a"]})
    assert column_shapes(real, synthetic)["per_column"] == {"value": pytest.approx(1.0), "label": pytest.approx(1.0)}


def test_booleans_are_categorical_and_datetimes_numeric():
    real = mixed_table(seed=0)
    later = real.assign(joined=real["joined"] + pd.Timedelta(days=5000), member=~real["member"])
    shapes = column_shapes(real, later)["per_column"]
    assert shapes["joined"] == pytest.approx(0.0)  # shifted past the whole real range: KS statistic 1
    assert shapes["member"] == pytest.approx(1 - abs(real["member"].mean() - (1 - real["member"].mean())))


def test_synthetic_table_missing_a_column_is_a_clear_error():
    table = mixed_table()
    with pytest.raises(DataInputError, match="colour"):
        column_shapes(table, table.drop(columns="colour"))


# --- column pair trends ----------------------------------------------------------------------------------------


def test_numeric_pairs_compare_pearson_correlations():
    x, y = exactly_correlated(0.8)
    real = pd.DataFrame({"x": x, "y": y})
    synthetic = pd.DataFrame({"x": x, "y": -y})  # correlation -0.8
    trends = column_pair_trends(real, synthetic)
    assert trends["per_pair"][("x", "y")] == pytest.approx(1 - 1.6 / 2)
    assert trends["score"] == pytest.approx(0.2)


def test_swapped_categorical_pairs_keep_shapes_but_lose_trends():
    real = pd.DataFrame({"first": ["a", "b"] * 100, "second": ["x", "y"] * 100})
    synthetic = pd.DataFrame({"first": ["a", "b"] * 100, "second": ["y", "x"] * 100})
    assert column_shapes(real, synthetic)["score"] == pytest.approx(1.0)
    assert column_pair_trends(real, synthetic)["score"] == pytest.approx(0.0)


def test_pairs_without_a_strong_real_trend_are_left_out_of_the_score():
    x, y = exactly_correlated(0.2)
    real = pd.DataFrame({"x": x, "y": y})
    trends = column_pair_trends(real, real.copy())
    assert trends["strong_pairs"] == []
    assert np.isnan(trends["score"])
    assert trends["score_all_pairs"] == pytest.approx(1.0)


def test_real_bin_edges_see_a_shift_that_per_table_bins_ignore():
    rng = np.random.default_rng(0)
    label = rng.choice(["low", "high"], 2000)
    value = np.where(label == "high", 60.0, 30.0) + rng.normal(0, 5, 2000)
    real = pd.DataFrame({"value": value, "label": label})
    shifted = real.assign(value=real["value"] + 100)
    assert column_pair_trends(real, shifted, bin_edges="each_table")["score"] == pytest.approx(1.0)
    assert column_pair_trends(real, shifted, bin_edges="real")["score"] < 0.6


def test_an_unknown_binning_is_a_parameter_error():
    table = mixed_table()
    with pytest.raises(ParameterError, match="bin_edges"):
        column_pair_trends(table, table, bin_edges="quantiles")


# --- train on synthetic, test on real -------------------------------------------------------------------------


def test_tstr_on_adult_matches_train_on_real_and_collapses_with_a_shuffled_target(adult_split):
    train, holdout, independent = adult_split
    faithful = tstr(independent, holdout, "income", train_real=train)
    assert faithful["task"] == "classification"
    assert faithful["auc"] > 0.88 and faithful["real_auc"] > 0.88
    assert faithful["auc_ratio"] == pytest.approx(1.0, abs=0.03)
    noise = independent.assign(income=np.random.default_rng(0).permutation(independent["income"].to_numpy()))
    # A model fitted to noise is a random function of the features, which still correlates a little by chance.
    assert tstr(noise, holdout, "income")["auc"] < 0.65


def test_tstr_handles_multiclass_and_numeric_targets():
    table = mixed_table(rows=1500)
    table["target_class"] = np.where(table["count"] < 3, "few", np.where(table["count"] < 7, "some", "many"))
    table["target_number"] = table["amount"] * 2 + table["count"]
    train, test = table.iloc[:1000], table.iloc[1000:]
    multiclass = tstr(train.drop(columns="target_number"), test.drop(columns="target_number"), "target_class")
    assert multiclass["task"] == "classification" and multiclass["auc"] > 0.95
    regression = tstr(train.drop(columns="target_class"), test.drop(columns="target_class"), "target_number")
    assert regression["task"] == "regression" and regression["r2"] > 0.9


def test_tstr_rejects_a_missing_or_constant_target():
    table = mixed_table()
    with pytest.raises(DataInputError, match="not in"):
        tstr(table, table, "nonexistent")
    with pytest.raises(DataInputError, match="fewer than two"):
        tstr(table.assign(colour="red"), table, "colour")


# --- privacy ---------------------------------------------------------------------------------------------------


def test_exact_copies_of_train_are_all_found():
    train = mixed_table()
    copies = exact_copies(train, train.sample(frac=1.0, random_state=1))
    assert copies["copies"] == len(train) and copies["share"] == 1.0


def test_exact_copies_treat_missing_as_equal_and_ignore_dtype():
    train = pd.DataFrame({"value": [1, 2, 3], "label": ["a", None, "c"]})
    synthetic = pd.DataFrame({"value": [1.0, 2.0, 3.5], "label": ["a", None, "c"]})
    assert exact_copies(train, synthetic)["copies"] == 2


def test_exact_copies_report_what_train_repeats_itself():
    train = pd.DataFrame({"label": ["a", "a", "b", "c"], "value": [1, 1, 2, 3]})
    synthetic = pd.DataFrame({"label": ["a", "b", "z"], "value": [1, 2, 9]})
    holdout = pd.DataFrame({"label": ["a", "q"], "value": [1, 0]})
    copies = exact_copies(train, synthetic, holdout=holdout)
    assert copies["copies"] == 2
    assert copies["copies_of_unique_rows"] == 1  # ("b", 2); ("a", 1) occurs twice in train
    assert copies["train_self_duplicates"] == 1
    assert copies["holdout_share"] == pytest.approx(0.5)


def test_a_copy_of_train_has_dcr_share_one(adult_split):
    train, holdout, _ = adult_split
    result = dcr_share(train, train.copy(), holdout)
    assert result["share"] == pytest.approx(1.0, abs=0.005)  # identical train/holdout rows tie: half a point each
    assert result["p5_synthetic"] == 0.0 and result["p5_ratio"] == 0.0


def test_an_independent_sample_has_dcr_share_near_one_half(adult_split):
    train, holdout, independent = adult_split
    result = dcr_share(train, independent, holdout, seed=0)
    assert result["share"] == pytest.approx(0.5, abs=0.05)
    assert result["p5_ratio"] == pytest.approx(1.0, abs=0.25)


def test_dcr_share_subsamples_train_to_the_holdout_size():
    train, holdout = mixed_table(rows=900, seed=0), mixed_table(rows=300, seed=1)
    assert dcr_share(train, mixed_table(rows=200, seed=2), holdout)["n_reference"] == 300


# --- detection -------------------------------------------------------------------------------------------------


def test_detection_cannot_tell_an_independent_sample_from_real(adult_split):
    train, _, independent = adult_split
    assert detection_score(train, independent, max_rows=3000)["score"] > 0.85


def test_detection_sees_through_shuffled_columns(adult_split):
    train, _, independent = adult_split
    rng = np.random.default_rng(0)
    shuffled = independent.apply(lambda column: rng.permutation(column.to_numpy()))
    result = detection_score(train, shuffled, max_rows=3000)
    assert result["score"] < 0.6 and result["auc"] > 0.7


# --- agreement with sdmetrics ----------------------------------------------------------------------------------


def test_shapes_and_trends_agree_with_sdmetrics(adult):
    reports = pytest.importorskip("sdmetrics.reports")
    real = adult.sample(5000, random_state=0).reset_index(drop=True)
    synthetic = adult.drop(index=real.index).sample(5000, random_state=1).reset_index(drop=True)
    rng = np.random.default_rng(0)
    for column in ["age", "hours-per-week", "fnlwgt"]:
        synthetic[column] = (synthetic[column] * rng.normal(1.0, 0.15, len(synthetic))).round().astype("int64")
    for column in ["occupation", "relationship", "workclass"]:
        replace = rng.random(len(synthetic)) < 0.3
        synthetic.loc[replace, column] = rng.permutation(synthetic[column].to_numpy())[: replace.sum()]
    from perpetuum.evaluate.encoding import is_numeric

    metadata = {
        "columns": {c: {"sdtype": "numerical" if is_numeric(real[c]) else "categorical"} for c in real.columns}
    }
    report = reports.QualityReport()
    report.generate({"adult": real}, {"adult": synthetic}, {"tables": {"adult": metadata}}, verbose=False)
    theirs = report.get_properties().set_index("Property")["Score"]
    assert column_shapes(real, synthetic)["score"] == pytest.approx(theirs["Column Shapes"], abs=0.005)
    assert column_pair_trends(real, synthetic)["score"] == pytest.approx(theirs["Column Pair Trends"], abs=0.005)
