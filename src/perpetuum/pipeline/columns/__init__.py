"""Column kinds at run time: each spec column becomes a runner whose `compute(record, context)` returns its value.

A runner is built once per run from its spec model; `compute` is called once per record, after every column the
record's value depends on. The `RecordContext` gives it the record index, seeded random generators and the model
backends (with the executor's concurrency limits, retries and token accounting already wrapped around them).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

    from perpetuum.pipeline.spec import DatasetSpec

__all__ = ["ColumnRunner", "RecordContext", "build_runner"]


class RecordContext(Protocol):
    """What the executor hands a column for one record."""

    index: int
    run_seed: int

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
    runner = builders[column.kind](column, spec)
    runner.prepare()
    return runner
