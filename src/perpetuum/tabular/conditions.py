"""Sampling conditions: what a user may ask for, checked and translated into the model matrix's terms.

`conditions` maps a column to a value (equality), a list of values (any of them), or `Between(low, high)` for a
numeric or datetime range (inclusive). Strings are coerced to the column's type, so the CLI can pass
`income=>50K`, `age=42` or `age=30..40`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from perpetuum.errors import ConditionError
from perpetuum.schema import ColumnKind
from perpetuum.tabular.transforms import ModelColumn, TableEncoder

_RANGE_SEPARATOR = ".."


@dataclass(frozen=True)
class Between:
    """An inclusive range condition; either end may be None (open)."""

    low: Any = None
    high: Any = None


@dataclass
class EncodedCondition:
    """One condition in model-matrix terms: allowed category codes, or allowed exact numbers and/or a range."""

    index: int
    column: ModelColumn
    codes: np.ndarray | None = None  # categorical columns
    values: np.ndarray | None = None  # numeric columns: exact values (NaN means missing)
    low: float = np.nan  # numeric columns: inclusive range, NaN when no range was asked
    high: float = np.nan

    @property
    def is_range(self) -> bool:
        return not np.isnan(self.low)


def encode_conditions(conditions: dict | None, encoder: TableEncoder) -> list[EncodedCondition]:
    """Check `conditions` against the fitted columns and translate them; raises ConditionError naming the problem."""
    if not conditions:
        return []
    if not isinstance(conditions, dict):
        raise ConditionError(f"conditions must be a dict of column -> value, got {type(conditions).__name__}")
    conditions = _through_derived_columns(conditions, encoder)
    positions = {column.name: index for index, column in enumerate(encoder.model_columns_)}
    encoded = []
    for name, wanted in conditions.items():
        if name not in encoder.schema_:
            raise ConditionError(
                f"condition on unknown column {name!r}; the table's columns are: {', '.join(encoder.schema_.names)}"
            )
        if name not in positions:
            reason = "it is generated fresh" if name in encoder.generators_ else "it is empty in the data"
            raise ConditionError(f"cannot condition on column {name!r}: {reason}, not learned.")
        column = encoder.model_columns_[positions[name]]
        if column.is_numeric:
            encoded.append(_numeric_condition(positions[name], column, wanted, encoder))
        else:
            encoded.append(_categorical_condition(positions[name], column, wanted))
    return encoded


def _through_derived_columns(conditions: dict, encoder: TableEncoder) -> dict:
    """A condition on a derived column becomes one on the column it is derived from."""
    translated = {}
    for name, wanted in conditions.items():
        derived = encoder.derived_.get(name)
        if derived is None:
            translated[name] = wanted
            continue
        if derived.source in conditions:
            raise ConditionError(
                f"column {name!r} is determined by {derived.source!r}; condition on one of them, not both"
            )
        sources = derived.sources_for(lambda value: _satisfies(value, wanted))
        if not sources:
            known = sorted({str(value) for _, value in derived.mapping})
            raise ConditionError(
                f"column {name!r} never holds {wanted!r} in the training data; known values: {', '.join(known)}"
            )
        translated[derived.source] = sources
    return translated


def _satisfies(value, wanted) -> bool:
    if isinstance(wanted, str) and _RANGE_SEPARATOR in wanted:
        low, high = wanted.split(_RANGE_SEPARATOR, 1)
        wanted = Between(float(low) if low else None, float(high) if high else None)
    if isinstance(wanted, Between):
        if value is None:
            return False
        return (wanted.low is None or value >= float(wanted.low)) and (wanted.high is None or value <= float(wanted.high))
    for item in _as_list(wanted):
        if item is None or (not isinstance(item, str) and pd.isna(item)):
            if value is None:
                return True
        elif value == item or str(value) == str(item):
            return True
    return False


def _as_list(wanted) -> list:
    if isinstance(wanted, (list, tuple, set, frozenset, np.ndarray, pd.Series)):
        items = list(wanted)
        if not items:
            raise ConditionError("a condition's list of values is empty")
        return items
    return [wanted]


def _categorical_condition(index: int, column: ModelColumn, wanted) -> EncodedCondition:
    by_label = {label: code for code, label in enumerate(column.categories) if label is not None}
    by_text = {str(label): code for label, code in by_label.items()}
    codes = []
    for value in _as_list(wanted):
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            code = column.missing_code
        elif value in by_label:
            code = by_label[value]
        else:
            code = by_text.get(str(value))
        if code is None:
            known = [str(label) for label in column.categories if label is not None]
            shown = ", ".join(map(repr, known[:12])) + (f", … ({len(known)} in all)" if len(known) > 12 else "")
            raise ConditionError(
                f"column {column.name!r} never holds {value!r} in the training data, so it cannot be sampled; "
                f"known values: {shown}"
            )
        codes.append(code)
    return EncodedCondition(index, column, codes=np.unique(np.array(codes, dtype=int)))


def _numeric_condition(index: int, column: ModelColumn, wanted, encoder: TableEncoder) -> EncodedCondition:
    spec = encoder.schema_[column.name]
    if isinstance(wanted, str) and _RANGE_SEPARATOR in wanted:
        low_text, high_text = wanted.split(_RANGE_SEPARATOR, 1)
        wanted = Between(low_text or None, high_text or None)
    if isinstance(wanted, Between):
        low = _to_number(wanted.low, column, spec) if wanted.low is not None else -np.inf
        high = _to_number(wanted.high, column, spec) if wanted.high is not None else np.inf
        if low > high:
            raise ConditionError(f"column {column.name!r}: the range's low end {wanted.low!r} is above its high end")
        if high < column.low or low > column.high:
            raise ConditionError(
                f"column {column.name!r}: the range {wanted.low!r}..{wanted.high!r} lies outside the values seen in "
                f"training ({column.low:g} to {column.high:g})"
            )
        return EncodedCondition(index, column, low=low, high=high)
    values = []
    for value in _as_list(wanted):
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            values.append(np.nan)
        else:
            values.append(_to_number(value, column, spec))
    return EncodedCondition(index, column, values=np.array(values, dtype=float))


def _to_number(value, column: ModelColumn, spec) -> float:

    try:
        if spec.kind == ColumnKind.DATETIME:
            return float(pd.Timestamp(value).value // 10**9)
        return float(value)
    except (TypeError, ValueError):
        raise ConditionError(
            f"column {column.name!r} is {spec.kind.value}; the condition value {value!r} is not a valid "
            f"{'date/time' if spec.kind == ColumnKind.DATETIME else 'number'}"
        ) from None
