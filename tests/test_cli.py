"""The `perpetuum` command, driven as a user would: through typer's runner and as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from perpetuum.cli import app, parse_conditions
from perpetuum.datasets import load_adult
from perpetuum.errors import ParameterError

COMMANDS = ["fit", "sample", "synthesize", "evaluate", "rebalance", "schema", "models", "demo"]

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(arg) for arg in args])


def flat(text: str) -> str:
    """Output with line wrapping undone, so long paths and messages can be searched for."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory) -> Path:
    """500 rows of Adult, written as the CSV a user would pass in."""
    path = tmp_path_factory.mktemp("data") / "adult-500.csv"
    load_adult().sample(500, random_state=0).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def copula_model(small_csv, tmp_path_factory) -> Path:
    model_dir = tmp_path_factory.mktemp("models") / "copula"
    result = invoke("fit", small_csv, "--model", "copula", "-o", model_dir, "-q")
    assert result.exit_code == 0, result.output
    return model_dir


# ---------------------------------------------------------------------------------------------- help


def test_help_lists_every_command():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_help_shows_an_example(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output
    assert f"perpetuum {command}" in result.output


def test_version_prints_the_package_version():
    from perpetuum import __version__

    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"perpetuum {__version__}"


def test_models_lists_the_builtin_synthesizers_and_their_aliases():
    result = invoke("models")
    assert result.exit_code == 0
    for name in ["copula", "arf", "quality", "fast"]:
        assert name in result.output


# ---------------------------------------------------------------------------------------------- schema


def test_schema_prints_every_column_and_saves_json_that_loads_back(small_csv, tmp_path):
    from perpetuum.schema import TableSchema

    target = tmp_path / "new" / "folder" / "adult.schema.json"
    result = invoke("schema", small_csv, "-o", target)
    assert result.exit_code == 0, result.output
    for column in ["age", "workclass", "income"]:
        assert column in result.output
    assert TableSchema.from_json(target).names == list(pd.read_csv(small_csv).columns)


def test_fit_accepts_a_saved_schema(small_csv, tmp_path):
    schema_path = tmp_path / "schema.json"
    assert invoke("schema", small_csv, "-o", schema_path).exit_code == 0
    result = invoke("fit", small_csv, "--model", "copula", "--schema", schema_path, "-o", tmp_path / "m", "-q")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m").is_dir()


# ---------------------------------------------------------------------------------------------- fit / sample


def test_fit_saves_a_model_folder_and_reports_it(small_csv, tmp_path):
    model_dir = tmp_path / "model"
    result = invoke("fit", small_csv, "--model", "copula", "-o", model_dir)
    assert result.exit_code == 0, result.output
    assert any(model_dir.iterdir())
    assert "500 rows" in flat(result.output)


def test_sample_writes_the_asked_rows_with_the_real_columns(copula_model, small_csv, tmp_path):
    output = tmp_path / "out.parquet"
    result = invoke("sample", copula_model, "-n", 300, "-o", output)
    assert result.exit_code == 0, result.output
    synthetic = pd.read_parquet(output)
    assert len(synthetic) == 300
    assert list(synthetic.columns) == list(pd.read_csv(small_csv).columns)


@pytest.mark.parametrize("name", ["out.csv", "out.csv.gz", "out.jsonl"])
def test_sample_picks_the_format_from_the_extension_and_creates_folders(copula_model, tmp_path, name):
    output = tmp_path / "not" / "yet" / name
    result = invoke("sample", copula_model, "-n", 50, "-o", output, "-q")
    assert result.exit_code == 0, result.output
    frame = pd.read_json(output, lines=True) if name.endswith(".jsonl") else pd.read_csv(output)
    assert len(frame) == 50


def test_sample_with_the_same_seed_repeats_the_same_rows(copula_model, tmp_path):
    for name in ["a.csv", "b.csv"]:
        assert invoke("sample", copula_model, "-n", 100, "--seed", 3, "-o", tmp_path / name, "-q").exit_code == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv"))


def test_where_gives_only_matching_rows(copula_model, tmp_path):
    output = tmp_path / "rich.csv"
    result = invoke("sample", copula_model, "-n", 200, "--where", "income=>50K", "-o", output)
    assert result.exit_code == 0, result.output
    synthetic = pd.read_csv(output)
    assert len(synthetic) == 200
    assert (synthetic["income"] == ">50K").all()


def test_where_repeated_combines_columns_with_and_and_values_with_or(copula_model, tmp_path):
    output = tmp_path / "subset.csv"
    result = invoke(
        "sample", copula_model, "-n", 150, "-w", "sex=Female", "-w", "race=White", "-w", "race=Black",
        "-o", output, "-q",
    )
    assert result.exit_code == 0, result.output
    synthetic = pd.read_csv(output)
    assert len(synthetic) == 150
    assert (synthetic["sex"] == "Female").all()
    assert synthetic["race"].isin(["White", "Black"]).all()


def test_synthesize_fits_and_samples_in_one_step(small_csv, tmp_path):
    output = tmp_path / "synthetic.csv"
    result = invoke("synthesize", small_csv, "-n", 250, "-o", output, "--model", "copula", "-q", "--no-report")
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(output)) == 250
    assert not (tmp_path / "synthetic.report.html").exists()


def test_synthesize_holds_out_rows_and_writes_the_report_beside_the_output(small_csv, tmp_path):
    output = tmp_path / "out" / "synthetic.csv.gz"
    result = invoke(
        "synthesize", small_csv, "-n", 300, "-o", output, "--model", "copula", "--target", "income",
        "--no-privacy-attacks",
    )
    assert result.exit_code == 0, result.output
    html, report = tmp_path / "out" / "synthetic.report.html", tmp_path / "out" / "synthetic.report.json"
    assert html.is_file() and report.is_file()
    assert "synthetic.report.html" in flat(result.output)
    numbers = json.loads(report.read_text())
    # 20 % of the 500 rows held out by default; the model saw the other 400.
    assert numbers["data"]["rows"] == {"real": 400, "synthetic": 300, "holdout": 100}
    assert numbers["results"]["privacy"]["available"] is True
    assert numbers["results"]["utility"]["tstr"]["n_test"] == 100
    lineage = numbers["metadata"]["lineage"]
    assert lineage["rows_fitted"] == 400 and lineage["rows_held_out"] == 100
    assert len(lineage["sha256"]) == 64
    assert numbers["metadata"]["params"]["seed"] == 0


def test_synthesize_with_holdout_share_zero_fits_every_row_and_says_privacy_cannot_be_computed(small_csv, tmp_path):
    output = tmp_path / "synthetic.csv"
    result = invoke(
        "synthesize", small_csv, "-n", 100, "-o", output, "--model", "copula", "--holdout-share", "0", "-q"
    )
    assert result.exit_code == 0, result.output
    numbers = json.loads((tmp_path / "synthetic.report.json").read_text())
    assert numbers["data"]["rows"]["real"] == 500 and numbers["data"]["rows"]["holdout"] is None
    assert "cannot be computed without a holdout" in numbers["results"]["privacy"]["reason"]


def test_synthesize_rejects_a_holdout_share_outside_zero_to_one(small_csv, tmp_path):
    result = invoke("synthesize", small_csv, "-n", 10, "-o", tmp_path / "o.csv", "--holdout-share", "1.5")
    assert_clean_error(result, "--holdout-share", "1.5")


def test_synthesize_with_the_default_quality_model_and_a_condition(small_csv, tmp_path):
    output = tmp_path / "quality.parquet"
    result = invoke("synthesize", small_csv, "-n", 200, "-o", output, "--where", "sex=Male")
    assert result.exit_code == 0, result.output
    synthetic = pd.read_parquet(output)
    assert len(synthetic) == 200
    assert (synthetic["sex"] == "Male").all()
    assert set(synthetic["income"].dropna()) <= {"<=50K", ">50K"}
    # Conditioned rows are not comparable with the whole table: no report, and the command says why.
    assert "No report" in flat(result.output)
    assert not (tmp_path / "quality.report.html").exists()


# ---------------------------------------------------------------------------------------------- evaluate


@pytest.fixture(scope="module")
def evaluation_files(tmp_path_factory) -> dict[str, Path]:
    """Train, holdout and copula-synthetic CSVs, as a user would pass them to `perpetuum evaluate`."""
    from perpetuum.tabular import get_synthesizer

    folder = tmp_path_factory.mktemp("evaluate")
    data = load_adult().sample(600, random_state=2).reset_index(drop=True)
    train, holdout = data.iloc[:450], data.iloc[450:]
    synthetic = get_synthesizer("copula")(seed=0).fit(train).sample(450, seed=0)
    paths = {"train": folder / "train.csv", "holdout": folder / "holdout.csv", "synthetic": folder / "synthetic.csv"}
    for name, frame in (("train", train), ("holdout", holdout), ("synthetic", synthetic)):
        frame.to_csv(paths[name], index=False)
    return paths


def test_evaluate_writes_the_html_and_json_reports_and_prints_a_summary(evaluation_files, tmp_path):
    html, report = tmp_path / "report.html", tmp_path / "numbers.json"
    result = invoke(
        "evaluate", evaluation_files["train"], evaluation_files["synthetic"], "--holdout", evaluation_files["holdout"],
        "--target", "income", "-o", html, "--json", report, "--no-privacy-attacks", "--quiet",
    )
    assert result.exit_code == 0, result.output
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    numbers = json.loads(report.read_text())
    assert numbers["data"]["rows"] == {"real": 450, "synthetic": 450, "holdout": 150}
    assert "membership_inference" not in numbers["results"]["privacy"]
    assert numbers["metadata"]["lineage"]["real_sha256"]
    assert result.output == ""  # --quiet


def test_evaluate_without_holdout_says_privacy_cannot_be_computed(evaluation_files, tmp_path):
    result = invoke("evaluate", evaluation_files["train"], evaluation_files["synthetic"], "-o", tmp_path / "r.html")
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert "cannot be computed without a holdout" in text
    assert "fidelity" in text and "r.html" in text


def test_evaluate_names_a_missing_target_column(evaluation_files, tmp_path):
    result = invoke(
        "evaluate", evaluation_files["train"], evaluation_files["synthetic"], "--target", "salary",
        "-o", tmp_path / "r.html",
    )
    assert_clean_error(result, "salary")


def test_evaluate_names_a_column_the_synthetic_table_lacks(evaluation_files, tmp_path):
    narrow = tmp_path / "narrow.csv"
    pd.read_csv(evaluation_files["synthetic"]).drop(columns=["occupation"]).to_csv(narrow, index=False)
    result = invoke("evaluate", evaluation_files["train"], narrow, "-o", tmp_path / "r.html")
    assert_clean_error(result, "occupation")


# ---------------------------------------------------------------------------------------------- bad input


def assert_clean_error(result, *fragments: str) -> None:
    """Exit code 2, a message naming each fragment, and no traceback."""
    assert result.exit_code == 2, result.output
    text = flat(result.output)
    assert "Traceback" not in text
    for fragment in fragments:
        assert fragment in text, text


def test_missing_data_file_exits_2_and_names_the_file(tmp_path):
    missing = tmp_path / "no-such-table.csv"
    assert_clean_error(invoke("synthesize", missing, "-n", 10, "-o", tmp_path / "o.csv"), "no-such-table.csv")
    assert_clean_error(invoke("schema", missing), "no-such-table.csv")
    assert_clean_error(invoke("fit", missing, "-o", tmp_path / "m"), "no-such-table.csv")


def test_missing_model_folder_exits_2(tmp_path):
    assert_clean_error(invoke("sample", tmp_path / "no-model", "-n", 10, "-o", tmp_path / "o.csv"), "no-model")


@pytest.mark.parametrize("rows", ["0", "-5"])
def test_non_positive_row_counts_are_rejected(copula_model, small_csv, tmp_path, rows):
    output = tmp_path / "o.csv"
    assert_clean_error(invoke("sample", copula_model, "-n", rows, "-o", output), "positive", rows)
    assert_clean_error(invoke("synthesize", small_csv, "-n", rows, "-o", output), "positive", rows)
    assert not output.exists()


def test_unknown_column_in_where_exits_2_and_names_it(copula_model, tmp_path):
    result = invoke("sample", copula_model, "-n", 10, "--where", "salary=high", "-o", tmp_path / "o.csv")
    assert_clean_error(result, "salary")


def test_where_without_an_equals_sign_is_explained(copula_model, tmp_path):
    result = invoke("sample", copula_model, "-n", 10, "--where", "income", "-o", tmp_path / "o.csv")
    assert_clean_error(result, "COLUMN=VALUE")


def test_unsupported_output_extension_is_rejected_before_fitting(small_csv, tmp_path):
    result = invoke("synthesize", small_csv, "-n", 10, "-o", tmp_path / "out.xlsx")
    assert_clean_error(result, "out.xlsx", ".parquet")


def test_unknown_model_name_lists_the_choices(small_csv, tmp_path):
    result = invoke("fit", small_csv, "--model", "gan9000", "-o", tmp_path / "m")
    assert_clean_error(result, "gan9000", "copula")


# ---------------------------------------------------------------------------------------------- parsing


def test_where_is_split_on_the_first_equals_sign():
    assert parse_conditions(["income=>50K", "note=a=b"]) == {"income": ">50K", "note": "a=b"}


def test_where_repeated_on_one_column_collects_its_values():
    assert parse_conditions(["race=White", "race=Black", "race=Other"]) == {"race": ["White", "Black", "Other"]}


def test_where_needs_a_column_name():
    with pytest.raises(ParameterError):
        parse_conditions(["=5"])


# ---------------------------------------------------------------------------------------------- real process


def perpetuum_process(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the installed `perpetuum` script next to this Python, as a user's shell would."""
    script = Path(sys.executable).parent / "perpetuum"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "perpetuum"]
    return subprocess.run(
        command + [str(arg) for arg in args],
        capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})},
    )


def test_installed_command_synthesizes_a_table(small_csv, tmp_path):
    output = tmp_path / "synthetic.jsonl"
    process = perpetuum_process("synthesize", small_csv, "-n", 120, "-o", output, "--model", "copula", "--no-report")
    assert process.returncode == 0, process.stderr
    assert len(pd.read_json(output, lines=True)) == 120
    assert "120 rows" in flat(process.stdout)


def test_installed_command_reports_a_missing_file_without_a_traceback(tmp_path):
    process = perpetuum_process("schema", tmp_path / "absent.csv")
    assert process.returncode == 2
    assert "absent.csv" in flat(process.stderr)
    assert "Traceback" not in process.stderr + process.stdout


def test_python_dash_m_runs_the_same_command():
    process = subprocess.run(
        [sys.executable, "-m", "perpetuum", "models"], capture_output=True, text=True, timeout=60
    )
    assert process.returncode == 0, process.stderr
    assert "copula" in process.stdout


def test_progress_bars_stay_off_the_output_unless_forced(small_csv, tmp_path):
    quiet = perpetuum_process("fit", small_csv, "--model", "copula", "-o", tmp_path / "a")
    assert quiet.returncode == 0, quiet.stderr
    assert "━" not in quiet.stderr  # stderr is a pipe, not a terminal: no bar
    forced = perpetuum_process(
        "fit", small_csv, "--model", "copula", "-o", tmp_path / "b", env={"PERPETUUM_PROGRESS": "1"}
    )
    assert forced.returncode == 0, forced.stderr
    assert "━" in forced.stderr


def test_schema_json_written_by_the_command_is_plain_json(small_csv, tmp_path):
    target = tmp_path / "schema.json"
    assert perpetuum_process("schema", small_csv, "-o", target).returncode == 0
    assert [column["name"] for column in json.loads(target.read_text())["columns"]][:2] == ["age", "workclass"]


def test_a_mixed_type_column_is_reported_as_one_warning_line(tmp_path):
    source = tmp_path / "mixed.csv"
    pd.DataFrame({"code": [str(i) if i % 3 else "word" for i in range(200)], "x": range(200)}).to_csv(
        source, index=False
    )
    result = runner.invoke(app, ["synthesize", str(source), "-n", "5", "-o", str(tmp_path / "out.csv"), "--quiet",
                                 "--no-report", "--model", "copula"])
    assert result.exit_code == 0, result.output
    assert "Warning: column 'code' mixes numbers" in result.output
    assert "_warn_if_mixed" not in result.output and "UserWarning" not in result.output
    assert len(pd.read_csv(tmp_path / "out.csv")) == 5


def test_a_private_model_without_a_budget_says_which_option_is_missing(small_csv, tmp_path):
    result = invoke("fit", small_csv, "--model", "dp-mst", "--delta", "1e-6", "-o", tmp_path / "model")
    assert_clean_error(result, "epsilon is required")


def test_a_budget_given_to_a_model_that_takes_none_is_an_error(small_csv, tmp_path):
    result = invoke("fit", small_csv, "--model", "fast", "--epsilon", "1", "-o", tmp_path / "model")
    assert_clean_error(result, "does not take these parameters")
