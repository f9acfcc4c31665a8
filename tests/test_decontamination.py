"""Decontamination by n-gram overlap: normalization, thresholds, reference formats, the `decontamination` validator
kind, and the real HumanEval file (read here only, never by the product)."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from perpetuum.pipeline.columns.validators import ValidatorSetupError, build_validator
from perpetuum.pipeline.columns.decontamination import (
    ENVIRONMENT_VARIABLE,
    NgramIndex,
    contamination,
    normalized_tokens,
    read_reference_texts,
    text_of,
)

HUMANEVAL = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "humaneval" / "HumanEval.jsonl.gz"
WORDS = [f"word{i}" for i in range(40)]


def test_normalization_ignores_case_punctuation_spacing_and_quotes():
    assert normalized_tokens('def F(x):\n\treturn "A-b" + 12') == ["def", "f", "x", "return", "a", "b", "12"]
    assert normalized_tokens("def f(x):\n    return 'a b'+12") == normalized_tokens("DEF f( x ):\treturn \"A\" \"B\" 12")


def test_thirteen_shared_tokens_are_contamination_and_twelve_are_not():
    index = NgramIndex(13)
    index.add(" ".join(WORDS), "reference")
    assert index.shared_ngrams("intro " + " ".join(WORDS[5:17]) + " outro") == []
    shared = index.shared_ngrams("intro " + " ".join(WORDS[5:18]) + " outro")
    assert shared == [(" ".join(WORDS[5:18]), "reference")]


def test_reference_files_of_every_format_are_read(tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps({"prompt": "one", "meta": {"solution": "two"}}) + "\n")
    with gzip.open(tmp_path / "b.jsonl.gz", "wt") as handle:
        handle.write(json.dumps({"text": "three"}) + "\n" + json.dumps({"text": "four"}) + "\n")
    (tmp_path / "c.json").write_text(json.dumps(["five", {"six": "seven"}]))
    (tmp_path / "d.txt").write_text("eight nine")
    found = [pair for name in ("a.jsonl", "b.jsonl.gz", "c.json", "d.txt") for pair in read_reference_texts(tmp_path / name)]
    assert found == [("a.jsonl#0", "one\ntwo"), ("b.jsonl.gz#0", "three"), ("b.jsonl.gz#1", "four"),
                     ("c.json#0", "five"), ("c.json#1", "seven"), ("d.txt", "eight nine")]
    assert text_of({"a": ["x", {"b": "y"}], "n": 3}) == "x\ny\n3"


def test_contamination_counts_texts_with_a_shared_ngram():
    index = NgramIndex(5)
    index.add("the quick brown fox jumps over the lazy dog", "fox.txt")
    report = contamination(["a quick brown fox jumps over it", "nothing in common here at all", "THE LAZY dog"], index)
    assert (report["checked"], report["contaminated"]) == (3, 1)
    assert report["examples"] == [{"text": 0, "ngram": "quick brown fox jumps over", "reference": "fox.txt"}]


def test_the_validator_kind_drops_copies_and_keeps_new_text(tmp_path):
    reference = tmp_path / "benchmark.txt"
    reference.write_text(" ".join(WORDS))
    validator = build_validator("decontamination", {"references": [str(reference)]})
    copied = validator.check({"solution": " ".join(WORDS[:20]), "tests": ["assert True"]}, {})
    assert copied["passed"] is False and copied["message"].startswith("contaminated: shares 8 13-gram(s)")
    assert validator.check("an exercise about something else entirely", {})["passed"] is True


def test_the_validator_reads_files_named_in_the_environment(tmp_path, monkeypatch):
    reference = tmp_path / "held_out.txt"
    reference.write_text(" ".join(WORDS))
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, str(reference))
    assert build_validator("decontamination", {}).check(" ".join(WORDS), {})["passed"] is False
    assert build_validator("decontamination", {"use_environment": False}).check(" ".join(WORDS), {})["passed"]


def test_a_missing_reference_file_is_a_setup_error_naming_the_key(tmp_path):
    with pytest.raises(ValidatorSetupError) as raised:
        build_validator("decontamination", {"references": [str(tmp_path / "absent.jsonl")]})
    assert raised.value.path == "references[0]" and "does not exist" in str(raised.value)


def test_a_relative_reference_is_read_beside_the_spec_file_and_else_from_the_working_directory(tmp_path,
                                                                                               monkeypatch):
    from perpetuum.pipeline.spec import SpecError, load_spec

    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "held_out.txt").write_text(" ".join(WORDS))
    spec_text = ("name: t\ncolumns:\n  - {name: text, kind: sampler, sampler: category, values: [a]}\n"
                 "  - {name: clean, kind: validator, validator: decontamination, target: text, references: [%s]}\n")
    spec_file = tmp_path / "specs" / "spec.yaml"
    spec_file.write_text(spec_text % "held_out.txt")
    monkeypatch.chdir(tmp_path)
    assert load_spec(spec_file).column("clean").options["references"] == [str(tmp_path / "specs" / "held_out.txt")]
    (tmp_path / "beside_the_run.txt").write_text(" ".join(WORDS))
    spec_file.write_text(spec_text % "beside_the_run.txt")  # not beside the spec: the working directory's
    assert load_spec(spec_file).column("clean").options["references"] == ["beside_the_run.txt"]
    spec_file.write_text(spec_text % "nowhere.txt")
    with pytest.raises(SpecError, match=r"columns\[1\]\.references\[0\]: reference file 'nowhere.txt' does not exist"):
        load_spec(spec_file)


@pytest.mark.skipif(not HUMANEVAL.is_file(), reason="the shared HumanEval file is not here")
def test_humaneval_problems_are_found_even_reformatted_and_fresh_code_is_not():
    index = NgramIndex.from_files([HUMANEVAL])
    problems = [json.loads(line) for line in gzip.open(HUMANEVAL, "rt")]
    assert len(problems) == 164
    reformatted = [p["prompt"].replace("    ", "\t").replace('"""', "'''").upper() for p in problems]
    assert contamination(reformatted, index)["contaminated"] == 164
    fresh = (
        "def count_vowels(text: str) -> int:\n    \"\"\"Return how many vowels are in text.\"\"\"\n"
        "    return sum(1 for ch in text.lower() if ch in 'aeiou')\n"
        "assert count_vowels('hello') == 2\nassert count_vowels('') == 0\n"
    )
    assert index.shared_ngrams(fresh) == []


def _echo_spec() -> dict:
    """Stories that echo their prompt, with a decontamination validator whose failures drop the record."""
    return {
        "name": "echoes", "seed": 3, "backends": {"default": {"kind": "test-echo", "echo_only": True}},
        "columns": [
            {"name": "hero", "kind": "sampler", "sampler": "category", "values": ["fox", "owl"]},
            {"name": "story", "kind": "llm_text", "prompt": "the brave little {{ hero }} ran home"},
            {"name": "clean", "kind": "validator", "validator": "decontamination", "target": "story", "n": 5},
        ],
        "filters": [{"kind": "validator", "column": "clean"}],
    }


def test_generate_takes_reference_files_on_the_command_line(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from perpetuum.cli import app
    from test_pipeline_support import EchoBackend  # noqa: F401  (registers the test-echo backend kind)

    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "")
    spec = _echo_spec()
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))
    benchmark = tmp_path / "benchmark.txt"
    benchmark.write_text("Once upon a time the brave little fox ran home to sleep.\n")
    runner = CliRunner()
    made = runner.invoke(app, ["generate", str(spec_path), "-n", "6", "-o", str(tmp_path / "out"),
                               "--decontaminate", str(benchmark)])
    assert made.exit_code == 0, made.output
    kept = [json.loads(line) for line in (tmp_path / "out" / "data.jsonl").read_text().splitlines()]
    assert kept and {record["hero"] for record in kept} == {"owl"}
    assert "dropped" in made.output and "clean passed" in made.output
    assert os.environ[ENVIRONMENT_VARIABLE] == ""  # the files reach the validator through the API, not the environment

    missing = runner.invoke(app, ["generate", str(spec_path), "-n", "1", "-o", str(tmp_path / "o2"),
                                  "--decontaminate", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2 and "nope.jsonl: no such file" in missing.output
    del spec["columns"][2], spec["filters"]
    spec_path.write_text(json.dumps(spec))
    pointless = runner.invoke(app, ["generate", str(spec_path), "-n", "1", "-o", str(tmp_path / "o3"),
                                    "--decontaminate", str(benchmark)])
    assert pointless.exit_code == 2 and "no decontamination validator" in pointless.output
    assert not (tmp_path / "o3").exists()


def test_generate_takes_reference_files_as_an_argument(tmp_path, monkeypatch):
    from perpetuum.pipeline import generate
    from test_pipeline_support import EchoBackend  # noqa: F401  (registers the test-echo backend kind)

    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    benchmark = tmp_path / "benchmark.txt"
    benchmark.write_text("Once upon a time the brave little fox ran home to sleep.\n")
    result = generate(_echo_spec(), 6, tmp_path / "out", progress=False, decontaminate=[benchmark])
    assert result.records and {record["hero"] for record in result.records} == {"owl"}
    checked = result.card["spec"]["columns"][2]
    assert checked["references"] == [str(benchmark.resolve())]  # the card names the files the records were checked against
