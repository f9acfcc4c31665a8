"""The synthesizer contract, checked for every registered synthesizer on real data (the shipped UCI Adult)."""

import numpy as np
import pandas as pd
import pytest

from perpetuum.datasets import load_adult
from perpetuum.errors import ConditionError, DataInputError, ModelFileError, NotFittedError, ParameterError
from perpetuum.evaluate import column_pair_trends, column_shapes
from perpetuum.schema import infer_schema
from perpetuum.tabular import Between, get_synthesizer, load_synthesizer

SYNTHESIZERS = ["copula", "arf"]


@pytest.fixture(scope="module")
def adult():
    return load_adult().sample(4000, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="module", params=SYNTHESIZERS)
def fitted(request, adult):
    return get_synthesizer(request.param)(seed=0).fit(adult)


def test_sample_keeps_columns_dtypes_and_row_count(fitted, adult):
    synthetic = fitted.sample(1500)
    assert len(synthetic) == 1500
    assert list(synthetic.columns) == list(adult.columns)
    assert synthetic.dtypes.astype(str).tolist() == adult.dtypes.astype(str).tolist()


def test_sample_keeps_category_sets_and_value_ranges(fitted, adult):
    synthetic = fitted.sample(3000)
    for column in adult.columns:
        if pd.api.types.is_numeric_dtype(adult[column]):
            assert synthetic[column].min() >= adult[column].min()
            assert synthetic[column].max() <= adult[column].max()
        else:
            assert set(synthetic[column].dropna()) <= set(adult[column].dropna())


def test_sample_keeps_missing_value_rates(fitted, adult):
    synthetic = fitted.sample(4000)
    for column in ["workclass", "occupation", "native-country"]:
        assert abs(synthetic[column].isna().mean() - adult[column].isna().mean()) < 0.02


def test_discrete_spike_survives(fitted, adult):
    synthetic = fitted.sample(4000)
    real_zero_share = (adult["capital-gain"] == 0).mean()
    assert abs((synthetic["capital-gain"] == 0).mean() - real_zero_share) < 0.02


def test_same_seed_same_rows(fitted):
    pd.testing.assert_frame_equal(fitted.sample(300, seed=7), fitted.sample(300, seed=7))
    assert not fitted.sample(300, seed=7).equals(fitted.sample(300, seed=8))


def test_fit_is_reproducible(adult):
    first = get_synthesizer("arf")(seed=3).fit(adult).sample(200)
    second = get_synthesizer("arf")(seed=3).fit(adult).sample(200)
    pd.testing.assert_frame_equal(first, second)


def test_derived_column_link_holds_in_every_row(fitted, adult):
    synthetic = fitted.sample(2000)
    real_pairs = set(map(tuple, adult[["education", "education-num"]].drop_duplicates().to_numpy()))
    synthetic_pairs = set(map(tuple, synthetic[["education", "education-num"]].drop_duplicates().to_numpy()))
    assert synthetic_pairs <= real_pairs


def test_fidelity_on_fixed_seed(fitted, adult):
    synthetic = fitted.sample(len(adult))
    assert column_shapes(adult, synthetic)["score"] >= 0.9
    assert column_pair_trends(adult, synthetic)["score"] >= 0.85


def test_quality_default_beats_copula_on_pair_trends(adult):
    scores = {
        name: column_pair_trends(adult, get_synthesizer(name)(seed=0).fit(adult).sample(len(adult)))["score"]
        for name in ("copula", "quality")
    }
    assert scores["quality"] >= 0.95
    assert scores["quality"] > scores["copula"]


# --- conditions ---------------------------------------------------------------------------------------------


def test_condition_gives_exactly_n_matching_rows(fitted):
    rows = fitted.sample(500, conditions={"income": ">50K"})
    assert len(rows) == 500
    assert (rows["income"] == ">50K").all()


def test_condition_on_a_rare_class_needs_no_rejection():
    rng = np.random.default_rng(0)
    n = 8000
    table = pd.DataFrame({"amount": rng.lognormal(3, 1, n), "channel": rng.choice(["web", "shop", "phone"], n)})
    fraud = rng.random(n) < 0.005
    table["amount"] = np.where(fraud, table["amount"] * 20, table["amount"])
    table["fraud"] = np.where(fraud, "yes", "no")
    normal_median = table.loc[~fraud, "amount"].median()
    # the copula's single correlation can only lift amounts a little; the forest keeps the fraud rows' own scale
    for name, lift in [("copula", 1.1), ("arf", 5.0)]:
        model = get_synthesizer(name)(seed=0).fit(table)
        rows = model.sample(20000, conditions={"fraud": "yes"})
        assert len(rows) == 20000 and (rows["fraud"] == "yes").all()
        assert rows["amount"].median() > lift * normal_median


def test_several_conditions_hold_together(fitted):
    rows = fitted.sample(300, conditions={"sex": "Female", "income": ">50K", "age": Between(30, 40)})
    assert (rows["sex"] == "Female").all() and (rows["income"] == ">50K").all()
    assert rows["age"].between(30, 40).all()


def test_condition_values_given_as_text_are_coerced(fitted):
    rows = fitted.sample(100, conditions={"age": "30..35", "education-num": "13"})
    assert rows["age"].between(30, 35).all()
    assert (rows["education-num"] == 13).all()
    assert (rows["education"] == "Bachelors").all()


def test_condition_on_a_derived_column_steers_its_source(fitted):
    rows = fitted.sample(100, conditions={"education": "Masters"})
    assert (rows["education"] == "Masters").all() and (rows["education-num"] == 14).all()


def test_condition_with_a_list_means_any_of(fitted):
    rows = fitted.sample(200, conditions={"race": ["Black", "Asian-Pac-Islander"]})
    assert set(rows["race"]) <= {"Black", "Asian-Pac-Islander"}


def test_condition_on_unknown_column_is_rejected(fitted):
    with pytest.raises(ConditionError, match="unknown column 'salary'"):
        fitted.sample(10, conditions={"salary": "high"})


def test_condition_on_unseen_value_is_rejected(fitted):
    with pytest.raises(ConditionError, match="never holds 'Martian'"):
        fitted.sample(10, conditions={"race": "Martian"})


def test_range_outside_training_values_is_rejected(fitted):
    with pytest.raises(ConditionError, match="outside the values seen"):
        fitted.sample(10, conditions={"age": Between(200, 300)})


def test_rebalance_gives_the_asked_shares(fitted):
    rows = fitted.rebalance("income", {">50K": 0.5, "<=50K": 0.5}, n=1001)
    assert len(rows) == 1001
    assert rows["income"].value_counts().to_dict() == {">50K": 501, "<=50K": 500} or rows[
        "income"
    ].value_counts().to_dict() == {">50K": 500, "<=50K": 501}


@pytest.mark.parametrize("bad", [0, -5, 2.5, True])
def test_non_positive_or_fractional_n_is_rejected(fitted, bad):
    with pytest.raises(ParameterError, match="positive integer"):
        fitted.sample(bad)


# --- save / load --------------------------------------------------------------------------------------------


def test_save_and_load_reproduce_the_model(fitted, tmp_path):
    fitted.save(tmp_path / "model")
    loaded = load_synthesizer(tmp_path / "model")
    assert type(loaded) is type(fitted)
    pd.testing.assert_frame_equal(loaded.sample(200, seed=1), fitted.sample(200, seed=1))
    assert sorted(path.name for path in (tmp_path / "model").iterdir()) == ["arrays.npz", "model.json"]


def test_the_class_method_load_restores_its_own_kind_and_refuses_another(fitted, tmp_path):
    from perpetuum.tabular import Synthesizer

    fitted.save(tmp_path / "model")
    assert type(Synthesizer.load(tmp_path / "model")) is type(fitted)
    assert type(type(fitted).load(tmp_path / "model")) is type(fitted)
    other = next(get_synthesizer(name) for name in ("copula", "arf") if get_synthesizer(name) is not type(fitted))
    with pytest.raises(ModelFileError, match="load_synthesizer"):
        other.load(tmp_path / "model")


def test_model_files_hold_no_pickles(fitted, tmp_path):
    fitted.save(tmp_path / "model")
    with np.load(tmp_path / "model" / "arrays.npz", allow_pickle=False) as arrays:
        assert all(arrays[name].dtype != object for name in arrays.files)


def test_loading_a_folder_that_is_not_a_model_fails_clearly(tmp_path):
    with pytest.raises(ModelFileError, match="model.json is missing"):
        load_synthesizer(tmp_path)


# --- awkward tables -----------------------------------------------------------------------------------------


def test_sampling_before_fit_fails_clearly():
    with pytest.raises(NotFittedError, match="call fit"):
        get_synthesizer("arf")().sample(5)


def test_single_row_table_is_rejected_with_a_reason():
    with pytest.raises(DataInputError, match="1 row"):
        get_synthesizer("arf")().fit(pd.DataFrame({"a": [1]}))


def test_unknown_synthesizer_name_lists_the_choices():
    with pytest.raises(ParameterError, match="copula"):
        get_synthesizer("gan9000")


@pytest.mark.parametrize("name", SYNTHESIZERS)
def test_all_null_and_constant_columns_are_kept_as_they_are(name):
    rng = np.random.default_rng(1)
    table = pd.DataFrame(
        {"x": rng.normal(size=300), "empty": [None] * 300, "constant": ["same"] * 300, "k": rng.integers(0, 5, 300)}
    )
    synthetic = get_synthesizer(name)(seed=0).fit(table).sample(100)
    assert synthetic["empty"].isna().all()
    assert (synthetic["constant"] == "same").all()


@pytest.mark.parametrize("name", SYNTHESIZERS)
def test_identifiers_are_fresh_and_unique_and_text_is_not_copied(name):
    rng = np.random.default_rng(2)
    words = ["the", "parcel", "arrived", "late", "and", "damaged", "quickly", "customer", "was", "happy"]
    table = pd.DataFrame(
        {
            "customer_id": np.arange(1000, 1400),
            "code": [f"C-{i:05d}" for i in rng.permutation(400)],
            "review": [" ".join(rng.choice(words, 8)) for _ in range(400)],
            "score": rng.integers(1, 6, 400),
        }
    )
    synthetic = get_synthesizer(name)(seed=0).fit(table).sample(400)
    assert synthetic["customer_id"].is_unique and synthetic["customer_id"].min() > table["customer_id"].max()
    assert synthetic["code"].is_unique and synthetic["code"].str.fullmatch(r"C-\d{5}").all()
    assert set(" ".join(synthetic["review"]).split()) <= set(words)


@pytest.mark.parametrize("name", SYNTHESIZERS)
def test_datetimes_keep_their_type_format_and_range(name):
    rng = np.random.default_rng(3)
    days = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 700, 500), unit="D")
    table = pd.DataFrame({"native": days, "as_text": days.strftime("%d/%m/%Y"), "value": rng.normal(size=500)})
    synthetic = get_synthesizer(name)(seed=0).fit(table).sample(300)
    assert str(synthetic["native"].dtype).startswith("datetime64")
    assert synthetic["native"].between(days.min(), days.max()).all()
    parsed = pd.to_datetime(synthetic["as_text"], format="%d/%m/%Y")
    assert parsed.between(days.min(), days.max()).all()


def test_schema_override_changes_how_a_column_is_learned(adult):
    schema = infer_schema(adult).set_kind("education-num", "categorical")
    model = get_synthesizer("copula")(seed=0).fit(adult, schema=schema)
    assert model.schema_["education-num"].kind.value == "categorical"
    assert model.sample(50)["education-num"].isin(adult["education-num"].unique()).all()


def test_a_damaged_model_file_fails_clearly(fitted, tmp_path):
    import json

    fitted.save(tmp_path / "model")
    document = json.loads((tmp_path / "model" / "model.json").read_text())
    del document["encoder"]["derived"]
    (tmp_path / "model" / "model.json").write_text(json.dumps(document))
    with pytest.raises(ModelFileError, match="damaged"):
        load_synthesizer(tmp_path / "model")
