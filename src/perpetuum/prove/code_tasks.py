"""Coding tasks a model answers and the sandbox scores: HumanEval-style problems and a dataset's own exercises.

    tasks = benchmark_tasks("HumanEval.jsonl.gz")            # {task_id, prompt, test, entry_point} per line
    passed, failed = exercise_tasks(read_records("out/py"))  # recipe:python_exercises records, by sandbox verdict
    question(task) -> the instruction a model answers; training_pair(task) -> (question, the reference answer)
    verdicts = score_answers(tasks, answers)                 # each answer run against its task's tests

A task is the function's signature and docstring (`prompt`), the tests that judge an answer, and the name of the
function; an exercise also carries its reference solution. An answer is the first ```python block of a reply,
completed from the prompt when it holds only a body (the benchmark's own convention).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from perpetuum.errors import DataInputError

__all__ = ["CodeTask", "ANSWER_INSTRUCTION", "benchmark_tasks", "exercise_tasks", "program_of", "question",
           "score_answers", "training_pair"]

ANSWER_INSTRUCTION = (
    "Complete the following Python function. Answer with the complete function (its imports, signature, docstring "
    "and body) in one ```python code block.\n\n```python\n{prompt}```"
)
CODE_BLOCK = re.compile(r"```(?:python|py)?[^\n]*\n(.*?)(?:```|\Z)", re.S)
FUNCTION = re.compile(r"^def\s+([A-Za-z_]\w*)\s*\(", re.M)
IMPORT_LINE = re.compile(r"(import\s+[\w.]+|from\s+[\w.]+\s+import\s)")


@dataclass(frozen=True)
class CodeTask:
    task_id: str
    prompt: str          # imports, signature and docstring
    tests: str           # code that raises when an answer is wrong
    entry_point: str
    solution: str = ""   # the reference answer (an exercise's own solution)


def question(task: CodeTask) -> str:
    prompt = task.prompt if task.prompt.endswith("\n") else task.prompt + "\n"
    return ANSWER_INSTRUCTION.format(prompt=prompt)


def training_pair(task: CodeTask) -> tuple[str, str]:
    """(question, answer) to fine-tune on: the answer is the reference solution in a code block."""
    return question(task), f"```python\n{task.solution.strip()}\n```"


def program_of(prompt: str, entry_point: str, answer: str) -> str:
    """The code to run: the answer's first code block, completed from the prompt when it lacks the function."""
    match = CODE_BLOCK.search(answer)
    code = match.group(1) if match else answer
    if not re.search(rf"^\s*def\s+{re.escape(entry_point)}\s*\(", code, re.M):
        return prompt + code  # a body only: the prompt supplies the signature
    # Only the prompt's top-level imports: an indented "from ..." is a docstring's prose or a body's own import.
    imports = "\n".join(line for line in prompt.splitlines() if IMPORT_LINE.match(line))
    return f"{imports}\n{code}" if imports else code


def benchmark_tasks(path: str | Path) -> list[CodeTask]:
    """HumanEval-style problems from a .jsonl(.gz) file: each line has prompt, test and entry_point (task_id
    optional); an answer passes when `test` followed by `check(entry_point)` runs without error."""
    from perpetuum.prove.inputs import read_records

    path = Path(path)
    tasks = []
    for number, row in enumerate(read_records(path), 1):
        missing = [key for key in ("prompt", "test", "entry_point") if not isinstance(row.get(key), str)]
        if missing:
            raise DataInputError(f"{path}: line {number} lacks {', '.join(missing)} (a benchmark line needs "
                                 "prompt, test and entry_point, as HumanEval's do)")
        tests = f"{row['test']}\ncheck({row['entry_point']})\n"
        tasks.append(CodeTask(str(row.get("task_id", number)), row["prompt"], tests, row["entry_point"],
                              row.get("canonical_solution", "")))
    return tasks


def _passed(value) -> bool | None:
    if isinstance(value, dict) and "passed" in value:
        return bool(value["passed"])
    return None


def exercise_tasks(records: list[dict]) -> tuple[list[CodeTask], list[CodeTask]]:
    """(passed, failed): recipe:python_exercises records with a function and tests, split by the sandbox verdict
    (`tests_pass`). Records that failed another check (contamination, a copied worked example) are in neither:
    they are not data anyone should train on, whatever their tests say."""
    passed, failed = [], []
    for index, record in enumerate(records):
        solution, tests, problem = (record.get(key) for key in ("solution", "tests", "problem"))
        if not all(isinstance(value, str) and value.strip() for value in (solution, tests, problem)):
            continue
        verdict = _passed(record.get("tests_pass"))
        others = [_passed(value) for key, value in record.items() if key != "tests_pass"]
        if verdict is None or any(other is False for other in others):
            continue
        names = FUNCTION.findall(problem)
        if not names:
            continue
        task = CodeTask(str(record.get("_id", index)), problem, tests, names[0], solution)
        (passed if verdict else failed).append(task)
    return passed, failed


def score_answers(tasks: list[CodeTask], answers: list[str], workers: int | None = None,
                  wall_seconds: float = 15, cpu_seconds: float = 10) -> list[dict]:
    """Run each answer against its task's tests in the sandbox: one {task_id, passed, status, reason} per task."""
    from perpetuum.sandbox import SandboxLimits, SandboxPool

    limits = SandboxLimits(wall_seconds=wall_seconds, cpu_seconds=cpu_seconds)
    jobs = [(program_of(task.prompt, task.entry_point, answer), task.tests) for task, answer in zip(tasks, answers)]
    with SandboxPool(workers=workers, limits=limits) as pool:
        results = pool.map(jobs)
    return [{"task_id": task.task_id, "passed": result.passed, "status": result.status,
             "reason": result.reason[:200]} for task, result in zip(tasks, results)]
