"""Coverage metrics: missing-value rates, category coverage and range adherence on tables with known answers."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from perpetuum.errors import DataInputError
from perpetuum.evaluate.coverage import category_coverage, missing_value_similarity, range_adherence
from perpetuum.evaluate.fidelity import column_shapes


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


def test_identical_tables_score_one_on_every_coverage_metric():
    table = mixed_table()
    table.loc[::7, "amount"] = np.nan
    assert missing_value_similarity(table, table.copy())["score"] == 1.0
    assert category_coverage(table, table.copy())["score"] == 1.0
    assert range_adherence(table, table.copy())["score"] == 1.0


def test_missing_value_similarity_compares_missing_rates_per_column():
    real = pd.DataFrame({"value": [np.nan] * 10 + [1.0] * 90, "label": ["a"] * 100})
    synthetic = pd.DataFrame({"value": [np.nan] * 30 + [1.0] * 70, "label": ["a"] * 100})
    result = missing_value_similarity(real, synthetic)
    assert result["per_column"] == {"value": pytest.approx(0.8), "label": 1.0}
    assert result["real_rate"]["value"] == pytest.approx(0.1)
    assert result["synthetic_rate"]["value"] == pytest.approx(0.3)
    assert result["score"] == pytest.approx(0.9)


def test_dropped_categories_are_listed_with_their_real_share():
    real = pd.DataFrame({"city": ["Oslo"] * 50 + ["Bergen"] * 30 + ["Tromsø"] * 15 + ["Bodø"] * 5})
    synthetic = pd.DataFrame({"city": ["Oslo"] * 60 + ["Bergen"] * 40})
    entry = category_coverage(real, synthetic)["per_column"]["city"]
    assert entry["coverage"] == pytest.approx(0.5)  # two of four categories
    assert entry["weighted_coverage"] == pytest.approx(0.8)  # they hold 80 % of the real rows
    assert entry["n_absent"] == 2
    assert entry["absent"] == [
        {"category": "Tromsø", "real_share": pytest.approx(0.15)},
        {"category": "Bodø", "real_share": pytest.approx(0.05)},
    ]


def test_the_list_of_absent_categories_is_capped_at_twenty():
    real = pd.DataFrame({"code": [f"c{index}" for index in range(40)] * 3})
    synthetic = pd.DataFrame({"code": ["c0", "c1"] * 10})
    entry = category_coverage(real, synthetic)["per_column"]["code"]
    assert entry["n_absent"] == 38 and len(entry["absent"]) == 20


def test_category_coverage_ignores_numbers_and_missing_values_and_treats_booleans_as_categories():
    real = pd.DataFrame({"value": np.arange(10.0), "flag": [True, False] * 5, "label": ["a", None] * 5})
    synthetic = pd.DataFrame({"value": np.zeros(10), "flag": [True] * 10, "label": ["a"] * 10})
    result = category_coverage(real, synthetic)
    assert set(result["per_column"]) == {"flag", "label"}
    assert result["per_column"]["flag"]["absent"] == [{"category": False, "real_share": 0.5}]
    assert result["per_column"]["label"]["coverage"] == 1.0


def test_identifier_like_columns_are_reported_but_left_out_of_the_coverage_score():
    real = pd.DataFrame({"id": [f"r{index}" for index in range(200)], "kind": ["a", "b"] * 100})
    synthetic = pd.DataFrame({"id": [f"s{index}" for index in range(200)], "kind": ["a", "b"] * 100})
    result = category_coverage(real, synthetic)
    assert result["per_column"]["id"]["identifier_like"] and result["per_column"]["id"]["coverage"] == 0.0
    assert result["score"] == 1.0


def test_range_adherence_counts_values_outside_the_real_range_or_vocabulary():
    real = pd.DataFrame(
        {
            "value": [0.0, 10.0, 5.0, 5.0],
            "label": ["a", "b", "a", "b"],
            "day": pd.to_datetime(["2020-01-01", "2020-12-31", "2020-06-01", "2020-07-01"]),
        }
    )
    synthetic = pd.DataFrame(
        {
            "value": [-1.0, 0.0, 10.0, np.nan],  # one of three present values outside
            "label": ["a", "z", "z", "b"],  # two of four unseen
            "day": pd.to_datetime(["2019-12-31", "2020-03-01", "2020-04-01", "2020-05-01"]),
        }
    )
    result = range_adherence(real, synthetic)
    assert result["per_column"] == {
        "value": pytest.approx(2 / 3),
        "label": pytest.approx(0.5),
        "day": pytest.approx(0.75),
    }


def test_mismatched_columns_and_an_empty_synthetic_table_are_clear_errors():
    table = mixed_table()
    for metric in (missing_value_similarity, category_coverage, range_adherence):
        with pytest.raises(DataInputError, match="colour"):
            metric(table, table.drop(columns="colour"))
        with pytest.raises(DataInputError, match="no rows"):
            metric(table, table.iloc[:0])


def test_column_shapes_on_small_tables_raise_no_scipy_warning():
    real = pd.DataFrame({"value": np.random.default_rng(0).normal(size=37)})
    synthetic = pd.DataFrame({"value": np.random.default_rng(1).normal(3.0, 1.0, size=23)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert column_shapes(real, synthetic)["score"] < 0.5
