"""The table workflow as library calls: what `perpetuum synthesize` and `perpetuum sample` do, without the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from perpetuum.datasets import load_adult
from perpetuum.errors import ParameterError
from perpetuum.workflow import report_paths, sample_saved_model, split_holdout, synthesize


@pytest.fixture(scope="module")
def adult_500() -> pd.DataFrame:
    return load_adult().sample(500, random_state=0).reset_index(drop=True)


def test_synthesize_holds_out_fits_samples_and_writes_the_card_and_the_report(adult_500, tmp_path):
    source = tmp_path / "adult.csv"
    adult_500.to_csv(source, index=False)
    run = synthesize(source, 300, tmp_path / "out" / "synthetic.parquet", model="copula", target="income",
                     privacy_attacks=False, seed=3)
    assert len(run.train) == 400 and len(run.holdout) == 100 and len(run.synthetic) == 300
    assert pd.read_parquet(run.files["output"]).shape == (300, adult_500.shape[1])
    assert Path(run.files["report_html"]) == report_paths(tmp_path / "out" / "synthetic.parquet")[0]
    numbers = json.loads(Path(run.files["report_json"]).read_text())
    assert numbers["metadata"]["lineage"]["rows_held_out"] == 100 and numbers["metadata"]["lineage"]["seed"] == 3
    card = json.loads(Path(run.files["card_json"]).read_text())
    assert card["lineage"]["source"]["sha256"] and card["collapse_signals"]["reference_rows"] == 400
    assert run.evaluation.headline["utility"]["score"] is not None


def test_synthesize_takes_a_data_frame_and_conditions_skip_the_report(adult_500, tmp_path):
    run = synthesize(adult_500, 50, tmp_path / "rich.csv", model="copula", conditions={"income": ">50K"})
    assert (run.synthetic["income"] == ">50K").all() and run.evaluation is None
    assert run.no_report_reason == "conditions" and "report_html" not in run.files
    assert run.card["lineage"]["source"]["source"] == "in memory" and len(run.train) == 500


def test_sample_saved_model_writes_rows_and_a_card_against_the_reference(adult_500, tmp_path):
    run = synthesize(adult_500, 10, tmp_path / "first.csv", model="copula", report=False)
    run.synthesizer.save(tmp_path / "model")
    sampled = sample_saved_model(tmp_path / "model", 120, tmp_path / "more.jsonl", reference=adult_500, seed=1,
                                 generation=2)
    assert len(pd.read_json(sampled.files["output"], lines=True)) == 120
    assert sampled.card["lineage"]["generation"] == 2 and sampled.card["collapse_signals"]["computed"]
    assert len(sampled.card["lineage"]["source"]["model_sha256"]) == 64


def test_bad_arguments_fail_before_any_work(adult_500, tmp_path):
    with pytest.raises(ParameterError, match="positive"):
        synthesize(adult_500, 0, tmp_path / "o.csv")
    with pytest.raises(ParameterError, match="extension"):
        synthesize(adult_500, 10, tmp_path / "o.xlsx")
    with pytest.raises(ParameterError, match="'nope' is not a column"):
        synthesize(adult_500, 10, tmp_path / "o.csv", target="nope")
    with pytest.raises(ParameterError, match="holdout-share"):
        split_holdout(adult_500, 1.0, seed=0)
    assert not (tmp_path / "o.csv").exists()


def test_evaluate_files_reads_each_table_and_records_its_lineage(adult_500, tmp_path):
    from perpetuum.workflow import evaluate_files

    paths = {}
    for name, rows in (("real", adult_500[:300]), ("synthetic", adult_500[300:450]), ("holdout", adult_500[450:])):
        paths[name] = tmp_path / f"{name}.csv"
        rows.to_csv(paths[name], index=False)
    evaluation = evaluate_files(paths["real"], paths["synthetic"], paths["holdout"], privacy_attacks=False, seed=2)
    lineage = evaluation.metadata["lineage"]
    assert lineage["real_rows_read"] == 300 and lineage["holdout_rows_read"] == 50 and lineage["seed"] == 2
    assert len(lineage["synthetic_sha256"]) == 64
