"""The shipped UCI Adult table loads from inside the package, with its attribution."""

from importlib import resources

from perpetuum.datasets import ATTRIBUTION, load_adult

ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation", "relationship",
    "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country", "income",
]


def test_adult_loads_all_32561_rows_and_15_columns():
    adult = load_adult()
    assert adult.shape == (32_561, 15)
    assert list(adult.columns) == ADULT_COLUMNS


def test_adult_target_has_the_two_income_classes_in_their_real_shares():
    counts = load_adult()["income"].value_counts()
    assert counts.to_dict() == {"<=50K": 24_720, ">50K": 7_841}


def test_adult_unknown_values_are_missing_not_question_marks():
    adult = load_adult()
    assert adult["workclass"].isna().sum() == 1_836
    assert not (adult.select_dtypes(exclude="number") == "?").any().any()


def test_adult_numeric_columns_load_as_integers():
    adult = load_adult()
    assert all(adult[column].dtype.kind == "i" for column in ["age", "fnlwgt", "capital-gain", "hours-per-week"])


def test_attribution_names_the_source_authors_and_licence():
    for fact in ["UCI", "Becker", "Kohavi", "1996", "CC BY 4.0"]:
        assert fact in ATTRIBUTION


def test_source_note_ships_inside_the_package():
    note = resources.files("perpetuum.datasets").joinpath("ADULT_SOURCE.txt").read_text(encoding="utf-8")
    assert "CC BY 4.0" in note and "Changes made" in note
