"""The end-to-end demo, on a 3,000-row stratified slice of Adult so it stays quick."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from perpetuum.cli import app
from perpetuum.demo import run_demo
from perpetuum.errors import ParameterError

UNIT_SCORES = ["fidelity", "utility", "privacy", "column_shapes", "column_pair_trends", "tstr_auc", "trtr_auc", "dcr_share", "detection"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, dict]:
    output = tmp_path_factory.mktemp("demo") / "perpetuum-demo"
    return output, run_demo(output, rows=3_000, verbose=False)


def test_demo_writes_the_synthetic_table_model_and_the_reports(demo):
    output, _ = demo
    for name in ["synthetic.csv", "demo_report.json", "demo_report.md", "report.html", "report.json"]:
        assert (output / name).is_file(), name
    assert (output / "model").is_dir() and any((output / "model").iterdir())


def test_demo_samples_as_many_rows_as_it_trained_on_with_the_same_columns(demo):
    output, report = demo
    synthetic = pd.read_csv(output / "synthetic.csv")
    assert report["data"]["rows_used"] == 3_000
    assert report["data"]["train_rows"] == 2_400 and report["data"]["holdout_rows"] == 600
    assert len(synthetic) == report["data"]["train_rows"]
    assert "income" in synthetic.columns and synthetic.shape[1] == 15


def test_demo_scores_are_numbers_in_their_ranges(demo):
    _, report = demo
    scores = report["scores"]
    for key in UNIT_SCORES:
        assert scores[key] is not None and 0.0 <= scores[key] <= 1.0, (key, scores[key])
    assert 0 <= scores["copies_of_unique_rows"] <= scores["exact_copies"]


def test_demo_scores_show_a_useful_synthesizer(demo):
    _, report = demo
    scores = report["scores"]
    # Loose floors for 2,400 training rows: far below the full-data targets, far above a broken model.
    assert scores["column_shapes"] > 0.85
    assert scores["tstr_auc"] > 0.75
    assert scores["trtr_auc"] > 0.8


def test_demo_conditional_sampling_and_rebalancing_do_what_was_asked(demo):
    _, report = demo
    assert report["conditional_sampling"]["rows_returned"] == 1_000
    assert report["scores"]["conditional_match"] == 1.0
    assert report["rebalance"]["rows_returned"] == 2_000
    assert math.isclose(report["scores"]["rebalanced_share"], 0.5, abs_tol=0.01)


def test_demo_reloaded_model_gives_the_same_rows(demo):
    _, report = demo
    assert report["scores"]["save_load_identical"] is True


def test_demo_json_report_matches_the_returned_dict(demo):
    output, report = demo
    assert json.loads((output / "demo_report.json").read_text()) == report
    assert set(report["timings_seconds"]) >= {"fit", "sample", "total"}


def test_demo_markdown_report_explains_each_score_and_credits_the_data(demo):
    output, report = demo
    markdown = (output / "demo_report.md").read_text()
    for meaning in report["meanings"].values():
        assert meaning in markdown
    assert "CC BY 4.0" in markdown


def test_demo_evaluation_report_has_privacy_from_the_holdout_and_says_how_many_attacks(demo):
    output, report = demo
    numbers = json.loads((output / "report.json").read_text())
    assert numbers["data"]["rows"] == {"real": 2_400, "synthetic": 2_400, "holdout": 600}
    assert numbers["results"]["privacy"]["anonymeter"]["n_attacks"] == 200
    assert numbers["headline"]["privacy"]["score"] == report["scores"]["privacy"]
    html = (output / "report.html").read_text(encoding="utf-8")
    assert "200 attacks of each kind" in " ".join(html.split())


def test_demo_rejects_a_row_count_too_small_to_split(tmp_path):
    with pytest.raises(ParameterError):
        run_demo(tmp_path, rows=10, verbose=False)


def test_demo_command_prints_the_scores_and_the_report_path(tmp_path):
    output = tmp_path / "cli-demo"
    result = CliRunner().invoke(app, ["demo", "-o", str(output), "--rows", "600", "--model", "copula"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Column shapes" in text and "DCR share" in text
    assert "demo_report.md" in text and "report.html" in text
    assert (output / "demo_report.md").is_file() and (output / "report.html").is_file()
