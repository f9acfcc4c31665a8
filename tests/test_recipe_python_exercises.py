"""The phi-1 recipe (`recipe:python_exercises`): the shipped spec, and a whole run through its real columns,
code filters, sandbox and decontamination with a scripted backend that answers one passing, one failing, one crashing,
one contaminated exercise and one answer without code, so that the card's pass rate and reasons can be checked
exactly."""

from __future__ import annotations

import json
import re
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
# topic -> (the exercise answer, the tests answer), written as a small model writes them: prose around the code,
# and tests that repeat the function before their asserts.
EXERCISES = {
    "alpha": (  # correct
        'Here is the exercise:\n```python\ndef total(values: list[int]) -> int:\n    """Sum of the values."""\n'
        "    return sum(values)\n```\nIt adds the values.",
        "```python\ndef total(values):\n    return 0\n\nassert total([1, 2, 3]) == 6\nassert total([]) == 0\n```",
    ),
    "beta": (  # wrong answer
        '```python\ndef double(x: int) -> int:\n    """Twice x."""\n    return x + 2\n```',
        "```python\nassert double(2) == 4\nassert double(5) == 10\n```",
    ),
    "gamma": (  # crashes: calls a name it never defined
        '```python\ndef shout(text: str) -> str:\n    """Upper-case text."""\n    return uppercase(text)\n```',
        "```python\nassert shout('a') == 'A'\n```",
    ),
    "delta": (  # passes its tests, but copies a benchmark problem
        "```python\nfrom typing import List\n\n" + BENCHMARK_TEXT + '    """\n    balance = 0\n    for op in operations:\n        balance += op\n'
        "        if balance < 0:\n            return True\n    return False\n```",
        "```python\nassert below_zero([1, -2])\nassert not below_zero([1, 2])\n```",
    ),
    "epsilon": (  # no code at all
        "An exercise about epsilon would ask you to think hard about small numbers.",
        "```python\nassert True\n```",
    ),
}


class ScriptedTeacher(Backend):
    """Answers the exercise prompt from the topic it names, the tests prompt from the function it names, and any
    other prompt with a short passage."""

    max_concurrency = 4
    model_name = "scripted-teacher"

    async def chat(self, messages, params: GenerationParams, json_schema=None) -> Completion:
        prompt = messages[-1]["content"]
        if prompt.startswith("Write a short") and "function about" in prompt:
            topic = re.search(r"function about (\w+)", prompt).group(1)
            text = EXERCISES[topic][0]
        elif "assert statements that test" in prompt:
            name = re.search(r"that test (\w*)", prompt).group(1)  # "" when the answer defined no function
            text = next(tests for answer, tests in EXERCISES.values() if f"def {name}(" in answer or not name)
        else:
            topic = re.search(r"example about (\w+)", prompt).group(1)
            text = f"A passage about {topic}: loops repeat work."
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
    assert kinds["exercise_answer"] == kinds["tests_answer"] == kinds["passage"] == "llm_text"
    assert kinds["solution"] == kinds["problem"] == kinds["tests"] == "expression"
    assert spec.column("exercise_answer").drop and spec.column("tests_answer").drop
    assert {kinds[name] for name in ("topic", "difficulty", "concept")} == {"sampler"}
    assert spec.column("tests_pass").validator == "code"
    assert spec.column("exercise_not_contaminated").validator == "decontamination"
    assert [getattr(rule, "column", None) for rule in spec.filters] == [
        None, "tests_pass", "exercise_not_contaminated", "passage_not_contaminated"]


def test_only_passing_clean_exercises_are_kept_and_the_card_says_why(tmp_path, monkeypatch):
    reference = tmp_path / "benchmark.jsonl"
    reference.write_text(json.dumps({"prompt": BENCHMARK_TEXT}) + "\n")
    monkeypatch.setenv("PERPETUUM_DECONTAMINATION_REFERENCES", str(reference))
    started = time.monotonic()
    result = generate(recipe_with_topics(list(EXERCISES)), 5, tmp_path / "out", progress=False,
                      backends={"default": ScriptedTeacher()})
    assert time.monotonic() - started < 60
    [kept] = result.records
    # The prose around the code and the function the tests repeated are gone; the problem is the signature and
    # docstring alone, and the answers the columns were made from are not in the dataset.
    assert kept["solution"] == 'def total(values: list[int]) -> int:\n    """Sum of the values."""\n    return sum(values)'
    assert kept["problem"] == 'def total(values: list[int]) -> int:\n    """Sum of the values."""'
    assert kept["tests"] == "assert total([1, 2, 3]) == 6\nassert total([]) == 0"
    assert "exercise_answer" not in kept and "tests_answer" not in kept
    card = result.card
    tests_pass = card["validators"]["tests_pass"]
    assert (tests_pass["checked"], tests_pass["passed"], tests_pass["pass_rate"]) == (5, 2, 0.4)
    assert tests_pass["failure_reasons"] == {"failed (AssertionError)": 1, "failed (NameError)": 1,
                                             "failed (SyntaxError)": 1}
    contaminated = card["validators"]["exercise_not_contaminated"]
    assert (contaminated["checked"], contaminated["passed"]) == (5, 4)
    assert card["records"]["dropped_by_reason"] == {"filters[0]: {{ problem != '' }}": 1,
                                                    "filters[1]: tests_pass passed": 2,
                                                    "filters[2]: exercise_not_contaminated passed": 1}
    dropped = [json.loads(line) for line in Path(result.files["dropped"]).read_text().splitlines()]
    details = sorted(str(item["detail"]) for item in dropped)
    assert any("tests.py:2: assert double(5) == 10" in detail for detail in details)
    assert any(detail.startswith("contaminated: shares") and "benchmark.jsonl#0" in detail for detail in details)
    markdown = Path(result.files["card_markdown"]).read_text()
    row = next(line for line in markdown.splitlines() if line.startswith("| tests_pass | code | 2 of 5 | 40.0% |"))
    assert "failed (AssertionError) (1)" in row and "failed (NameError) (1)" in row
