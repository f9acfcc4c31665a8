"""Sampler columns: categories, sub-categories, numbers, word lists, records of a data file and Faker personas,
seeded per record.

A record's draw uses a generator seeded from (run seed, record index, column name), so it never depends on which
records ran before it. Sampling without replacement shuffles the whole value set once per run (seeded from the
run seed and column name) and gives record i the i-th value, so record i's value does not depend on n either.
"""

from __future__ import annotations

import datetime
import decimal
from pathlib import Path
from typing import Any

import numpy as np

from perpetuum.errors import GenerationError
from perpetuum.pipeline.columns import ColumnRunner
from perpetuum.pipeline.seeds import COLUMN_LEVEL, derive_seed, record_rng
from perpetuum.pipeline.spec import (
    CategorySampler,
    IntegerSampler,
    NormalSampler,
    PersonSampler,
    RecordsSampler,
    SpecError,
    SubcategorySampler,
    UniformSampler,
    WordsSampler,
)

__all__ = ["build_sampler", "SamplerRunner"]


def _plain(value: Any) -> Any:
    """Numpy scalars and dates as plain JSON-friendly Python values."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (datetime.date, datetime.datetime, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


def _weighted_choice(rng: np.random.Generator, pairs: list[tuple[Any, float]]) -> Any:
    weights = np.array([weight for _, weight in pairs], dtype=float)
    return pairs[int(rng.choice(len(pairs), p=weights / weights.sum()))][0]


def _weighted_permutation(rng: np.random.Generator, pairs: list[tuple[Any, float]]) -> list[Any]:
    """All values with a weight above zero, in a random order where heavier values tend to come first
    (Efraimidis-Spirakis keys u^(1/w))."""
    kept = [(value, weight) for value, weight in pairs if weight > 0]
    keys = rng.random(len(kept)) ** (1.0 / np.array([weight for _, weight in kept]))
    return [kept[i][0] for i in np.argsort(-keys, kind="stable")]


class SamplerRunner(ColumnRunner):
    _permutation: list[Any] | None = None

    def capacity(self) -> int | None:
        """How many records the column can serve (None: unlimited)."""
        return None if self._permutation is None else len(self._permutation)

    def _column_rng(self) -> np.random.Generator:
        return np.random.default_rng(derive_seed(self.spec.seed, COLUMN_LEVEL, self.name))

    def _from_permutation(self, index: int) -> Any:
        if index >= len(self._permutation):
            raise GenerationError(
                f"column {self.name!r} samples without replacement from {len(self._permutation)} values, "
                f"so record {index} has none left; generate fewer records or drop without_replacement"
            )
        return self._permutation[index]

    def _rng(self, context) -> np.random.Generator:
        return record_rng(self.spec.seed, context.index, self.name)


class CategoryRunner(SamplerRunner):
    column: CategorySampler

    def prepare(self):
        self._pairs = self.column.weighted
        if self.column.without_replacement:
            self._permutation = _weighted_permutation(self._column_rng(), self._pairs)

    async def compute(self, record, context):
        if self._permutation is not None:
            return _plain(self._from_permutation(context.index))
        return _plain(_weighted_choice(self._rng(context), self._pairs))


class SubcategoryRunner(SamplerRunner):
    column: SubcategorySampler

    async def compute(self, record, context):
        parent_value = record[self.column.parent]
        pairs = self.column.weighted(parent_value)
        if pairs is None:
            raise GenerationError(
                f"column {self.name!r} has no sub-categories for {self.column.parent}={parent_value!r}; "
                f"add it under `values` (known: {', '.join(self.column.values)})"
            )
        return _plain(_weighted_choice(self._rng(context), pairs))


class UniformRunner(SamplerRunner):
    column: UniformSampler

    async def compute(self, record, context):
        value = float(self._rng(context).uniform(self.column.low, self.column.high))
        return round(value, self.column.decimals) if self.column.decimals is not None else value


class NormalRunner(SamplerRunner):
    column: NormalSampler

    async def compute(self, record, context):
        column = self.column
        rng = self._rng(context)
        low = -np.inf if column.min is None else column.min
        high = np.inf if column.max is None else column.max
        # Rejection keeps the normal shape inside [min, max]; after many misses the bounds are too tight: clip.
        for _ in range(1000):
            value = float(rng.normal(column.mean, column.std))
            if low <= value <= high:
                break
        else:
            value = float(np.clip(value, low, high))
        return round(value, column.decimals) if column.decimals is not None else value


class IntegerRunner(SamplerRunner):
    column: IntegerSampler

    def prepare(self):
        if self.column.without_replacement:
            size = self.column.high - self.column.low + 1
            self._permutation = (self._column_rng().permutation(size) + self.column.low).tolist()

    async def compute(self, record, context):
        if self._permutation is not None:
            return int(self._from_permutation(context.index))
        return int(self._rng(context).integers(self.column.low, self.column.high, endpoint=True))


class WordsRunner(SamplerRunner):
    column: WordsSampler

    def prepare(self):
        if self.column.words is not None:
            words = list(self.column.words)
        else:
            text = Path(self.column.file).read_text(encoding="utf-8")
            words = [line.strip() for line in text.splitlines() if line.strip()]
        if self.column.count > len(words):
            raise SpecError(
                f"column {self.name!r}: count {self.column.count} is more than the {len(words)} words in the list"
            )
        self._words = words
        if self.column.without_replacement:
            self._permutation = [words[i] for i in self._column_rng().permutation(len(words))]

    async def compute(self, record, context):
        if self._permutation is not None:
            return self._from_permutation(context.index)
        rng = self._rng(context)
        if self.column.count == 1:
            return self._words[int(rng.integers(len(self._words)))]
        return [self._words[i] for i in rng.choice(len(self._words), size=self.column.count, replace=False)]


class RecordsRunner(SamplerRunner):
    column: RecordsSampler

    def prepare(self):
        from perpetuum.pipeline.columns.record_files import read_records

        records = read_records(self.column.file, self.column.fields)
        if self.column.count > len(records):
            raise SpecError(
                f"column {self.name!r}: count {self.column.count} is more than the {len(records)} records in "
                f"{self.column.file}"
            )
        self._records = records
        if self.column.without_replacement:
            self._permutation = [records[i] for i in self._column_rng().permutation(len(records))]

    async def compute(self, record, context):
        if self._permutation is not None:
            return _plain(self._from_permutation(context.index))
        rng = self._rng(context)
        if self.column.count == 1:
            return _plain(self._records[int(rng.integers(len(self._records)))])
        chosen = rng.choice(len(self._records), size=self.column.count, replace=False)
        return [_plain(self._records[i]) for i in chosen]


class PersonRunner(SamplerRunner):
    column: PersonSampler

    def prepare(self):
        try:
            from faker import Faker
        except ImportError:  # pragma: no cover - faker is a dependency
            raise SpecError("person samplers need the `faker` package: pip install faker") from None
        try:
            self._faker = Faker(self.column.locale)
        except AttributeError:
            raise SpecError(f"column {self.name!r}: Faker has no locale {self.column.locale!r}") from None
        unknown = [f for f in self.column.fields if f != "age" and not callable(getattr(self._faker, f, None))]
        if unknown:
            raise SpecError(
                f"column {self.name!r}: Faker has no field {', '.join(map(repr, unknown))}; "
                "use provider names such as first_name, last_name, job, city, country, email, company"
            )

    async def compute(self, record, context):
        # Faker's generator is shared and stateful; seeding and drawing happen with no await in between.
        self._faker.seed_instance(derive_seed(self.spec.seed, context.index, self.name))
        rng = self._rng(context)
        person: dict[str, Any] = {}
        for field in self.column.fields:
            if field == "age":
                low, high = self.column.age_range
                person["age"] = int(rng.integers(low, high, endpoint=True))
            else:
                person[field] = _plain(getattr(self._faker, field)())
        return person


_RUNNERS = {
    "category": CategoryRunner,
    "subcategory": SubcategoryRunner,
    "uniform": UniformRunner,
    "normal": NormalRunner,
    "integer": IntegerRunner,
    "words": WordsRunner,
    "records": RecordsRunner,
    "person": PersonRunner,
}


def build_sampler(column, spec) -> SamplerRunner:
    return _RUNNERS[column.sampler](column, spec)
