"""Column kinds at run time: each spec column becomes a runner whose `compute(record, context)` returns its value.

A runner is built once per run from its spec model; `compute` is called once per record, after every column the
record's value depends on. The `RecordContext` gives it the record index, seeded random generators and the model
backends (with the executor's concurrency limits, retries and token accounting already wrapped around them).

New column kinds are plug-ins: a `ColumnRunner` subclass registered with `@register_column_kind("name")` (or named
in the entry-point group `perpetuum.column_kinds`), with an optional pydantic `Options` model for the column's
other keys. A spec then uses it as `{name: ..., kind: name, ...}`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Protocol

from perpetuum.errors import SpecError
from perpetuum.registry import Registry

if TYPE_CHECKING:
    import numpy as np

    from perpetuum.pipeline.spec import DatasetSpec

__all__ = ["COLUMN_KIND_PLUGINS", "ColumnRunner", "RecordContext", "build_runner", "register_column_kind"]


class RecordContext(Protocol):
    """What the executor hands a column for one record. `repairs` collects what verify-and-repair did."""

    index: int
    run_seed: int
    repairs: list[dict[str, Any]]

    def tokens_used(self) -> tuple[int, int]:
        """(prompt, completion) tokens the record's model calls have used so far."""

    def rng(self, column: str, *salt: object) -> np.random.Generator: ...

    def model_seed(self, column: str, *salt: object) -> int: ...

    def backend(self, name: str | None): ...


class ColumnRunner(ABC):
    """Computes one column's value for one record."""

    def __init__(self, column, spec: DatasetSpec) -> None:
        self.column = column
        self.spec = spec
        self.name: str = column.name

    def prepare(self) -> None:
        """Work done once per run before any record (reading word files, building permutations)."""

    @abstractmethod
    async def compute(self, record: dict[str, Any], context: RecordContext) -> Any:
        """The column's value for this record; `record` holds every column computed so far."""


COLUMN_KIND_PLUGINS = Registry(
    "column kind", entry_point_group="perpetuum.column_kinds", name_attribute="kind", error=SpecError
)


def register_column_kind(kind: str):
    """Class decorator: make a ColumnRunner subclass the runner of `kind: <kind>` columns in specs."""
    return COLUMN_KIND_PLUGINS.register(kind)


def build_runner(column, spec: DatasetSpec) -> ColumnRunner:
    from perpetuum.pipeline.columns import dialogue, expression, judge, llm_columns, samplers, validators

    builders = {
        "sampler": samplers.build_sampler,
        "llm_text": llm_columns.LLMTextRunner,
        "llm_json": llm_columns.LLMJsonRunner,
        "llm_judge": judge.JudgeRunner,
        "expression": expression.ExpressionRunner,
        "validator": validators.ValidatorRunner,
        "dialogue": dialogue.DialogueRunner,
    }
    builder = builders.get(column.kind) or COLUMN_KIND_PLUGINS.get(column.kind)
    runner = builder(column, spec)
    runner.prepare()
    return runner
