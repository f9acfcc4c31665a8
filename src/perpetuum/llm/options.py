"""Backend options, checked when a spec loads: a bad `n_ctx` is a spec error naming the backend and the key before
any record runs, not a failure of every record once the run has started.

A backend's options model is its class's `Options` (a pydantic model) when it defines one, else it is built from
the class's `__init__` signature: the parameter names, their annotated types and their defaults, with the limits in
`LIMITS` for the names backends share. So a new parameter of a backend needs no second declaration here.
"""

from __future__ import annotations

import functools
import inspect
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

__all__ = ["LIMITS", "options_model", "option_problems"]

# Limits of option names that mean the same for every backend that takes them.
LIMITS: dict[str, dict[str, float]] = {
    "n_ctx": {"ge": 64},  # llama.cpp needs room for a chat template and an answer
    "n_parallel": {"ge": 1},
    "n_threads": {"ge": 1},
    "max_concurrency": {"ge": 1},
    "max_retries": {"ge": 0},
    "timeout": {"gt": 0},
}


@functools.lru_cache(maxsize=None)
def options_model(backend_class: type) -> type[BaseModel]:
    """The pydantic model of `backend_class`'s options (see the module)."""
    declared = getattr(backend_class, "Options", None)
    if isinstance(declared, type) and issubclass(declared, BaseModel):
        return declared
    signature = inspect.signature(backend_class.__init__)
    try:
        hints = typing.get_type_hints(backend_class.__init__)
    except Exception:  # an annotation that cannot be resolved here: check names and limits, not types
        hints = {}
    fields: dict[str, Any] = {}
    takes_any_key = False
    for name, parameter in list(signature.parameters.items())[1:]:
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            takes_any_key = True
            continue
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        annotation = _checkable(hints.get(name, Any))
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[name] = (annotation, Field(default, **LIMITS.get(name, {})))
    # Lax, as pydantic's default: "big" for an int is an error, while a path given as text suits a Path parameter.
    config = ConfigDict(extra="allow" if takes_any_key else "forbid", arbitrary_types_allowed=True)
    return create_model(f"{backend_class.__name__}Options", __config__=config, **fields)


def _checkable(annotation: Any) -> Any:
    """`annotation`, or Any when pydantic cannot check values against it."""
    try:
        TypeAdapter(annotation)
    except Exception:
        return Any
    return annotation


def option_problems(backend_class: type, options: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, what is wrong) for each bad option in `options`; empty when they suit `backend_class`."""
    model = options_model(backend_class)
    try:
        model.model_validate(options)
    except ValidationError as error:
        accepted = ", ".join(model.model_fields)
        problems = []
        for item in error.errors():
            key = ".".join(str(part) for part in item["loc"]) or "(options)"
            if item["type"] == "extra_forbidden":
                message = f"unknown option; it accepts {accepted}"
            elif item["type"] == "missing":
                message = "required option is missing"
            else:
                message = item["msg"].removeprefix("Value error, ")
            problems.append((key, message))
        return problems
    return []
