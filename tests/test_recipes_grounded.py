"""What the recipes draw from the real data they ship, with no model: TinyStories examples and openings, GSM8K
problems with their gold answers, and the GSM8K-test decontamination the math dialogues are checked with."""

from __future__ import annotations

import gzip
import json

import yaml

from perpetuum.pipeline import preview
from perpetuum.pipeline.columns.validators import build_validator
from perpetuum.pipeline.templates import render
from perpetuum.recipes import RECIPES_FOLDER, load_recipe, recipe_path
from perpetuum.recipes.stories import check_required_words

DATA = RECIPES_FOLDER / "data"


def shipped(name: str) -> list[dict]:
    text = gzip.decompress((DATA / f"{name}.jsonl.gz").read_bytes()).decode("utf-8")
    return [json.loads(line) for line in text.split("\n") if line.strip()]


def columns_before(recipe: str, model_column: str) -> dict:
    """The recipe as a dict spec holding only the columns before `model_column` (samplers and expressions: no model
    is called), with its data files made absolute (a dict spec has no folder to read them from)."""
    spec = yaml.safe_load(recipe_path(recipe).read_text())
    names = [column["name"] for column in spec["columns"]]
    spec["columns"] = spec["columns"][: names.index(model_column)]
    for column in spec["columns"]:
        if "file" in column:
            column["file"] = str(RECIPES_FOLDER / column["file"])
    spec.pop("filters", None)
    spec.pop("dedup", None)
    return spec


def test_each_story_prompt_shows_one_real_example_and_an_opening_with_the_three_words():
    spec = columns_before("tinystories", "story")
    records = preview(spec, 12)
    assert preview(spec, 12) == records  # drawn from the run seed alone
    exemplars = [row["story"] for row in shipped("tinystories_exemplars")]
    assert all(record["example"]["story"] in exemplars for record in records)
    assert len({record["example"]["story"] for record in records}) > 6
    prompt = load_recipe("tinystories").column("story").prompt
    for record in records:
        assert record["opening"].startswith("Once upon a time, ")
        assert check_required_words(record["opening"], record)["passed"], record["opening"]
        rendered = render(prompt, record)
        assert record["example"]["story"] in rendered and rendered.endswith(record["opening"])
        assert f'the noun "{record["noun"]}"' in rendered


def test_each_dialogue_gets_a_different_real_train_problem_with_its_gold_answer():
    spec = columns_before("math_dialogues", "lesson")
    records = preview(spec, 20)
    assert preview(spec, 20) == records
    train = {row["id"]: row for row in shipped("gsm8k_train")}
    assert len({record["problem"]["id"] for record in records}) == 20  # without replacement
    for record in records:
        assert record["problem"] == train[record["problem"]["id"]]
        assert record["gold_answer"] == record["problem"]["answer"]
    teacher = load_recipe("math_dialogues").column("lesson").roles[1]
    system = render(teacher.system_prompt, records[0])
    assert records[0]["problem"]["solution"] in system
    assert system.endswith(f"The answer is {records[0]['gold_answer']}.")


def test_dialogues_quoting_a_gsm8k_test_question_are_caught_and_train_problems_are_not():
    column = load_recipe("math_dialogues").column("not_in_gsm8k_test")
    validator = build_validator(column.validator, {**column.options, "use_environment": False})
    test_question = shipped("gsm8k_test_questions")[17]["question"]
    quoting = [{"role": "student", "content": f"Can you help me? {test_question}"},
               {"role": "teacher", "content": "Sure, let us read it slowly."}]
    verdict = validator.check(quoting, {})
    assert verdict["passed"] is False and "gsm8k_test_questions.jsonl.gz#17" in verdict["message"]
    for problem in shipped("gsm8k_train")[:200]:
        lesson = [{"role": "student", "content": problem["question"]}, {"role": "teacher", "content": problem["solution"]}]
        assert validator.check(lesson, {})["passed"], problem["id"]
