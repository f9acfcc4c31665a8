"""`infer_schema`: each inference rule, the facts recorded per column, the Adult data set, and the schema's
JSON round trip, `set_kind` and terminal rendering."""

from __future__ import annotations

import time
import uuid
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from perpetuum.errors import DataInputError
from perpetuum.schema import ColumnKind, TableSchema, describe_schema, infer_schema, read_table

ADULT = Path("/work/shared/datasets/adult/adult.csv")


def kind_of(values, name: str = "column") -> ColumnKind:
    return infer_schema(pd.DataFrame({name: values}))[name].kind


def spec_of(values, name: str = "column"):
    return infer_schema(pd.DataFrame({name: values}))[name]


# ---------------------------------------------------------------- Adult


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    if not ADULT.exists():
        pytest.skip(f"{ADULT} is not available")
    return read_table(ADULT)


def test_adult_kinds(adult):
    schema = infer_schema(adult)
    expected = {
        "age": ColumnKind.INTEGER,
        "workclass": ColumnKind.CATEGORICAL,
        "fnlwgt": ColumnKind.INTEGER,
        "education": ColumnKind.CATEGORICAL,
        "education-num": ColumnKind.INTEGER,
        "marital-status": ColumnKind.CATEGORICAL,
        "capital-gain": ColumnKind.INTEGER,
        "capital-loss": ColumnKind.INTEGER,
        "hours-per-week": ColumnKind.INTEGER,
        "native-country": ColumnKind.CATEGORICAL,
        "sex": ColumnKind.CATEGORICAL,
        "income": ColumnKind.CATEGORICAL,
    }
    assert {name: schema[name].kind for name in expected} == expected


def test_adult_native_country_is_not_high_cardinality(adult):
    spec = infer_schema(adult)["native-country"]
    assert spec.n_unique == 41
    assert not spec.high_cardinality
    assert 0 < spec.missing_rate < 0.05


def test_adult_inference_is_fast_and_silent(adult):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        infer_schema(adult)
    assert time.perf_counter() - start < 2.0


# ---------------------------------------------------------------- facts recorded


def test_every_column_gets_dtype_missing_rate_and_unique_count():
    frame = pd.DataFrame({"x": [1.5, None, 1.5, 2.5], "y": ["a", "b", None, None]})
    schema = infer_schema(frame)
    assert schema.names == ["x", "y"]
    assert (schema["x"].dtype, schema["x"].missing_rate, schema["x"].n_unique) == ("float64", 0.25, 2)
    assert (schema["y"].missing_rate, schema["y"].n_unique) == (0.5, 2)


def test_duplicate_column_names_are_refused():
    frame = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(DataInputError, match="duplicate column names: a"):
        infer_schema(frame)


def test_non_text_column_names_are_refused():
    with pytest.raises(DataInputError, match="column names must be text"):
        infer_schema(pd.DataFrame({0: [1, 2]}))


# ---------------------------------------------------------------- boolean


def test_bool_dtype_is_boolean():
    assert kind_of([True, False, True]) == ColumnKind.BOOLEAN


@pytest.mark.parametrize(
    "values",
    [["yes", "no", "yes"], ["True", "false", "TRUE"], ["t", "f", "t"], ["Y", "n", "y"], ["1", "0", "1"]],
)
def test_two_boolean_words_are_boolean(values):
    assert kind_of(values + [None]) == ColumnKind.BOOLEAN


def test_numeric_zero_one_stays_integer():
    assert kind_of([0, 1, 1, 0]) == ColumnKind.INTEGER


def test_words_from_different_boolean_pairs_are_categorical():
    assert kind_of(["yes", "false", "yes"]) == ColumnKind.CATEGORICAL


def test_two_arbitrary_labels_are_categorical():
    assert kind_of(["Male", "Female", "Male"]) == ColumnKind.CATEGORICAL


# ---------------------------------------------------------------- datetime


def test_datetime_dtype_is_datetime_without_format():
    spec = spec_of(pd.to_datetime(["2021-01-01", "2021-06-30", None]))
    assert (spec.kind, spec.datetime_format) == (ColumnKind.DATETIME, None)


@pytest.mark.parametrize(
    ("values", "expected_format"),
    [
        (["2021-01-31", "2021-02-01"], "%Y-%m-%d"),
        (["2021-01-31T10:20:30", "2021-02-01T00:00:00"], "%Y-%m-%dT%H:%M:%S"),
        (["2021-01-31 10:20", "2021-02-01 00:00"], "%Y-%m-%d %H:%M"),
        (["2021/01/31", "2021/02/01"], "%Y/%m/%d"),
        (["31.01.2021", "01.02.2021"], "%d.%m.%Y"),
        (["20210131", "20210201"], "%Y%m%d"),
    ],
)
def test_text_dates_get_their_format(values, expected_format):
    spec = spec_of(values + [None])
    assert (spec.kind, spec.datetime_format) == (ColumnKind.DATETIME, expected_format)


def test_day_first_dates_are_recognised_by_a_day_above_twelve():
    assert spec_of(["01/02/2021", "25/12/2021"]).datetime_format == "%d/%m/%Y"


def test_month_first_dates_are_recognised_by_a_day_above_twelve():
    assert spec_of(["01/02/2021", "12/25/2021"]).datetime_format == "%m/%d/%Y"


def test_ambiguous_slash_dates_read_month_first():
    assert spec_of(["01/02/2021", "03/04/2021"]).datetime_format == "%m/%d/%Y"


def test_day_first_is_chosen_when_only_values_outside_the_sample_decide():
    values = ["01/02/2021"] * 4000
    values[1] = "25/12/2021"  # not among the evenly spaced sample positions
    assert spec_of(values).datetime_format == "%d/%m/%Y"


def test_one_unparsable_value_means_not_a_date():
    spec = spec_of(["2021-01-31", "2021-02-01", "soon"])
    assert (spec.kind, spec.datetime_format) == (ColumnKind.CATEGORICAL, None)


def test_integer_years_stay_integer():
    assert kind_of([1999, 2004, 2021]) == ColumnKind.INTEGER


# ---------------------------------------------------------------- identifiers


@pytest.mark.parametrize("name", ["id", "ID", "customer_id", "CustomerID", "order-key", "sku_code", "uuid"])
def test_unique_integers_with_a_key_name_are_identifiers(name):
    values = np.random.default_rng(0).choice(10**6, size=30, replace=False)
    assert kind_of(values, name=name) == ColumnKind.IDENTIFIER


def test_unique_integers_without_a_key_name_are_integers():
    values = np.random.default_rng(0).choice(10**6, size=30, replace=False)
    assert kind_of(values, name="income") == ColumnKind.INTEGER


def test_name_merely_containing_id_is_not_a_key_name():
    values = np.random.default_rng(0).choice(10**6, size=30, replace=False)
    assert kind_of(values, name="valid") == ColumnKind.INTEGER


def test_consecutive_integers_are_identifiers_whatever_their_name():
    assert kind_of(np.random.default_rng(0).permutation(np.arange(100, 130)), name="row") == ColumnKind.IDENTIFIER


def test_fewer_than_twenty_rows_are_never_identifiers():
    assert kind_of(list(range(19)), name="id") == ColumnKind.INTEGER


def test_identifiers_have_no_missing_values():
    assert kind_of([*range(30), None], name="id") == ColumnKind.INTEGER


def test_identifiers_have_no_repeated_values():
    assert kind_of([*range(30), 0], name="id") == ColumnKind.INTEGER


def test_unique_floats_are_continuous_not_identifiers():
    assert kind_of(np.random.default_rng(0).normal(size=50), name="id") == ColumnKind.CONTINUOUS


def test_coded_strings_are_identifiers_with_a_pattern():
    spec = spec_of([f"C-{number:05d}" for number in range(100, 130)])
    assert (spec.kind, spec.identifier_pattern) == (ColumnKind.IDENTIFIER, "A-99999")


def test_letters_and_digits_in_fixed_places_give_the_pattern():
    spec = spec_of([f"{letter}{letter.lower()}{number:03d}" for letter, number in zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", range(26))])
    assert spec.identifier_pattern == "AA999"


def test_uuids_are_identifiers_with_a_pattern():
    spec = spec_of([str(uuid.UUID(int=n * 7919 + 12345678901234567890)) for n in range(40)])
    assert spec.kind == ColumnKind.IDENTIFIER
    assert len(spec.identifier_pattern) == 36
    assert spec.identifier_pattern.count("-") == 4


def test_unique_strings_of_different_lengths_are_not_identifiers():
    assert kind_of([f"item{number}" for number in range(5, 35)]) == ColumnKind.CATEGORICAL


# ---------------------------------------------------------------- text


def test_unique_sentences_are_text():
    sentences = [f"customer number {number} liked the service a lot" for number in range(30)]
    assert kind_of(sentences) == ColumnKind.TEXT


def test_long_single_word_values_are_text_by_length():
    values = [f"https://example.com/some/long/path/to/page/number/{number}" for number in range(30)]
    assert kind_of(values) == ColumnKind.TEXT


def test_repeated_phrases_are_categorical_not_text():
    phrases = ["never worked for pay here", "worked full time for years"] * 20
    assert kind_of(phrases) == ColumnKind.CATEGORICAL


# ---------------------------------------------------------------- numbers and categories


def test_integers_are_integer():
    assert kind_of([3, 1, 4, 1, 5]) == ColumnKind.INTEGER


def test_whole_floats_with_missing_values_are_integer():
    spec = spec_of([3.0, None, 4.0, 1.0])
    assert (spec.kind, spec.dtype) == (ColumnKind.INTEGER, "float64")


def test_fractional_floats_are_continuous():
    assert kind_of([0.5, 1.25, None]) == ColumnKind.CONTINUOUS


def test_numbers_stored_as_python_objects_are_numeric():
    assert kind_of(pd.Series([1, 2, None], dtype=object)) == ColumnKind.INTEGER


def test_labels_are_categorical():
    spec = spec_of(["red", "green", "red", None])
    assert (spec.kind, spec.high_cardinality) == (ColumnKind.CATEGORICAL, False)


def test_more_than_fifty_labels_are_high_cardinality():
    assert spec_of([f"city {number % 51}" for number in range(102)]).high_cardinality


def test_fifty_labels_are_not_high_cardinality():
    assert not spec_of([f"city {number % 50}" for number in range(100)]).high_cardinality


def test_numbers_mixed_with_words_are_categorical_with_a_warning():
    with pytest.warns(UserWarning, match=r"column 'size' mixes numbers \(e\.g\. '12'\) and text \(e\.g\. 'large'\)"):
        assert kind_of(["12", "large", "12", "7"], name="size") == ColumnKind.CATEGORICAL


def test_python_numbers_mixed_with_words_warn_too():
    with pytest.warns(UserWarning, match=r"'size' mixes numbers \(e\.g\. 12\) and text \(e\.g\. 'large'\)"):
        assert kind_of(pd.Series([12, "large", 7], dtype=object), name="size") == ColumnKind.CATEGORICAL


def test_all_null_text_column_is_categorical():
    spec = spec_of(pd.Series([None, None], dtype="str"))
    assert (spec.kind, spec.missing_rate, spec.n_unique) == (ColumnKind.CATEGORICAL, 1.0, 0)


def test_all_null_numeric_column_is_continuous():
    spec = spec_of([np.nan, np.nan])
    assert (spec.kind, spec.missing_rate) == (ColumnKind.CONTINUOUS, 1.0)


def test_empty_frame_does_not_crash():
    schema = infer_schema(pd.DataFrame({"a": pd.Series([], dtype="float64")}))
    assert schema["a"].missing_rate == 0.0


# ---------------------------------------------------------------- saving, correcting, showing


def test_schema_json_round_trip(tmp_path):
    frame = pd.DataFrame({"when": ["2021-01-31", "2021-02-01"], "size": [1.5, 2.0]})
    schema = infer_schema(frame)
    schema.to_json(tmp_path / "schema.json")
    assert TableSchema.from_json(tmp_path / "schema.json") == schema


def test_set_kind_corrects_one_column_and_chains():
    schema = infer_schema(pd.DataFrame({"flag": [0, 1, 1], "n": [1, 2, 3]}))
    assert schema.set_kind("flag", "boolean").set_kind("n", ColumnKind.CATEGORICAL) is schema
    assert (schema["flag"].kind, schema["n"].kind) == (ColumnKind.BOOLEAN, ColumnKind.CATEGORICAL)


def test_describe_schema_shows_one_row_per_column_with_notes():
    frame = pd.DataFrame({"when": ["31.01.2021"] * 3, "code": ["A1", "B2", "C3"], "empty": [None] * 3})
    console = Console(width=200, record=True)
    console.print(describe_schema(infer_schema(frame)))
    text = console.export_text()
    assert "format %d.%m.%Y" in text
    assert "all missing" in text
    assert describe_schema(infer_schema(frame)).row_count == 3
