"""Jinja2 for specs: one sandboxed environment, the column names a template reads, and rendering with a record.

Templates run in Jinja's immutable sandbox because a spec may come from someone else; a name the record lacks is
an error (StrictUndefined) rather than an empty string silently sent to a model. Filters added to Jinja's own:
`to_json` (a value as JSON) and the code filters of perpetuum.pipeline.code_filters (`code`, `asserts`,
`definitions`, `python_stub`, `function_name`), which keep the program in a model's answer and drop the prose around it.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from perpetuum.pipeline.code_filters import (
    assert_statements,
    function_name,
    python_definitions,
    python_stub,
    strip_code_fences,
)

__all__ = ["TemplateProblem", "referenced_names", "render", "compile_template"]


def _to_json(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent, sort_keys=False)


@functools.lru_cache(maxsize=1)
def environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False)
    env.filters["to_json"] = _to_json
    env.filters["code"] = strip_code_fences
    env.filters["asserts"] = assert_statements
    env.filters["definitions"] = python_definitions
    env.filters["python_stub"] = python_stub
    env.filters["function_name"] = function_name
    return env


class TemplateProblem(ValueError):
    """A template does not parse; the message says where."""


@functools.lru_cache(maxsize=2048)
def referenced_names(source: str) -> frozenset[str]:
    """The top-level names `source` reads (`{{ person.name }}` reads `person`), less Jinja's own globals."""
    env = environment()
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as error:
        raise TemplateProblem(f"template error at line {error.lineno}: {error.message}") from None
    return frozenset(meta.find_undeclared_variables(tree) - set(env.globals))


@functools.lru_cache(maxsize=2048)
def compile_template(source: str):
    return environment().from_string(source)


def render(source: str, record: dict[str, Any]) -> str:
    """Render `source` with the record's values as variables."""
    return compile_template(source).render(record)
