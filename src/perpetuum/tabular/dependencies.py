"""Columns that are a function of another column, such as Adult's `education-num` of `education`.

A synthesizer that learns both columns can only approximate a deterministic link and will mix them up now and then
(a "Bachelors" with 9 years of schooling). A derived column is therefore not learned: it is filled in from the
column that determines it, through the mapping seen in the data, so the link holds in every synthetic row.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

MIN_ROWS_PER_VALUE = 10  # a mapping seen on fewer rows per value could be chance, not a rule
MAX_DISTINCT = 100


@dataclass
class DerivedColumn:
    """`name` is `mapping[source value]` on every row (missing values included)."""

    name: str
    source: str
    mapping: list  # [[source value, derived value], ...]; None stands for missing

    def fill(self, source_values: pd.Series) -> pd.Series:
        lookup = {_key(source): derived for source, derived in self.mapping}
        numeric_keys = sorted(key for key in lookup if isinstance(key, (int, float)) and not isinstance(key, bool))

        def derive(value):
            key = _key(value)
            if key in lookup:
                return lookup[key]
            # a numeric source value the data never held (a model smoothing between values): nearest seen value
            nearest = min(numeric_keys, key=lambda seen: abs(seen - key))
            return lookup[nearest]

        return pd.Series([derive(value) for value in source_values], dtype=object)

    def sources_for(self, wanted) -> list:
        """Source values whose derived value satisfies `wanted(derived_value) -> bool`."""
        return [source for source, derived in self.mapping if wanted(derived)]

    def to_state(self) -> dict:
        return {"name": self.name, "source": self.source, "mapping": self.mapping}


def _key(value):
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _plain(value):
    value = _key(value)
    return value.item() if hasattr(value, "item") else value


def find_derived_columns(df: pd.DataFrame, candidates: list[str]) -> list[DerivedColumn]:
    """Derived columns among `candidates` (discrete columns, in table order); each source is itself learned."""
    distinct = {name: df[name].nunique(dropna=False) for name in candidates}
    usable = [name for name in candidates if 2 <= distinct[name] <= min(MAX_DISTINCT, len(df) // MIN_ROWS_PER_VALUE)]
    derived: dict[str, DerivedColumn] = {}
    for target in usable:
        for source in usable:
            if source == target or source in derived or distinct[source] < distinct[target]:
                continue
            if any(column.source == target for column in derived.values()):
                continue
            pairs = df[[source, target]].drop_duplicates()
            if len(pairs) == distinct[source]:
                mapping = [[_plain(a), _plain(b)] for a, b in pairs.itertuples(index=False)]
                derived[target] = DerivedColumn(target, source, mapping)
                break
    return list(derived.values())
