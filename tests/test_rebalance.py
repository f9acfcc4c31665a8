"""Rare classes topped up with synthetic rows: `oversample`, `Rebalancer`, `perpetuum.workflow.rebalance` and
`perpetuum rebalance`, on small tables made here."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from perpetuum.cli import app
from perpetuum.errors import DataInputError, ParameterError
from perpetuum.tabular import MIN_CLASS_ROWS, Rebalancer, oversample
from perpetuum.tabular.oversample import parse_ratio, planned_counts
from perpetuum.workflow import rebalance

runner = CliRunner()


def rare_table(common: int = 400, rare: int = 25, seed: int = 0) -> pd.DataFrame:
    """A fraud-like table: the rare class lives in its own corner (high amount, night hours, one channel)."""
    rng = np.random.default_rng(seed)
    normal = pd.DataFrame({
        "amount": rng.lognormal(3.0, 0.5, common).round(2),
        "hour": rng.integers(8, 20, common),
        "channel": rng.choice(["web", "shop", "phone"], common, p=[0.5, 0.4, 0.1]),
        "fraud": 0,
    })
    fraud = pd.DataFrame({
        "amount": rng.lognormal(6.0, 0.3, rare).round(2),
        "hour": rng.integers(0, 5, rare),
        "channel": rng.choice(["web", "phone"], rare, p=[0.3, 0.7]),
        "fraud": 1,
    })
    return pd.concat([normal, fraud], ignore_index=True).sample(frac=1.0, random_state=seed).reset_index(drop=True)


@pytest.mark.parametrize("text, value", [("1:1", 1.0), ("1:4", 0.25), (" 2 : 8 ", 0.25), ("0.5", 0.5), (0.1, 0.1),
                                         (1, 1.0)])
def test_ratios_are_read_as_rare_rows_per_common_row(text, value):
    assert parse_ratio(text) == pytest.approx(value)


@pytest.mark.parametrize("bad", ["3:1", "0:1", "1:0", "fifty-fifty", "", -0.5, 0, 2.0, True, None])
def test_ratios_outside_zero_to_one_are_refused_with_the_spelling(bad):
    with pytest.raises(ParameterError, match="RARE:COMMON"):
        parse_ratio(bad)


def test_plan_tops_every_rarer_class_up_to_the_ratio():
    labels = pd.Series(["a"] * 100 + ["b"] * 30 + ["c"] * 60, name="y")
    plan = {count.value: (count.real, count.synthetic) for count in planned_counts(labels, "1:2")}
    assert plan == {"a": (100, 0), "b": (30, 20), "c": (60, 0)}


@pytest.mark.parametrize("fit_on", ["class", "table"])
def test_oversample_keeps_every_real_row_and_adds_rare_rows_up_to_the_ratio(fit_on):
    frame = rare_table()
    combined, synthetic, counts = oversample(frame, "fraud", "1:1", fit_on=fit_on, seed=3)
    pd.testing.assert_frame_equal(combined.iloc[: len(frame)], frame)
    pd.testing.assert_frame_equal(combined.iloc[len(frame):].reset_index(drop=True), synthetic)
    assert len(synthetic) == 400 - 25
    assert (synthetic["fraud"] == 1).all()
    assert combined["fraud"].value_counts().to_dict() == {0: 400, 1: 400}
    assert list(synthetic.dtypes) == list(frame.dtypes)
    assert {count.value: count.synthetic for count in counts} == {0: 0, 1: 375}


def test_new_rare_rows_look_like_the_rare_class_not_the_common_one():
    frame = rare_table()
    _, synthetic, _ = oversample(frame, "fraud", "1:1", seed=0)
    fraud = frame[frame["fraud"] == 1]
    # learned from the rare rows: amounts and hours of the rare class, its channels only
    assert synthetic["amount"].median() > 10 * frame.loc[frame["fraud"] == 0, "amount"].median()
    assert synthetic["hour"].max() <= fraud["hour"].max()
    assert set(synthetic["channel"]) <= set(fraud["channel"])


def test_same_seed_same_rows_and_another_seed_other_rows():
    frame = rare_table()
    first = oversample(frame, "fraud", "1:4", seed=1)[1]
    pd.testing.assert_frame_equal(first, oversample(frame, "fraud", "1:4", seed=1)[1])
    assert not first.equals(oversample(frame, "fraud", "1:4", seed=2)[1])


def test_fast_model_and_cleaning_give_the_same_counts():
    frame = rare_table()
    for options in ({"model": "fast"}, {"clean": True}):
        combined, synthetic, _ = oversample(frame, "fraud", "1:2", seed=0, **options)
        assert combined["fraud"].value_counts().to_dict() == {0: 400, 1: 200}


def test_a_class_with_too_few_rows_is_refused_naming_the_class_its_count_and_the_minimum():
    frame = rare_table(rare=MIN_CLASS_ROWS - 3)
    with pytest.raises(DataInputError) as caught:
        oversample(frame, "fraud", "1:1")
    message = str(caught.value)
    assert "class 1 of 'fraud' has 7 row(s)" in message
    assert f"At least {MIN_CLASS_ROWS} real rows" in message


def test_a_balanced_table_is_returned_as_it_is():
    frame = pd.DataFrame({"x": range(20), "y": [0, 1] * 10})
    combined, synthetic, counts = oversample(frame, "y", "1:1")
    assert synthetic.empty and len(combined) == 20 and all(count.synthetic == 0 for count in counts)


@pytest.mark.parametrize("problem, match", [
    ({"target": "nope"}, "not in the table"),
    ({"fit_on": "everything"}, "fit_on must be one of"),
])
def test_wrong_target_or_fit_on_is_named(problem, match):
    arguments = {"target": "fraud", "fit_on": "class", **problem}
    with pytest.raises((DataInputError, ParameterError), match=match):
        oversample(rare_table(), arguments["target"], fit_on=arguments["fit_on"])


def test_one_class_only_is_refused():
    with pytest.raises(DataInputError, match="at least two"):
        oversample(pd.DataFrame({"x": range(20), "y": 1}), "y")


def test_rebalancer_follows_the_imbalanced_learn_interface():
    frame = rare_table()
    features, labels = frame.drop(columns=["fraud"]), frame["fraud"].to_numpy()
    resampled, new_labels = Rebalancer(ratio="1:1", seed=0).fit_resample(features, labels)
    assert list(resampled.columns) == list(features.columns)
    assert len(resampled) == len(new_labels) == 800 and new_labels.sum() == 400
    numbers = frame[["amount", "hour"]].to_numpy()
    as_array, array_labels = Rebalancer(ratio=0.5).fit_resample(numbers, labels)
    assert isinstance(as_array, np.ndarray) and as_array.shape == (600, 2) and array_labels.sum() == 200
    assert Rebalancer().set_params(ratio="1:3").get_params()["ratio"] == "1:3"
    with pytest.raises(ParameterError, match="no parameter"):
        Rebalancer().set_params(k_neighbors=5)


def test_workflow_writes_the_table_and_a_card_with_the_counts(tmp_path):
    source = tmp_path / "transactions.csv"
    rare_table().to_csv(source, index=False)
    run = rebalance(source, "fraud", tmp_path / "out" / "balanced.parquet", ratio="1:2")
    written = pd.read_parquet(tmp_path / "out" / "balanced.parquet")
    assert written["fraud"].value_counts().to_dict() == {0: 400, 1: 200}
    card = json.loads((tmp_path / "out" / "balanced.card.json").read_text())
    assert card["rebalance"]["synthetic_rows"] == 175 and card["rebalance"]["real_rows"] == 425
    assert card["lineage"]["conditions"] == {"fraud": [1]}
    assert run.files["output"].endswith("balanced.parquet")
    in_memory = rebalance(rare_table(), "fraud", ratio="1:2")
    assert in_memory.files == {} and len(in_memory.table) == 600


def test_command_prints_each_class_and_writes_the_output(tmp_path):
    source = tmp_path / "transactions.csv"
    rare_table().to_csv(source, index=False)
    output = tmp_path / "balanced.csv"
    result = runner.invoke(app, ["rebalance", str(source), "--target", "fraud", "--ratio", "1:1", "-o", str(output)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "fraud = 1: 25 real + 375 synthetic = 400 rows" in text
    assert pd.read_csv(output)["fraud"].value_counts().to_dict() == {0: 400, 1: 400}


def test_command_explains_too_few_rows_without_a_traceback(tmp_path):
    source = tmp_path / "few.csv"
    rare_table(rare=4).to_csv(source, index=False)
    result = runner.invoke(app, ["rebalance", str(source), "--target", "fraud", "-o", str(tmp_path / "o.csv")])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "class 1 of 'fraud' has 4 row(s)" in text and "Traceback" not in text


def test_command_options_reach_the_library(tmp_path):
    source = tmp_path / "transactions.csv"
    rare_table().to_csv(source, index=False)
    output = tmp_path / "b.jsonl"
    result = runner.invoke(app, ["rebalance", str(source), "--target", "fraud", "--ratio", "1:4", "--fit-on", "table",
                                 "--no-clean", "--model", "fast", "--seed", "3", "-q", "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert result.output == ""
    card = json.loads((tmp_path / "b.card.json").read_text())
    assert card["rebalance"]["fit_on"] == "table" and card["rebalance"]["clean"] is False
    assert card["lineage"]["generator"]["synthesizer"] == "fast"
    assert pd.read_json(output, lines=True)["fraud"].value_counts().to_dict() == {0: 400, 1: 100}


# --- ratio="auto": the classifier chooses how many rows help it -------------------------------------------------


def classifier_pipeline(model=None):
    """A classifier that takes rare_table's feature columns as they are (the channel one-hot encoded)."""
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    encode = make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["channel"]),
                                     (StandardScaler(), ["amount", "hour"]))
    return make_pipeline(encode, model if model is not None else LogisticRegression(max_iter=1000))


def test_choose_ratio_scores_every_candidate_on_held_out_real_rows_and_takes_the_best():
    from perpetuum.tabular import choose_ratio

    frame = rare_table(common=300, rare=40)
    choice = choose_ratio(frame, "fraud", classifier_pipeline(), ["1:1", 0, "1:4"], cv=3, seed=1)
    assert sorted(choice.scores) == [0.0, 0.25, 1.0]
    assert all(len(scores) == 3 for scores in choice.fold_scores.values())
    assert all(0.0 <= score <= 1.0 for score in choice.scores.values())
    assert choice.scores[choice.ratio] == max(choice.scores.values())
    assert choice == choose_ratio(frame, "fraud", classifier_pipeline(), ["1:1", 0, "1:4"], cv=3, seed=1)


def test_a_classifier_that_rows_cannot_help_gets_no_rows():
    from sklearn.dummy import DummyClassifier

    frame = rare_table(common=300, rare=40)
    rebalancer = Rebalancer(ratio="auto", estimator=classifier_pipeline(DummyClassifier(strategy="prior")))
    features = frame.drop(columns=["fraud"])
    x, y = rebalancer.fit_resample(features, frame["fraud"])
    # every ratio scores the same (the prior), and a tie goes to the smaller ratio: nothing added
    assert len(set(rebalancer.ratio_choice_.scores.values())) == 1
    assert rebalancer.ratio_choice_.ratio == 0.0
    assert x is features and len(y) == len(frame)
    assert [(count.real, count.synthetic) for count in rebalancer.counts_] == [(300, 0), (40, 0)]


def test_auto_adds_the_rows_of_the_chosen_ratio():
    frame = rare_table(common=300, rare=40)
    rebalancer = Rebalancer(ratio="auto", estimator=classifier_pipeline(), candidates=["1:4", "1:1"], seed=2)
    x, y = rebalancer.fit_resample(frame.drop(columns=["fraud"]), frame["fraud"])
    wanted = int(np.ceil(rebalancer.ratio_choice_.ratio * 300))
    assert int((y == 1).sum()) == wanted and len(x) == 300 + wanted


def test_auto_without_a_classifier_or_with_too_few_rows_is_explained():
    frame = rare_table(common=300, rare=40)
    with pytest.raises(ParameterError, match="needs the classifier"):
        Rebalancer(ratio="auto").fit_resample(frame.drop(columns=["fraud"]), frame["fraud"])
    small = rare_table(common=300, rare=12)
    with pytest.raises(DataInputError, match="3-fold cross-validation: class 1 has 12 row"):
        Rebalancer(ratio="auto", estimator=classifier_pipeline()).fit_resample(small.drop(columns=["fraud"]),
                                                                               small["fraud"])
    with pytest.raises(ParameterError, match="at least two different ratios"):
        Rebalancer(ratio="auto", estimator=classifier_pipeline(), candidates=["1:1"]).fit_resample(
            frame.drop(columns=["fraud"]), frame["fraud"])


def test_command_with_ratio_auto_prints_every_candidate_and_records_the_choice_on_the_card(tmp_path):
    source, output = tmp_path / "transactions.csv", tmp_path / "balanced.csv"
    frame = rare_table(common=300, rare=40)
    frame["when"] = pd.date_range("2024-01-01", periods=len(frame), freq="h")
    frame.to_csv(source, index=False)
    result = runner.invoke(app, ["rebalance", str(source), "--target", "fraud", "--ratio", "auto", "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert "--ratio auto (gradient-boosting classifier" in result.output and "none " in result.output
    details = json.loads((tmp_path / "balanced.card.json").read_text())
    rebalance_details = next(value for key, value in _walk(details) if key == "rebalance")
    assert set(rebalance_details["candidate_scores"]) == {"none", "1:4", "1:1"}
    chosen = rebalance_details["chosen_ratio"]
    written = pd.read_csv(output)
    wanted = {"none": 40, "1:4": 75, "1:1": 300}[chosen]
    assert int((written["fraud"] == 1).sum()) == wanted and int((written["fraud"] == 0).sum()) == 300
    bad = runner.invoke(app, ["rebalance", str(source), "--target", "fraud", "--ratio", "auto", "--probe", "svm",
                              "-o", str(output)])
    assert bad.exit_code != 0 and "--probe must be one of gradient-boosting, logistic" in bad.output


def _walk(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


@pytest.mark.parametrize("kind", ["gradient-boosting", "logistic"])
def test_probe_classifiers_take_the_table_as_it_is_and_leave_identifiers_out(kind):
    from perpetuum.tabular.probe import probe_classifier

    frame = rare_table(common=200, rare=30)
    frame["when"] = pd.date_range("2024-01-01", periods=len(frame), freq="h")
    frame["transaction_id"] = [f"T{index:06d}" for index in range(len(frame))]
    frame.loc[3, "channel"], frame.loc[5, "amount"] = None, np.nan
    features = frame.drop(columns=["fraud"])
    model = probe_classifier(kind, features).fit(features, frame["fraud"])
    used = [name for label, _, names in model[0].transformers_ if label != "remainder" for name in names]
    assert sorted(used) == ["amount", "channel", "hour", "when"]
    assert model.predict_proba(features).shape == (len(frame), 2)
    with pytest.raises(DataInputError, match="no column a classifier could learn from"):
        probe_classifier(kind, frame[["transaction_id"]])
