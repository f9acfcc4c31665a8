"""Each recipe end to end on the real embedded model (SmolLM2-135M through llama.cpp), one record, short outputs.

The recipes are run as shipped except for shorter model outputs and one repair attempt, so these tests check the
wiring (samplers, shipped data, prompts, repairs, validators, judge, filters, files) rather than the quality, which
benchmarks/recipe_*.py measure.
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
    spec.column("story").repair.attempts = 1
    result = generate(spec, 1, tmp_path / "stories", progress=False)
    assert result.n_failed == 0, result.card["records"]["failed_by_reason"]
    [record] = all_records(tmp_path / "stories")
    assert record["noun"] in set((VOCABULARY_FOLDER / "nouns.txt").read_text().split())
    assert set(record["features"]) <= FEATURES
    assert record["opening"].startswith("Once upon a time") and record["verb"] in record["opening"]
    assert record["story"].strip()
    for check in ("words_used", "vocabulary_check", "length_check", "not_copied"):
        assert isinstance(record[check]["passed"], bool) and record[check]["message"]
    assert record["length_check"]["passed"] is False  # 48 tokens cannot make 50 words
    assert set(record["grade"]["scores"]) == {"grammar", "creativity", "consistency"}
    assert result.n_kept == 0 and result.card["records"]["dropped_by_reason"]
    left_out = {column["name"] for column in result.card["columns"] if column.get("dropped_from_output")}
    assert left_out == {"dialogue", "bad_ending", "moral_value", "plot_twist", "foreshadowing", "conflict",
                        "feature_instructions", "opening_form", "example"}
    assert "story" in result.card["repairs"] and "grade" in result.card["judges"]["per_judge"]


def test_math_dialogues_runs_by_name_on_a_real_problem_and_checks_the_final_answer(tmp_path):
    spec = load_recipe("math_dialogues")
    lesson = spec.column("lesson")
    lesson.turns = 2
    lesson.roles[1].params.max_tokens = 64
    lesson.roles[1].repair.attempts = 1
    result = generate(spec, 1, tmp_path / "lessons", progress=False)
    assert result.n_failed == 0, result.card["records"]["failed_by_reason"]
    [record] = all_records(tmp_path / "lessons")
    assert record["problem"]["id"].startswith("train-") and record["gold_answer"] == record["problem"]["answer"]
    assert [message["role"] for message in record["lesson"]] == ["student", "teacher"]
    assert record["problem"]["question"] in record["lesson"][0]["content"]
    verdict = record["answer_check"]
    assert isinstance(verdict["passed"], bool) and verdict["gold"] == record["gold_answer"]
    assert record["claim_check"]["passed"] == (not record["claim_check"]["flags"])
    assert record["not_in_gsm8k_test"]["passed"] is True
    assert set(record["grade"]["scores"]) == {"clarity", "correctness"}
    assert result.card["repairs"]["lesson.teacher"]["records_checked"] == 1


def test_python_exercises_runs_by_name_and_runs_every_solution_in_the_sandbox(tmp_path):
    spec = load_recipe("python_exercises")
    for name, max_tokens in (("exercise_answer", 160), ("tests_answer", 48), ("passage", 32)):
        spec.column(name).params.max_tokens = max_tokens
    spec.column("exercise_answer").repair.attempts = 1
    result = generate(spec, 1, tmp_path / "exercises", progress=False)
    assert result.n_failed == 0, result.card["records"]["failed_by_reason"]
    [record] = all_records(tmp_path / "exercises")
    left_out = {column["name"] for column in result.card["columns"] if column.get("dropped_from_output")}
    assert left_out == {"worked_examples", "exercise_answer", "tests_answer"}
    assert "```" not in record["solution"] and record["passage"].strip()
    assert record["problem"] == "" or record["problem"].startswith(("def ", "async def "))
    assert all(line.startswith("assert ") for line in record["tests"].splitlines())
    verdict = record["tests_pass"]
    assert verdict["passed"] == (verdict["status"] == "ok")
    assert record["exercise_not_contaminated"]["passed"] is True
    assert "humaneval.jsonl.gz" in record["exercise_not_contaminated"]["message"]
    assert result.card["repairs"]["exercise_answer"]["records_checked"] == 1
