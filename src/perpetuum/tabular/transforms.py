"""Column transforms shared by every synthesizer.

`TableEncoder` turns a DataFrame into the matrix the models learn (one float column per modelled column: numbers
and datetimes as numbers with NaN for missing, categories as integer codes with missing as a category of its own),
and turns sampled matrices back into a DataFrame with the source's columns, order and dtypes. Identifier and
free-text columns are not modelled: they are generated fresh (`perpetuum.tabular.generated`); so are personal
identifiers (`ColumnSpec.pii`): fakes replace them, and identifiers inside free text are replaced before the text
model learns it. All-null columns stay all-null.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from perpetuum.errors import DataInputError
from perpetuum.schema import ColumnKind, ColumnSpec, TableSchema
from perpetuum.tabular.dependencies import DerivedColumn, find_derived_columns
from perpetuum.privacy.pii import PiiKind, PiiReplacer
from perpetuum.tabular.generated import IdentifierGenerator, TextGenerator, generator_from_state

DISCRETE_MAX_UNIQUE = 30  # numeric columns with at most this many values may be derived from another column
_NUMERIC = "numeric"
_CATEGORICAL = "categorical"


@dataclass
class ModelColumn:
    """How one source column is represented in the model matrix."""

    name: str
    role: str  # "numeric" or "categorical"
    categories: list = field(default_factory=list)  # categorical: the labels, None for missing (last)
    integer: bool = False
    low: float = float("nan")
    high: float = float("nan")

    @property
    def is_numeric(self) -> bool:
        return self.role == _NUMERIC

    @property
    def missing_code(self) -> int | None:
        """Code of the missing-value category, if the column had missing values."""
        if self.categories and self.categories[-1] is None:
            return len(self.categories) - 1
        return None

    def to_state(self) -> dict:
        return {
            "name": self.name,
            "role": self.role,
            "categories": [_json_label(value) for value in self.categories],
            "integer": self.integer,
            "low": self.low,
            "high": self.high,
        }

    @classmethod
    def from_state(cls, state: dict) -> "ModelColumn":
        return cls(**state)


def _json_label(value):
    """Category labels are stored in JSON: numpy scalars become plain Python values."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


class TableEncoder:
    """Learns the column transforms of a table; see the module docstring."""

    def fit(self, df: pd.DataFrame, schema: TableSchema) -> "TableEncoder":
        schema.check_matches(list(df.columns))
        self.schema_ = schema
        self.model_columns_: list[ModelColumn] = []
        self.generators_: dict[str, IdentifierGenerator | TextGenerator] = {}
        for spec in schema.columns:
            column = df[spec.name]
            if column.isna().all():
                continue
            if spec.pii is not None and spec.pii.kind != PiiKind.FREE_TEXT:
                self.generators_[spec.name] = PiiReplacer(spec.pii, spec.datetime_format).fit(column)
            elif spec.pii is not None or spec.kind == ColumnKind.TEXT:
                self.generators_[spec.name] = TextGenerator().fit(
                    column, scrub=spec.pii is not None, known_names=_names_in(df, schema))
            elif spec.kind == ColumnKind.IDENTIFIER:
                self.generators_[spec.name] = IdentifierGenerator().fit(column, spec)
            elif spec.kind.is_numeric:
                values = _to_numbers(column, spec)
                finite = values[~np.isnan(values)]
                self.model_columns_.append(
                    ModelColumn(
                        spec.name,
                        _NUMERIC,
                        integer=spec.kind == ColumnKind.INTEGER or spec.kind == ColumnKind.DATETIME,
                        low=float(finite.min()),
                        high=float(finite.max()),
                    )
                )
            else:
                labels = list(pd.unique(column.dropna()))
                labels = sorted(labels, key=lambda value: (str(type(value)), str(value)))
                if column.isna().any():
                    labels.append(None)
                self.model_columns_.append(ModelColumn(spec.name, _CATEGORICAL, categories=labels))
        discrete = [column.name for column in self.model_columns_
                    if not column.is_numeric or (self.schema_[column.name].kind == ColumnKind.INTEGER
                                                 and df[column.name].nunique() <= DISCRETE_MAX_UNIQUE)]
        self.derived_: dict[str, DerivedColumn] = {column.name: column for column in find_derived_columns(df, discrete)}
        self.model_columns_ = [column for column in self.model_columns_ if column.name not in self.derived_]
        return self

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.model_columns_]

    def encode(self, df: pd.DataFrame) -> np.ndarray:
        """The model matrix of `df` (rows × modelled columns)."""
        matrix = np.empty((len(df), len(self.model_columns_)), dtype=float)
        for index, model_column in enumerate(self.model_columns_):
            column = df[model_column.name]
            if model_column.is_numeric:
                matrix[:, index] = _to_numbers(column, self.schema_[model_column.name])
            else:
                matrix[:, index] = self.codes_of(model_column, column)
        return matrix

    @staticmethod
    def codes_of(model_column: ModelColumn, column: pd.Series) -> np.ndarray:
        lookup = {label: code for code, label in enumerate(model_column.categories) if label is not None}
        missing = model_column.missing_code
        codes = np.fromiter(
            (missing if _is_missing(value) else lookup.get(value, -1) for value in column),
            dtype=float,
            count=len(column),
        )
        if (codes < 0).any() or np.isnan(codes).any():
            unknown = column[(codes < 0) | np.isnan(codes)].iloc[0]
            raise DataInputError(
                f"column {model_column.name!r} holds the value {unknown!r}, which the model never saw; "
                "refit on data that includes it."
            )
        return codes

    def decode(self, matrix: np.ndarray, n: int, rng: np.random.Generator) -> pd.DataFrame:
        """A DataFrame in the source's column order and dtypes from a sampled model matrix."""
        output: dict[str, pd.Series] = {}
        positions = {column.name: index for index, column in enumerate(self.model_columns_)}
        for spec in self.schema_.columns:
            if spec.name in positions:
                model_column = self.model_columns_[positions[spec.name]]
                values = matrix[:, positions[spec.name]]
                if model_column.is_numeric:
                    output[spec.name] = _numbers_to_column(values, model_column, spec)
                else:
                    output[spec.name] = _codes_to_column(values, model_column, spec)
            elif spec.name in self.derived_:
                continue  # filled in below, once the column it depends on is decoded
            elif spec.name in self.generators_:
                output[spec.name] = _restore_dtype(self.generators_[spec.name].generate(n, rng), spec)
            else:
                output[spec.name] = _restore_dtype(pd.Series([None] * n, dtype=object), spec)
        for name, derived in self.derived_.items():
            output[name] = _restore_dtype(derived.fill(output[derived.source]), self.schema_[name])
        return pd.DataFrame({name: output[name] for name in self.schema_.names})

    def personal_identifiers(self) -> list[dict]:
        """Each personal-identifier column: {"column", "kind", "evidence", "replaced_by"}, for the report."""
        entries = []
        for spec in self.schema_.columns:
            generator = self.generators_.get(spec.name)
            if spec.pii is None or generator is None:
                continue
            if isinstance(generator, TextGenerator):
                spans = ", ".join(f"{count:,} {kind.replace('_', ' ')}" for kind, count in
                                  sorted(generator.replaced_spans_.items())) or "none found"
                replaced_by = f"identifier spans replaced by fakes before the text model learned the column ({spans})"
            else:
                replaced_by = generator.describe()
            entries.append({"column": spec.name, "kind": spec.pii.kind.label, "evidence": spec.pii.evidence,
                            "replaced_by": replaced_by})
        return entries

    def to_state(self) -> dict:
        return {
            "schema": self.schema_.model_dump(mode="json"),
            "model_columns": [column.to_state() for column in self.model_columns_],
            "generators": {name: generator.to_state() for name, generator in self.generators_.items()},
            "derived": [column.to_state() for column in self.derived_.values()],
        }

    @classmethod
    def from_state(cls, state: dict) -> "TableEncoder":
        encoder = cls()
        encoder.schema_ = TableSchema.model_validate(state["schema"])
        encoder.model_columns_ = [ModelColumn.from_state(item) for item in state["model_columns"]]
        encoder.generators_ = {name: generator_from_state(item) for name, item in state["generators"].items()}
        encoder.derived_ = {item["name"]: DerivedColumn(**item) for item in state["derived"]}
        return encoder


def _names_in(df: pd.DataFrame, schema: TableSchema) -> frozenset[str]:
    """The words of the table's person-name columns (lower case), to find inside its free text."""
    name_kinds = (PiiKind.GIVEN_NAME, PiiKind.FAMILY_NAME, PiiKind.FULL_NAME)
    words: set[str] = set()
    for spec in schema.columns:
        if spec.pii is not None and spec.pii.kind in name_kinds:
            for value in df[spec.name].dropna().astype(str).unique():
                words.update(word.strip(".,").casefold() for word in value.split() if len(word) > 1)
    return frozenset(words)


def _is_missing(value) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _to_numbers(column: pd.Series, spec: ColumnSpec) -> np.ndarray:
    """Numbers (datetimes as seconds since the epoch), NaN where missing."""
    if spec.kind == ColumnKind.DATETIME:
        if pd.api.types.is_datetime64_any_dtype(column):
            times = column
        else:
            times = pd.to_datetime(column, format=spec.datetime_format, errors="coerce")
            unparsed = times.isna() & column.notna()
            if unparsed.any():
                row = int(np.flatnonzero(unparsed.to_numpy())[0])
                raise DataInputError(
                    f"column {spec.name!r}, row {row}: {column.iloc[row]!r} does not match the datetime format "
                    f"{spec.datetime_format!r}; fix the value or set the column's kind to 'categorical'."
                )
        if getattr(times.dt, "tz", None) is not None:
            times = times.dt.tz_convert("UTC").dt.tz_localize(None)
        seconds = times.astype("datetime64[s]").astype("int64").to_numpy().astype(float)
        seconds[times.isna().to_numpy()] = np.nan
        return seconds
    numbers = pd.to_numeric(column, errors="coerce")
    unparsed = numbers.isna() & column.notna()
    if unparsed.any():
        row = int(np.flatnonzero(unparsed.to_numpy())[0])
        raise DataInputError(
            f"column {spec.name!r}, row {row}: {column.iloc[row]!r} is not a number, but the column's kind is "
            f"{spec.kind.value!r}; fix the value or set the column's kind to 'categorical'."
        )
    return numbers.to_numpy(dtype=float, na_value=np.nan)


def _numbers_to_column(values: np.ndarray, model_column: ModelColumn, spec: ColumnSpec) -> pd.Series:
    values = np.clip(values, model_column.low, model_column.high)
    if model_column.integer:
        values = np.round(values)
    if spec.kind == ColumnKind.DATETIME:
        times = pd.Series(pd.to_datetime(values, unit="s"))
        if spec.datetime_format is not None:
            text = times.dt.strftime(spec.datetime_format)
            return _restore_dtype(text.astype(object).where(times.notna(), None), spec)
        return _restore_dtype(times, spec)
    return _restore_dtype(pd.Series(values), spec)


def _codes_to_column(codes: np.ndarray, model_column: ModelColumn, spec: ColumnSpec) -> pd.Series:
    labels = np.empty(len(model_column.categories), dtype=object)
    labels[:] = model_column.categories
    return _restore_dtype(pd.Series(labels[codes.astype(int)], dtype=object), spec)


def _restore_dtype(series: pd.Series, spec: ColumnSpec) -> pd.Series:
    """Cast to the source dtype; where missing values make that impossible, use pandas' nullable twin."""
    dtype = spec.dtype
    has_missing = series.isna().any()
    try:
        if has_missing and dtype.startswith("uint"):
            return series.astype("UInt" + dtype[4:])
        if has_missing and dtype.startswith("int"):
            return series.astype("Int" + dtype[3:])
        if has_missing and dtype == "bool":
            return series.astype("boolean")
        if dtype.startswith("datetime64"):
            return pd.to_datetime(series).astype(dtype)
        return series.astype(dtype)
    except (TypeError, ValueError):
        return series
