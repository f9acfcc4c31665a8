"""Re-running a record's validators after a reviewer's edit, so that a corrected claim or a fixed test clears its
flag, and a new mistake raises one.

A validator is re-run when the edit touches a column it reads (its `target`, a column named in its templates, or one
in its `depends_on`), with its options from the dataset card. One that cannot be re-run here (its kind or function
does not import, a template fails, or it depends on something given only to the generating run, such as
decontamination reference files) keeps its old verdict, marked with `recheck_error` saying why it may be stale.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

from pydantic import ValidationError

from perpetuum.pipeline.columns.validators import ValidatorSetupError, build_validator, check_column
from perpetuum.pipeline.spec_models import ValidatorColumn
from perpetuum.pipeline.templates import TemplateProblem
from perpetuum.review.dataset import ColumnInfo, column_references

__all__ = ["recheck", "validators_reading"]


def validators_reading(columns: list[ColumnInfo], edited: str) -> list[ColumnInfo]:
    """The validator columns (known from the card's spec) that read column `edited`."""
    names = [column.name for column in columns]
    return [
        column for column in columns
        if column.kind == "validator" and column.spec.get("validator") and column.name != edited
        and edited in column_references(column.spec, names)
    ]


def recheck(columns: list[ColumnInfo], record: dict[str, Any], edited: str) -> dict[str, Any]:
    """{validator column: its new value} for the validators reading `edited`, checked on `record` as it is now."""
    return {column.name: _recheck_one(column, record) for column in validators_reading(columns, edited)
            if column.name in record}


def _recheck_one(column: ColumnInfo, record: dict[str, Any]) -> Any:
    old = record[column.name]
    try:
        spec = ValidatorColumn.model_validate(column.spec)
        validator = build_validator(spec.validator, spec.options)
        if validator.depends_on_run:
            return _stale(old, f"the {spec.validator} validator depends on what its generating run was given, so "
                               "it is not re-run here")
        return _run(check_column(spec, validator, record))
    except (ValidatorSetupError, ValidationError, TemplateProblem, KeyError) as problem:
        return _stale(old, f"not re-checked after the edit: {problem}")
    except Exception as problem:  # a template or user function failing is a stale verdict, not a failed save
        return _stale(old, f"not re-checked after the edit: {type(problem).__name__}: {problem}")


def _stale(old: Any, reason: str) -> Any:
    return {**old, "recheck_error": reason} if isinstance(old, dict) else old


def _run(coroutine) -> dict:
    """Run a validator's coroutine to its end from synchronous code, inside a running event loop or not."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
