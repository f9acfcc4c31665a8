"""The phi-1 recipe (`recipe:python_exercises`): the shipped spec, and a whole run through its real columns, code
filters, sandbox, self-debug repair and decontamination with a scripted backend that answers one passing exercise,
one that fails and is fixed when shown its failing assert, one that keeps crashing, one copied from HumanEval (found
by the shipped reference data, with nothing configured), one whose only asserts restate the solution, one answer
without code and one that repeats a worked example of the prompt, so that the card's figures can be checked exactly;
and one that writes no asserts, whose tests come from the second call; and the worked examples themselves pass every
check."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import yaml

from perpetuum.llm.base import Backend, Completion, GenerationParams
from perpetuum.pipeline import generate
from perpetuum.pipeline.code_filters import assert_statements, function_name, python_definitions
from perpetuum.pipeline.columns.decontamination import NgramIndex
from perpetuum.pipeline.columns.record_files import read_records
from perpetuum.pipeline.spec import load_spec
from perpetuum.recipes import recipe_path
from perpetuum.sandbox.runner import run_python

HUMANEVAL_COPY = (  # HumanEval/0 as a model that memorised it would write it
    "from typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
    '    """ Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n'
    '    """\n    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n'
    "            if idx != idx2:\n                distance = abs(elem - elem2)\n"
    "                if distance < threshold:\n                    return True\n\n    return False\n\n"
    "assert has_close_elements([1.0, 2.8, 3.0], 0.3)\nassert not has_close_elements([1.0, 2.0], 0.5)"
)
# topic -> (the first answer, the answer to a repair request), written as a small model writes them: prose around
# the code, example calls and prints beside the asserts.
EXERCISES = {
    "alpha": (  # correct at once
        'Here is the exercise:\n```python\ndef total(values: list[int]) -> int:\n    """Sum of the values."""\n'
        "    return sum(values)\n\nprint(total([1, 2]))\nassert total([1, 2, 3]) == 6\nassert total([]) == 0\n```\n"
        "It adds the values.",
        None,
    ),
    "beta": (  # wrong, then fixed once shown the failing assert
        '```python\ndef double(x: int) -> int:\n    """Twice x."""\n    return x + 2\n\nassert double(2) == 4\n'
        "assert double(5) == 10\n```",
        '```python\ndef double(x: int) -> int:\n    """Twice x."""\n    return x * 2\n\nassert double(2) == 4\n'
        "assert double(5) == 10\n```",
    ),
    "gamma": (  # calls a name it never defined, every time
        '```python\ndef shout(text: str) -> str:\n    """Upper-case text."""\n    return uppercase(text)\n\n'
        "assert shout('a') == 'A'\n```",
        None,
    ),
    "delta": (f"```python\n{HUMANEVAL_COPY}\n```", None),  # passes its tests, but copies a benchmark problem
    "epsilon": (  # the only asserts compute their expected value with the solution's own formula
        '```python\ndef area(r: float) -> float:\n    """Area of a square of side r."""\n    return r * r\n\n'
        "assert area(3) == 3 * 3\nassert area(2) == area(2)\n```",
        None,
    ),
    "zeta": ("An exercise about zeta would ask you to think hard about small numbers.", None),  # no code at all
    "eta": (  # a worked example of the prompt written out again, under another name
        '```python\ndef word_count(sentence: str) -> int:\n    """Return how many words the sentence has; words are '
        'separated by spaces."""\n    return len(sentence.split())\n\nassert word_count("the cat sat") == 3\n```',
        None,
    ),
    "theta": (  # prints but no asserts: its tests come from the call that sees only the exercise
        '```python\ndef cube(n: int) -> int:\n    """The cube of n."""\n    return n ** 3\n\nprint(cube(2))\n```',
        None,
    ),
}
# function name -> the answer to the tests prompt; other functions get an answer without asserts
TESTS = {"cube": "```python\nassert cube(2) == 8\nassert cube(-1) == -1\nprint(cube(3))\n```"}
REPAIR_MARKER = "Your answer did not pass the check"
WORKED_EXAMPLES = read_records(recipe_path("python_exercises").parent / "data" / "python_exercise_exemplars.jsonl")


class ScriptedTeacher(Backend):
    """Answers the exercise prompt from the topic it names (the fixed answer when asked again, if there is one), the
    tests prompt from the function it shows and the passage prompt with a short passage; remembers every repair
    request and tests prompt it got."""

    max_concurrency = 4
    model_name = "scripted-teacher"

    def __init__(self) -> None:
        self.repair_requests: list[str] = []
        self.first_requests: list[list[dict]] = []  # the messages of each exercise's first request
        self.tests_prompts: dict[str, str] = {}  # function name -> the tests prompt showing it

    async def chat(self, messages, params: GenerationParams, json_schema=None) -> Completion:
        # The column's own prompt: the last user turn that is not a repair request (worked examples come before it).
        first = next(message["content"] for message in reversed(messages)
                     if message["role"] == "user" and not message["content"].startswith(REPAIR_MARKER))
        if "Python exercise about" in first:
            topic = re.search(r"exercise about (\w+)", first).group(1)
            answer, fixed = EXERCISES[topic]
            if messages[-1]["content"].startswith(REPAIR_MARKER):
                self.repair_requests.append(messages[-1]["content"])
                answer = fixed or answer
            else:
                self.first_requests.append(messages)
            text = answer
        elif first.startswith("Write three assert statements"):
            shown = re.search(r"def (\w+)", first.split("```python")[-1])  # none for an answer without a function
            name = shown.group(1) if shown else ""
            self.tests_prompts[name] = first
            text = TESTS.get(name, "Test it with a few inputs.")
        else:
            topic = re.search(r"example about (\w+)", first).group(1)
            text = f"A passage about {topic}: loops repeat work."
        return Completion(text=text, prompt_tokens=len(first.split()), completion_tokens=len(text.split()),
                          model=self.model_name, finish_reason="stop", seconds=0.0)

    async def complete(self, prompt: str, params: GenerationParams) -> Completion:
        raise NotImplementedError


def recipe_with_topics(topics: list[str]) -> dict:
    path = recipe_path("python_exercises")
    spec = yaml.safe_load(path.read_text())
    topic = next(column for column in spec["columns"] if column["name"] == "topic")
    topic.update(values=topics, without_replacement=True)
    for column in spec["columns"]:  # a dict spec has no folder to resolve the shipped data from
        if column.get("validator") == "decontamination":
            column["references"] = [str(path.parent / reference) for reference in column["references"]]
        if column.get("sampler") == "records":
            column["file"] = str(path.parent / column["file"])
    return spec


def test_the_recipe_ships_with_the_package_and_loads_by_name():
    spec = load_spec("recipe:python_exercises")
    kinds = {column.name: column.kind for column in spec.columns}
    assert kinds["exercise_answer"] == kinds["tests_answer"] == kinds["passage"] == "llm_text"
    assert kinds["solution"] == kinds["problem"] == kinds["tests"] == "expression"
    assert spec.column("exercise_answer").drop and spec.column("tests_answer").drop
    assert spec.column("exercise_answer").repair.validator == "tests_pass"
    assert {kinds[name] for name in ("topic", "difficulty", "concept")} == {"sampler"}
    assert spec.column("tests_pass").validator == "code"
    # HumanEval decontamination is on with no configuration, from the reference shipped with the package
    for name in ("exercise_not_contaminated", "passage_not_contaminated"):
        [reference] = spec.column(name).options["references"]
        assert Path(reference) == recipe_path("python_exercises").parent / "data" / "humaneval.jsonl.gz"
    assert [getattr(rule, "column", None) for rule in spec.filters] == [
        None, "tests_pass", "exercise_not_contaminated", "passage_not_contaminated", "not_copied"]
    order = spec.column_order()
    assert order.index("problem") < order.index("tests_answer") < order.index("tests") < order.index("tests_pass")


def test_only_passing_clean_exercises_are_kept_after_self_debug_and_the_card_says_why(tmp_path, monkeypatch):
    monkeypatch.delenv("PERPETUUM_DECONTAMINATION_REFERENCES", raising=False)
    teacher = ScriptedTeacher()
    started = time.monotonic()
    result = generate(recipe_with_topics(list(EXERCISES)), 8, tmp_path / "out", progress=False,
                      backends={"default": teacher})
    assert time.monotonic() - started < 90
    kept = {record["topic"]: record for record in result.records}
    assert set(kept) == {"alpha", "beta", "theta"}
    # The prose, the print and the asserts are out of the solution; the problem is the signature and docstring.
    assert kept["alpha"]["solution"] == (
        'def total(values: list[int]) -> int:\n    """Sum of the values."""\n    return sum(values)')
    assert kept["alpha"]["problem"] == 'def total(values: list[int]) -> int:\n    """Sum of the values."""'
    assert kept["alpha"]["tests"] == "assert total([1, 2, 3]) == 6\nassert total([]) == 0"
    assert "return x * 2" in kept["beta"]["solution"]  # the repaired answer, its tests remade from it
    # An answer without asserts is tested by the second call, which saw the exercise but not the solution.
    assert kept["theta"]["tests"] == "assert cube(2) == 8\nassert cube(-1) == -1"
    assert 'def cube(n: int) -> int:\n    """The cube of n."""\n```' in teacher.tests_prompts["cube"]
    assert "return n ** 3" not in teacher.tests_prompts["cube"]
    assert "exercise_answer" not in kept["alpha"]
    # Self-debug: the failing assert and what its left side gave were shown to the model.
    beta_request = next(request for request in teacher.repair_requests if "double" in request)
    assert "tests.py:2: assert double(5) == 10 (double(5) gave 7)" in beta_request and "tests_pass" in beta_request
    card = result.card
    tests_pass = card["validators"]["tests_pass"]
    assert (tests_pass["checked"], tests_pass["passed"]) == (8, 5)  # alpha, beta after repair, delta, eta, theta
    assert tests_pass["failure_reasons"] == {"failed (NameError)": 1, "missing": 2}
    repairs = card["repairs"]["exercise_answer"]
    assert (repairs["first_try_passed"], repairs["after_repair_passed"], repairs["records_fixed"]) == (4, 5, 1)
    contaminated = card["validators"]["exercise_not_contaminated"]
    assert (contaminated["checked"], contaminated["passed"]) == (8, 7)
    assert (card["validators"]["not_copied"]["checked"], card["validators"]["not_copied"]["passed"]) == (8, 7)
    assert card["records"]["dropped_by_reason"] == {"filters[0]: {{ problem != '' }}": 1,
                                                    "filters[1]: tests_pass passed": 2,
                                                    "filters[2]: exercise_not_contaminated passed": 1,
                                                    "filters[4]: not_copied passed": 1}
    dropped = [json.loads(line) for line in Path(result.files["dropped"]).read_text().splitlines()]
    details = {item["record"]["topic"]: str(item["detail"]) for item in dropped}
    assert details["epsilon"] == (  # computed expectations are not tests
        "missing: no tests to run; add assert statements after the function, each calling area on an example input "
        "and comparing the result with the exact expected value")
    assert details["delta"].startswith("contaminated: shares") and "humaneval.jsonl.gz#0" in details["delta"]
    assert "python_exercise_exemplars.jsonl#0" in details["eta"]
    markdown = Path(result.files["card_markdown"]).read_text()
    assert any(line.startswith("| tests_pass | code | 5 of 8 | 62.5% |") for line in markdown.splitlines())
    # Every exercise was asked for after two worked examples, each a request and its whole answer.
    for messages in teacher.first_requests:
        assert [message["role"] for message in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
        assert all(messages[i]["content"].startswith("Write a short ") for i in (1, 3, 5))
        assert {messages[2]["content"], messages[4]["content"]} <= {example["answer"] for example in WORKED_EXAMPLES}
        assert messages[2]["content"] != messages[4]["content"]



def test_the_worked_examples_pass_the_checks_they_teach_and_are_not_from_humaneval():
    spec = load_spec("recipe:python_exercises")
    concepts = set(spec.column("concept").values)
    humaneval = NgramIndex.from_files([recipe_path("python_exercises").parent / "data" / "humaneval.jsonl.gz"])
    assert len(WORKED_EXAMPLES) >= 20
    for example in WORKED_EXAMPLES:
        assert example["concept"] in concepts and example["answer"].startswith("```python\n")
        solution = python_definitions(example["answer"])
        tests = assert_statements(example["answer"], calling=function_name(solution))
        assert len(tests.splitlines()) == 3, example["id"]
        result = run_python(solution, tests=tests)
        assert result.passed, (example["id"], result.reason)
        assert humaneval.shared_ngrams(f"{solution}\n{tests}") == [], example["id"]
