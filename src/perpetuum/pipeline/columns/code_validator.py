"""The `code` validator kind: run a record's solution against its tests in the sandbox.

    - name: tests_pass
      kind: validator
      validator: code
      target: exercise          # a JSON column {"solution": "...", "tests": "..."}, or a column holding code
      code_key: solution        # where the code is when the value is a mapping (default "solution")
      tests_key: tests          # where the tests are (default "tests"; a list of asserts is joined by lines)
      # tests: "assert add(1, 2) == 3"   # or a Jinja template rendered with the record, instead of tests_key
      limits: {wall_seconds: 10, cpu_seconds: 5, memory_bytes: 268435456}

The stored value is {passed, message, status, tests_run, duration_seconds}. The message starts with the status and
the exception type, which is what the dataset card groups failure reasons by, then says what failed precisely
enough to fix it (it is what a `repair` shows the model): the failing test line, for a one-line assert what its
left side gave, where in the solution an error was raised, and the error's message, e.g.

    failed (AssertionError): tests: AssertionError at tests.py:3: assert add(1, 2) == 4 (add(1, 2) gave 3)
    failed (ZeroDivisionError): tests: ZeroDivisionError at tests.py:2: assert inv(0) == 0, raised at
        solution.py:2: return 1 / a (division by zero)
    missing: no tests to run; add assert statements after the function, each calling add on an example input and
        comparing the result with the exact expected value

Markdown code fences around the code or the tests are removed first.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Literal

from pydantic import Field

from perpetuum.errors import ParameterError
from perpetuum.pipeline.columns.validators import Validator, ValidatorSetupError, register_validator
from perpetuum.pipeline.code_filters import function_name, strip_code_fences
from perpetuum.pipeline.templates import render
from perpetuum.sandbox.limits import SandboxLimits
from perpetuum.sandbox.runner import run_python

__all__ = ["CodeValidator", "strip_code_fences", "solution_and_tests"]

# Sandboxes running at once across every code validator of the process (each is a process tree of its own).
_slots = threading.BoundedSemaphore(2)
_slots_size = 2
_slots_lock = threading.Lock()


def _as_code(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return "\n".join(str(item) for item in value)
    return strip_code_fences(str(value))


def solution_and_tests(value: Any, code_key: str, tests_key: str) -> tuple[str | None, str | None]:
    """(code, tests) found in a validator's value: a mapping with the two keys, or a string of code (no tests)."""
    if isinstance(value, dict):
        return _as_code(value.get(code_key)), _as_code(value.get(tests_key))
    return _as_code(value), None


def _tests_wanted(code: str) -> str:
    """What tests would look like, for a repair: asked to correct "no tests to run" alone, SmolLM2-135M wrote the
    same answer again."""
    name = function_name(code)
    if not name:
        return ""
    return (f"; add assert statements after the function, each calling {name} on an example input and comparing "
            "the result with the exact expected value")


def _set_parallel(size: int) -> None:
    global _slots, _slots_size
    with _slots_lock:
        if size != _slots_size:
            _slots, _slots_size = threading.BoundedSemaphore(size), size


@register_validator("code")
class CodeValidator(Validator):
    class Options(Validator.Options):
        code_key: str = "solution"
        tests_key: str = "tests"
        tests: str | None = Field(default=None, description="A Jinja template of the tests, instead of tests_key.")
        require_tests: bool = True
        limits: dict[str, Any] = Field(default_factory=dict, description="SandboxLimits fields.")
        isolation: Literal["auto", "namespaces", "user_namespaces", "rlimits_only"] = "auto"
        parallel: int = Field(default=2, ge=1, le=64, description="Sandboxes running at once in this process.")

    templated = ("tests",)

    def __init__(self, options) -> None:
        super().__init__(options)
        try:
            self.limits = SandboxLimits(**options.limits)
        except TypeError as error:
            known = ", ".join(SandboxLimits.__dataclass_fields__)
            raise ValidatorSetupError(f"{error}; the limits are {known}", "limits") from None
        except ParameterError as error:
            raise ValidatorSetupError(str(error), "limits") from None
        _set_parallel(options.parallel)

    def check(self, value, record):
        code, tests = solution_and_tests(value, self.options.code_key, self.options.tests_key)
        if self.options.tests is not None:
            tests = _as_code(render(self.options.tests, record))
        if not code or not code.strip():
            where = f"under {self.options.code_key!r}" if isinstance(value, dict) else "in the answer"
            return {"passed": False, "message": f"missing: no code {where}", "status": "missing"}
        if self.options.require_tests and not (tests and tests.strip()):
            return {"passed": False, "message": "missing: no tests to run" + _tests_wanted(code), "status": "missing"}
        return asyncio.to_thread(self._run, code, tests)

    def _run(self, code: str, tests: str | None) -> dict:
        slots = _slots
        with slots:
            result = run_python(code, tests=tests, limits=self.limits, isolation=self.options.isolation)
        # A dict (not a ValidationOutcome) so the extra keys are stored wherever the pipeline keeps them.
        details = {"status": result.status, "tests_run": result.tests_run, "duration_seconds": result.duration_seconds}
        if result.passed:
            return {"passed": True, "message": f"ok: {result.tests_run} test(s) passed", **details}
        kind = f" ({result.error_type})" if result.error_type else ""
        return {"passed": False, "message": f"{result.status}{kind}: {result.reason}", **details}
