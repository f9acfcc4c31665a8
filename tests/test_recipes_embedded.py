"""Each recipe end to end on the real embedded model (SmolLM2-135M through llama.cpp), two records, short outputs.

The recipes are run as shipped except for shorter model outputs, so these tests check the wiring (samplers, prompts,
validators, judge, filters, files) rather than the quality, which benchmarks/recipe_*.py measure.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("llama_cpp", reason="the embedded backend needs llama-cpp-python")
pytest.importorskip("perpetuum.llm.embedded")

from perpetuum.pipeline import generate  # noqa: E402
from perpetuum.recipes import load_recipe  # noqa: E402
from perpetuum.recipes.stories import VOCABULARY_FOLDER  # noqa: E402

FEATURES = {"dialogue", "bad ending", "moral value", "plot twist", "foreshadowing", "conflict"}


def all_records(folder) -> list[dict]:
    kept = [json.loads(line) for line in (folder / "data.jsonl").read_text().splitlines() if line]
    dropped = [json.loads(line)["record"] for line in (folder / "dropped.jsonl").read_text().splitlines() if line]
    return kept + dropped


def test_tinystories_runs_by_name_and_checks_every_story(tmp_path):
    spec = load_recipe("tinystories")
    spec.column("story").params.max_tokens = 48
    result = generate(spec, 2, tmp_path / "stories", progress=False)
    assert result.n_failed == 0, result.card["records"]["failed_by_reason"]
    records = all_records(tmp_path / "stories")
    assert len(records) == 2
    nouns = set((VOCABULARY_FOLDER / "nouns.txt").read_text().split())
    for record in records:
        assert record["noun"] in nouns
        assert set(record["features"]) <= FEATURES
        assert record["story"].strip()
        for check in ("words_used", "vocabulary_check", "length_check"):
            assert isinstance(record[check]["passed"], bool) and record[check]["message"]
        assert record["length_check"]["passed"] is False  # 48 tokens cannot make 50 words
        assert set(record["grade"]["scores"]) == {"grammar", "creativity", "consistency"}
        assert all(1 <= score <= 10 for score in record["grade"]["scores"].values())
    assert result.n_kept == 0 and result.card["records"]["dropped_by_reason"]
    left_out = {column["name"] for column in result.card["columns"] if column.get("dropped_from_output")}
    assert left_out == {"dialogue", "bad_ending", "moral_value", "plot_twist", "foreshadowing", "conflict",
                        "feature_instructions"}


def test_math_dialogues_runs_by_name_and_checks_the_teachers_claims(tmp_path):
    spec = load_recipe("math_dialogues")
    lesson = spec.column("lesson")
    lesson.turns = 2
    lesson.roles[1].params.max_tokens = 48
    result = generate(spec, 2, tmp_path / "lessons", progress=False)
    assert result.n_failed == 0, result.card["records"]["failed_by_reason"]
    records = all_records(tmp_path / "lessons")
    assert len(records) == 2
    for record in records:
        assert [message["role"] for message in record["lesson"]] == ["student", "teacher"]
        assert all(set(message) == {"role", "content"} for message in record["lesson"])
        check = record["claim_check"]
        assert isinstance(check["passed"], bool) and isinstance(check["message"], str)
        assert check["passed"] == (not check["flags"])
        for flag in check["flags"]:
            assert set(flag) == {"turn", "role", "claim", "reason", "expected"}
            assert record["lesson"][flag["turn"]]["role"] == flag["role"] == "teacher"
        assert isinstance(record["student_understood"], bool)
        assert set(record["grade"]["scores"]) == {"clarity", "misconception"}


def test_python_exercises_runs_by_name_and_runs_every_solution_in_the_sandbox(tmp_path):
    spec = load_recipe("python_exercises")
    for name, max_tokens in (("exercise_answer", 120), ("tests_answer", 80), ("passage", 32)):
        spec.column(name).params.max_tokens = max_tokens
    result = generate(spec, 2, tmp_path / "exercises", progress=False)
    assert result.n_failed == 0, result.card["records"]["failed_by_reason"]
    records = all_records(tmp_path / "exercises")
    assert len(records) == 2
    left_out = {column["name"] for column in result.card["columns"] if column.get("dropped_from_output")}
    assert left_out == {"exercise_answer", "tests_answer"}
    for record in records:
        assert "```" not in record["solution"] and record["passage"].strip()
        assert record["problem"] == "" or record["problem"].startswith(("def ", "async def "))
        assert all(line.startswith("assert ") for line in record["tests"].splitlines())
        verdict = record["tests_pass"]
        assert verdict["status"] in {"ok", "failed", "missing", "timeout", "memory", "crashed", "file_limit",
                                     "output_limit"}, verdict
        assert verdict["passed"] == (verdict["status"] == "ok")
        assert record["exercise_not_contaminated"]["passed"] is True
    checks = result.card["validators"]["tests_pass"]
    assert checks["checked"] == 2 and checks["passed"] >= result.n_kept  # only records that passed are kept
