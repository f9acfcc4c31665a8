"""The phi-1 recipe (`recipe:python_exercises`): the shipped spec, and a whole run through its real columns,
sandbox and decontamination with a scripted backend that answers one passing, one failing, one crashing and one
contaminated exercise, so that the card's pass rate and reasons can be checked exactly."""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml

from perpetuum.llm.base import Backend, Completion, GenerationParams
from perpetuum.pipeline import generate
from perpetuum.pipeline.spec import load_spec
from perpetuum.recipes import recipe_path

BENCHMARK_TEXT = (
    "def below_zero(operations: List[int]) -> bool:\n"
    '    """ You are given a list of deposit and withdrawal operations on a bank account that starts with\n'
    "    zero balance. Your task is to detect if at any point the balance of account falls below zero\n"
)
EXERCISES = {
    "alpha": {  # correct
        "function_name": "total",
        "problem": 'def total(values: list[int]) -> int:\n    """Sum of the values."""',
        "solution": ["def total(values: list[int]) -> int:", "    return sum(values)"],
        "tests": ["assert total([1, 2, 3]) == 6", "assert total([]) == 0"],
    },
    "beta": {  # wrong answer
        "function_name": "double",
        "problem": 'def double(x: int) -> int:\n    """Twice x."""',
        "solution": ["def double(x: int) -> int:", "    return x + 2"],
        "tests": ["assert double(2) == 4", "assert double(5) == 10"],
    },
    "gamma": {  # crashes: calls a name it never defined
        "function_name": "shout",
        "problem": 'def shout(text: str) -> str:\n    """Upper-case text."""',
        "solution": ["def shout(text: str) -> str:", "    return uppercase(text)"],
        "tests": ["assert shout('a') == 'A'"],
    },
    "delta": {  # passes its tests, but copies a benchmark problem
        "function_name": "below_zero",
        "problem": BENCHMARK_TEXT,
        "solution": ["def below_zero(operations):", "    balance = 0", "    for op in operations:",
                     "        balance += op", "        if balance < 0:", "            return True", "    return False"],
        "tests": ["assert below_zero([1, -2])", "assert not below_zero([1, 2])"],
    },
}


class ScriptedTeacher(Backend):
    """Answers the exercise prompt from the topic it names, and any other prompt with a short passage."""

    max_concurrency = 4
    model_name = "scripted-teacher"
    constrains_json = True

    async def chat(self, messages, params: GenerationParams, json_schema=None) -> Completion:
        prompt = messages[-1]["content"]
        topic = next(name for name in EXERCISES if f"about {name}" in prompt or f"example about {name}" in prompt)
        text = json.dumps(EXERCISES[topic]) if json_schema else f"A passage about {topic}: loops repeat work."
        return Completion(text=text, prompt_tokens=len(prompt.split()), completion_tokens=len(text.split()),
                          model=self.model_name, finish_reason="stop", seconds=0.0)

    async def complete(self, prompt: str, params: GenerationParams) -> Completion:
        raise NotImplementedError


def recipe_with_topics(topics: list[str]) -> dict:
    spec = yaml.safe_load(recipe_path("python_exercises").read_text())
    topic = next(column for column in spec["columns"] if column["name"] == "topic")
    topic.update(values=topics, without_replacement=True)
    return spec


def test_the_recipe_ships_with_the_package_and_loads_by_name():
    spec = load_spec("recipe:python_exercises")
    kinds = {column.name: column.kind for column in spec.columns}
    assert kinds["exercise"] == "llm_json" and kinds["passage"] == "llm_text"
    assert {kinds[name] for name in ("topic", "difficulty", "concept")} == {"sampler"}
    assert spec.column("tests_pass").validator == "code"
    assert spec.column("exercise_not_contaminated").validator == "decontamination"
    assert {rule.column for rule in spec.filters} == {"tests_pass", "exercise_not_contaminated",
                                                       "passage_not_contaminated"}
    assert set(spec.column("exercise").json_schema["required"]) == {"function_name", "problem", "solution", "tests"}


def test_only_passing_clean_exercises_are_kept_and_the_card_says_why(tmp_path, monkeypatch):
    reference = tmp_path / "benchmark.jsonl"
    reference.write_text(json.dumps({"prompt": BENCHMARK_TEXT}) + "\n")
    monkeypatch.setenv("PERPETUUM_DECONTAMINATION_REFERENCES", str(reference))
    started = time.monotonic()
    result = generate(recipe_with_topics(list(EXERCISES)), 4, tmp_path / "out", progress=False,
                      backends={"default": ScriptedTeacher()})
    assert time.monotonic() - started < 60
    assert [record["exercise"]["function_name"] for record in result.records] == ["total"]
    card = result.card
    tests_pass = card["validators"]["tests_pass"]
    assert (tests_pass["checked"], tests_pass["passed"], tests_pass["pass_rate"]) == (4, 2, 0.5)
    assert tests_pass["failure_reasons"] == {"failed (AssertionError)": 1, "failed (NameError)": 1}
    contaminated = card["validators"]["exercise_not_contaminated"]
    assert (contaminated["checked"], contaminated["passed"]) == (4, 3)
    assert card["records"]["dropped_by_reason"] == {"filters[0]: tests_pass passed": 2,
                                                    "filters[1]: exercise_not_contaminated passed": 1}
    dropped = [json.loads(line) for line in Path(result.files["dropped"]).read_text().splitlines()]
    details = sorted(item["detail"] for item in dropped)
    assert any("tests.py:2: assert double(5) == 10" in detail for detail in details)
    assert any(detail.startswith("contaminated: shares") and "benchmark.jsonl#0" in detail for detail in details)
    markdown = Path(result.files["card_markdown"]).read_text()
    row = next(line for line in markdown.splitlines() if line.startswith("| tests_pass | code | 2 of 4 | 50.0% |"))
    assert "failed (AssertionError) (1)" in row and "failed (NameError) (1)" in row
