"""`validator` columns and the registry of validator kinds.

A validator kind is a class registered by name with an `Options` pydantic model (the column's extra keys) and a
`check(value, record)` method returning a `ValidationOutcome` (or an awaitable of one). Built-in kinds:

- `python`: `function: "package.module:callable"`, called as f(value) or f(value, record); it returns a bool,
  a (bool, message) pair, a {passed, message, ...} dict (other keys are stored too) or a ValidationOutcome. An
  exception counts as a failure.
- `regex`: `pattern`, with `mode` search (default) or fullmatch, and `ignore_case`.
- `code` (`code_validator.py`): runs a solution against its tests in the sandbox.
- `decontamination` (`decontamination.py`): fails records sharing a long n-gram with a benchmark or other text.

The last two are imported on first use, so a spec without them never loads the sandbox or an n-gram index.

Add your own in code, or from a package through the entry-point group `perpetuum.validators` ("kind = module:Class"):

    @register_validator("max_words")
    class MaxWords(Validator):
        class Options(BaseModel):
            limit: int
        def check(self, value, record):
            n = len(str(value).split())
            return ValidationOutcome(n <= self.options.limit, f"{n} words")
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from perpetuum.errors import PerpetuumError
from perpetuum.pipeline.columns import ColumnRunner
from perpetuum.pipeline.templates import render
from perpetuum.registry import Registry

if TYPE_CHECKING:
    from perpetuum.pipeline.spec_models import ValidatorColumn

__all__ = [
    "ValidationOutcome",
    "Validator",
    "ValidatorSetupError",
    "register_validator",
    "get_validator",
    "available_validators",
    "build_validator",
    "template_options",
    "ValidatorRunner",
    "check_column",
]


@dataclass
class ValidationOutcome:
    passed: bool
    message: str = ""
    details: dict = field(default_factory=dict)  # extra JSON-ready keys stored beside passed and message

    def as_dict(self) -> dict:
        return {**self.details, "passed": self.passed, "message": self.message}


class ValidatorSetupError(PerpetuumError, ValueError):
    """A validator column's options are wrong; `path` is the offending key inside the column."""

    def __init__(self, message: str, path: str = "", problems: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.path = path
        self.problems = problems or [(path, message)]


class Validator(ABC):
    """A validator kind. `Options` validates the column's extra keys; `check` judges one value.

    `depends_on_run` is True for kinds whose verdict also depends on something given only to the run that made the
    data (e.g. reference files named by an environment variable), which the review desk therefore cannot re-check.
    `templated` names the options that are Jinja templates rendered with the record: the columns they read are
    checked to exist and run before the validator.
    """

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")

    options: Any
    depends_on_run: bool = False
    templated: tuple[str, ...] = ()

    def __init__(self, options) -> None:
        self.options = options

    @abstractmethod
    def check(self, value: Any, record: dict[str, Any]):
        """A ValidationOutcome (or an awaitable of one) for `value`; `record` holds the other columns."""


# Kinds provided by modules imported on first use, so the core never imports them up front.
VALIDATORS = Registry(
    "validator kind",
    modules={
        "code": "perpetuum.pipeline.columns.code_validator",
        "decontamination": "perpetuum.pipeline.columns.decontamination",
    },
    name_attribute=None,
    entry_point_group="perpetuum.validators",
    hint="; or register your own with perpetuum.pipeline.register_validator",
    error=lambda message: ValidatorSetupError(message, "validator"),
)


def register_validator(kind: str) -> Callable[[type[Validator]], type[Validator]]:
    """Class decorator: make `kind` usable as `validator: <kind>` in specs."""
    return VALIDATORS.register(kind)


def available_validators() -> list[str]:
    return VALIDATORS.names()


def get_validator(kind: str) -> type[Validator]:
    return VALIDATORS.get(kind)


def template_options(kind: str) -> tuple[str, ...]:
    """The options of validator kind `kind` that are Jinja templates (none for a kind that is not registered: the
    spec check reports that)."""
    try:
        return tuple(get_validator(kind).templated)
    except ValidatorSetupError:
        return ()


def build_validator(kind: str, options: dict[str, Any]) -> Validator:
    cls = get_validator(kind)
    try:
        parsed = cls.Options.model_validate(options)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] == "extra_forbidden":
                message = f"unknown key for a {kind!r} validator"
            elif item["type"] == "missing":
                message = f"required key for a {kind!r} validator is missing"
            problems.append((".".join(str(part) for part in item["loc"]), message))
        raise ValidatorSetupError(problems[0][1], problems[0][0], problems) from None
    return cls(parsed)


def _outcome(result: Any) -> ValidationOutcome:
    if isinstance(result, ValidationOutcome):
        return result
    if isinstance(result, dict):
        details = {key: value for key, value in result.items() if key not in ("passed", "message")}
        return ValidationOutcome(bool(result.get("passed")), str(result.get("message", "")), details)
    if isinstance(result, tuple) and len(result) == 2:
        return ValidationOutcome(bool(result[0]), str(result[1]))
    return ValidationOutcome(bool(result), "")


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _import_callable(path: str) -> Callable:
    module_name, _, attribute_path = path.partition(":")
    if not attribute_path:
        module_name, _, attribute_path = path.rpartition(".")
    if not module_name or not attribute_path:
        raise ValueError(f"{path!r} is not of the form 'package.module:function'")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"cannot import {module_name!r}: {error}") from None
    for part in attribute_path.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ValueError(f"{module_name!r} has no {attribute_path!r}") from None
    if not callable(target):
        raise ValueError(f"{path!r} is not callable")
    return target


@register_validator("python")
class PythonValidator(Validator):
    class Options(Validator.Options):
        function: str

    def __init__(self, options) -> None:
        super().__init__(options)
        try:
            self.function = _import_callable(options.function)
        except ValueError as error:
            raise ValidatorSetupError(str(error), "function") from None
        self._takes_record = _accepts_two_arguments(self.function)

    def check(self, value, record):
        try:
            result = self.function(value, record) if self._takes_record else self.function(value)
        except Exception as error:  # the function's own failure is the record's verdict, not a crash
            return ValidationOutcome(False, f"{type(error).__name__}: {error}")
        if inspect.isawaitable(result):
            return _awaited_outcome(result)
        return _outcome(result)


async def _awaited_outcome(awaitable) -> ValidationOutcome:
    try:
        return _outcome(await awaitable)
    except Exception as error:
        return ValidationOutcome(False, f"{type(error).__name__}: {error}")


def _accepts_two_arguments(function: Callable) -> bool:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # builtins such as str.isdigit take exactly the value
        return False
    positional = [
        p
        for p in signature.parameters.values()
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    has_varargs = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in signature.parameters.values())
    return has_varargs or len(positional) >= 2


@register_validator("regex")
class RegexValidator(Validator):
    class Options(Validator.Options):
        pattern: str
        mode: Literal["search", "fullmatch"] = "search"
        ignore_case: bool = False

    def __init__(self, options) -> None:
        super().__init__(options)
        try:
            self.regex = re.compile(options.pattern, re.IGNORECASE if options.ignore_case else 0)
        except re.error as error:
            raise ValidatorSetupError(f"not a valid regular expression: {error}", "pattern") from None

    def check(self, value, record):
        text = _as_text(value)
        match = getattr(self.regex, self.options.mode)(text)
        if match:
            return ValidationOutcome(True, f"matched {match.group(0)[:60]!r}")
        flags = ", ignoring case" if self.options.ignore_case else ""
        if self.options.mode == "fullmatch":
            return ValidationOutcome(False, f"the whole text must match /{self.options.pattern}/{flags}; it does not")
        return ValidationOutcome(False, f"nothing in the text matches /{self.options.pattern}/{flags}")


async def check_column(column: "ValidatorColumn", validator: Validator, record: dict[str, Any]) -> dict:
    """The stored value ({passed, message, ...}) of validator column `column` for `record`: `validator` checking the
    column's target, or its rendered template."""
    value = record[column.target] if column.target is not None else render(column.template, record)
    result = validator.check(value, record)
    if inspect.isawaitable(result):
        result = await result
    return _outcome(result).as_dict()


class ValidatorRunner(ColumnRunner):
    def prepare(self):
        self.validator = build_validator(self.column.validator, self.column.options)

    async def compute(self, record, context):
        return await check_column(self.column, self.validator, record)


__all__ += ["PythonValidator", "RegexValidator"]
