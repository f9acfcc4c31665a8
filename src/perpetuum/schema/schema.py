"""The table schema: an explicit, editable, saveable description of each column.

Inference (`perpetuum.schema.infer_schema`) makes a first draft; users print it, correct kinds, save it as JSON
and pass it back to any synthesizer's `fit(df, schema=...)`.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from perpetuum.errors import SchemaError
from perpetuum.privacy.pii_kinds import PiiSpec


class ColumnKind(str, Enum):
    """What a column holds, which decides how synthesizers learn and generate it."""

    CONTINUOUS = "continuous"  # real numbers
    INTEGER = "integer"  # whole numbers, counts
    CATEGORICAL = "categorical"  # a finite set of labels (low or high cardinality)
    BOOLEAN = "boolean"  # two values, True/False
    DATETIME = "datetime"  # points in time, possibly stored as text with a format
    IDENTIFIER = "identifier"  # unique keys: generated fresh, never learned
    TEXT = "text"  # free text: generated from a word model, never copied whole

    @property
    def is_numeric(self) -> bool:
        return self in (ColumnKind.CONTINUOUS, ColumnKind.INTEGER, ColumnKind.DATETIME)


class ColumnSpec(BaseModel):
    """One column: its kind, its storage type in the source, and the facts inference saw."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    name: str
    kind: ColumnKind
    dtype: str = Field(description="pandas dtype of the source column, restored on output")
    missing_rate: float = Field(0.0, ge=0.0, le=1.0)
    n_unique: int = Field(0, ge=0)
    high_cardinality: bool = False
    datetime_format: str | None = Field(
        None, description="strftime format when datetimes are stored as text; None for native datetimes"
    )
    identifier_pattern: str | None = Field(
        None, description="character-class template of string identifiers, e.g. 'AA999' (A letter, 9 digit)"
    )
    pii: PiiSpec | None = Field(
        None, description="personal identifier: replaced by fresh fakes, never learned; null to model the column"
    )
    # Public knowledge about the column, never filled in from the data by inference: the differentially private
    # synthesizers (dp-aim, dp-mst) use them instead of reading (and so leaking) the data's own categories or range.
    categories: list | None = Field(
        None, description="every label the column may hold (public knowledge, e.g. from the data's documentation)"
    )
    bounds: tuple[float, float] | None = Field(
        None, description="[low, high] of a numeric column (public knowledge); values outside are clipped"
    )

    @field_validator("name")
    @classmethod
    def _name_not_empty(cls, value: str) -> str:
        if not str(value).strip():
            raise ValueError("column name must not be empty")
        return value

    @field_validator("bounds")
    @classmethod
    def _bounds_ordered(cls, value):
        if value is not None and not value[0] <= value[1]:
            raise ValueError(f"bounds must be [low, high] with low <= high, got {list(value)}")
        return value


class TableSchema(BaseModel):
    """The ordered columns of a table."""

    model_config = ConfigDict(extra="forbid")

    columns: list[ColumnSpec]

    @field_validator("columns")
    @classmethod
    def _unique_names(cls, columns: list[ColumnSpec]) -> list[ColumnSpec]:
        seen: set[str] = set()
        for column in columns:
            if column.name in seen:
                raise ValueError(f"column {column.name!r} appears twice; column names must be unique")
            seen.add(column.name)
        return columns

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    def __getitem__(self, name: str) -> ColumnSpec:
        for column in self.columns:
            if column.name == name:
                return column
        raise SchemaError(f"the schema has no column {name!r}; its columns are: {', '.join(self.names)}")

    def __contains__(self, name: object) -> bool:
        return any(column.name == name for column in self.columns)

    def of_kind(self, *kinds: ColumnKind) -> list[ColumnSpec]:
        return [column for column in self.columns if column.kind in kinds]

    def set_kind(self, name: str, kind: ColumnKind | str) -> "TableSchema":
        """Correct one column's inferred kind (returns self so calls chain)."""
        self[name].kind = ColumnKind(kind)
        return self

    def to_json(self, path: str | Path | None = None) -> str:
        text = self.model_dump_json(indent=2)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    @classmethod
    def from_json(cls, source: str | Path) -> "TableSchema":
        """Load a schema from a JSON file path or a JSON string."""
        text = str(source)
        if not text.lstrip().startswith("{"):
            path = Path(source)
            if not path.exists():
                raise SchemaError(f"schema file {path} does not exist")
            text = path.read_text(encoding="utf-8")
        try:
            return cls.model_validate(json.loads(text))
        except (json.JSONDecodeError, ValueError) as error:
            raise SchemaError(f"schema JSON is invalid: {error}") from None

    def check_matches(self, columns: list[str]) -> None:
        """Raise a SchemaError unless the data has exactly the schema's columns."""
        missing = [name for name in self.names if name not in columns]
        extra = [name for name in columns if name not in self]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing from the data: {', '.join(map(repr, missing))}")
            if extra:
                parts.append(f"not in the schema: {', '.join(map(repr, extra))}")
            raise SchemaError(
                "the schema does not match the data's columns (" + "; ".join(parts) + "). "
                "Infer a new schema or edit the saved one."
            )
