"""The real data the recipes ship (src/perpetuum/recipes/data/): declared as package data with its licences, never a
GSM8K test problem among the problems dialogues are built on, and the same as scripts/build_recipe_data.py makes from
the shared datasets."""

from __future__ import annotations

import gzip
import json
import sys
import tomllib
from pathlib import Path

import pytest

from perpetuum.pipeline.columns.decontamination import NgramIndex, read_reference_texts
from perpetuum.recipes import RECIPES_FOLDER
from perpetuum.recipes.final_answers import parse_number
from perpetuum.recipes.stories import check_length, check_vocabulary

ROOT = Path(__file__).resolve().parents[1]
DATA = RECIPES_FOLDER / "data"
SHARED = ROOT.parent / "shared" / "datasets"
FILES = ("gsm8k_train", "gsm8k_test_questions", "humaneval", "tinystories_exemplars")


def rows(name: str) -> list[dict]:
    text = gzip.decompress((DATA / f"{name}.jsonl.gz").read_bytes()).decode("utf-8")
    return [json.loads(line) for line in text.split("\n") if line.strip()]


def test_the_data_is_package_data_kept_small_with_its_source_and_licences():
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "recipes/data/*" in package_data["perpetuum"]
    assert sum((DATA / f"{name}.jsonl.gz").stat().st_size for name in FILES) < 2_000_000
    source = (DATA / "SOURCE.md").read_text()
    assert "CDLA-Sharing-1.0" in source and "LICENSE-GSM8K.txt" in source and "LICENSE-HumanEval.txt" in source
    for licence, holder in (("LICENSE-GSM8K.txt", "Copyright (c) 2021 OpenAI"), ("LICENSE-HumanEval.txt", "OpenAI")):
        text = (DATA / licence).read_text()
        assert "MIT License" in text and holder in text and "Permission is hereby granted" in text


def test_gsm8k_problems_have_a_question_a_worked_solution_and_a_numeric_answer():
    problems = rows("gsm8k_train")
    assert len(problems) == 7469
    assert len({problem["id"] for problem in problems}) == len(problems)
    for problem in problems:
        assert set(problem) == {"id", "question", "solution", "answer"}
        assert problem["id"].startswith("train-")
        assert parse_number(problem["answer"]) is not None
        assert "####" not in problem["solution"] and "<<" not in problem["solution"]


def test_no_problem_a_dialogue_is_built_on_is_or_resembles_a_gsm8k_test_question():
    test_questions = rows("gsm8k_test_questions")
    assert len(test_questions) == 1319
    index = NgramIndex(13)
    for question in test_questions:
        index.add(question["question"], question["id"])
    exact = {question["question"].strip() for question in test_questions}
    for problem in rows("gsm8k_train"):
        assert problem["question"].strip() not in exact
        assert not index.shared_ngrams(problem["question"]), problem["id"]


def test_the_humaneval_reference_finds_every_humaneval_problem():
    index = NgramIndex.from_files([DATA / "humaneval.jsonl.gz"])
    labelled = read_reference_texts(DATA / "humaneval.jsonl.gz")
    assert len(labelled) == 164
    problems = rows("humaneval")
    assert {problem["task_id"] for problem in problems} == {f"HumanEval/{i}" for i in range(164)}
    assert all(index.shared_ngrams(problem["prompt"] + problem["canonical_solution"]) for problem in problems)


def test_tinystories_exemplars_are_short_real_stories_that_pass_the_recipes_checks():
    exemplars = rows("tinystories_exemplars")
    assert len(exemplars) == 300
    assert len({exemplar["id"] for exemplar in exemplars}) == 300
    assert all(exemplar["id"] % 10 != 0 for exemplar in exemplars)  # never a story the benchmark holds out
    for exemplar in exemplars:
        assert check_length(exemplar["story"])["words"] <= 120
        assert check_length(exemplar["story"])["passed"] and check_vocabulary(exemplar["story"])["passed"]


@pytest.mark.skipif(not (SHARED / "gsm8k").is_dir(), reason="the shared datasets folder is not here")
def test_the_shipped_files_are_what_the_build_script_makes_from_the_shared_datasets(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    monkeypatch.setattr(sys, "argv", ["build_recipe_data.py", "--output", str(tmp_path)])
    import build_recipe_data

    build_recipe_data.main()
    for name in FILES:
        assert (tmp_path / f"{name}.jsonl.gz").read_bytes() == (DATA / f"{name}.jsonl.gz").read_bytes(), name
