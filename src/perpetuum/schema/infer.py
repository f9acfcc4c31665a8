"""Infer a first-draft `TableSchema` from a DataFrame.

Besides its kind, each column gets a personal-identifier verdict (`ColumnSpec.pii`, from
`perpetuum.privacy.pii.detect_pii`): a column with one is replaced by fakes instead of learned.

Rules, applied to each column in this order (the first that matches decides the kind):

1. All values missing: BOOLEAN or DATETIME for those dtypes, CONTINUOUS if numeric, else CATEGORICAL.
2. BOOLEAN: bool dtype, or exactly two distinct text values forming one pair of true/false, yes/no, t/f, y/n or
   "1"/"0" (case-insensitive). Numeric 0/1 columns stay INTEGER; use `schema.set_kind` to change that.
3. DATETIME: datetime64 dtype (datetime_format None), or text whose values all parse with one format from
   `DATETIME_FORMATS` (tried on a sample of up to 1000 values, then verified on the whole column). When both
   day-first and month-first fit the sample, the first that fits every value wins, ISO first, then %m/%d/%Y.
4. IDENTIFIER: at least 20 rows, no missing value, every value unique, and either an integer column whose name looks
   like a key ("id", "customer_id", "CustomerID", "sku_code", ...) or that is exactly a consecutive range, or a
   text column whose values share one character template of equal length: `identifier_pattern` holds it with
   'A' for a letter, '9' for a digit, 'X' where values mix letters and digits (uuids), other characters literal
   ("C-00123" gives "A-99999"). Unique floats and unique free text are not identifiers.
5. Numbers: integer dtype, or floats that are all whole (an int column with missing values), give INTEGER;
   other floats give CONTINUOUS.
6. TEXT: text whose values are mostly several words (median word count >= 4 or mean length >= 40 characters)
   and mostly distinct (more than half of the non-null values unique).
7. Everything else is CATEGORICAL, high-cardinality above 50 distinct values. A column that mixes numbers and
   words is CATEGORICAL too, with a UserWarning naming the column and an example of each, because its values
   will be kept as text.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from perpetuum.errors import DataInputError
from perpetuum.privacy.pii import detect_pii
from perpetuum.schema.schema import ColumnKind, ColumnSpec, TableSchema

HIGH_CARDINALITY_THRESHOLD = 50
MIN_IDENTIFIER_ROWS = 20
SAMPLE_SIZE = 1000
TEXT_MIN_MEDIAN_WORDS = 4
TEXT_MIN_MEAN_LENGTH = 40
TEXT_MIN_UNIQUE_SHARE = 0.5

BOOLEAN_PAIRS = [{"true", "false"}, {"yes", "no"}, {"t", "f"}, {"y", "n"}, {"1", "0"}]

# Priority order: ISO first; month-first before day-first, so an ambiguous column reads as US dates.
DATETIME_FORMATS = [
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M:%S",
    "%m/%d/%Y",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M:%S",
    "%d-%m-%Y",
    "%Y%m%d",
]
_COMPACT_DATE_FORMAT = "%Y%m%d"  # only tried when every value is exactly eight digits
_KEY_NAME = re.compile(r"(^|[_\s.\-])(id|key|uuid|code)$", re.IGNORECASE)
_CAMEL_KEY_NAME = re.compile(r"[a-z0-9](Id|ID|Key|Uuid|UUID|Code)$")


def infer_schema(df: pd.DataFrame) -> TableSchema:
    """Describe every column of `df`: kind, dtype, missing rate, distinct values and the facts behind the kind."""
    names = list(df.columns)
    if len(set(names)) != len(names):
        repeated = sorted({str(name) for name in names if names.count(name) > 1})
        raise DataInputError(f"the DataFrame has duplicate column names: {', '.join(repeated)}. Rename them first.")
    not_text = [name for name in names if not isinstance(name, str)]
    if not_text:
        raise DataInputError(
            f"column names must be text, but {not_text[:5]!r} are not. "
            f"Rename them first, e.g. df.columns = df.columns.astype(str)."
        )
    return TableSchema(columns=[infer_column(df[name]) for name in names])


def infer_column(column: pd.Series) -> ColumnSpec:
    """Infer the spec of one column (its name is `column.name`)."""
    name = str(column.name)
    present = column.dropna()
    spec = ColumnSpec(
        name=name,
        kind=ColumnKind.CATEGORICAL,
        dtype=str(column.dtype),
        missing_rate=float(column.isna().mean()) if len(column) else 0.0,
        n_unique=_count_unique(present),
    )
    spec.kind = _infer_kind(column, present, spec)
    spec.high_cardinality = spec.kind == ColumnKind.CATEGORICAL and spec.n_unique > HIGH_CARDINALITY_THRESHOLD
    spec.pii = detect_pii(column, free_text=spec.kind == ColumnKind.TEXT)
    return spec


def _infer_kind(column: pd.Series, present: pd.Series, spec: ColumnSpec) -> ColumnKind:
    """Decide the kind; may fill `spec.datetime_format` or `spec.identifier_pattern` on the way."""
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return ColumnKind.BOOLEAN
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return ColumnKind.DATETIME
    if present.empty:
        return ColumnKind.CONTINUOUS if pd.api.types.is_numeric_dtype(dtype) else ColumnKind.CATEGORICAL
    if pd.api.types.is_numeric_dtype(dtype):
        return _numeric_kind(column, present)
    if isinstance(dtype, pd.CategoricalDtype):
        return ColumnKind.BOOLEAN if _is_boolean_text(present.astype(str)) else ColumnKind.CATEGORICAL
    value_type = pd.api.types.infer_dtype(present, skipna=True)
    if value_type == "boolean":
        return ColumnKind.BOOLEAN
    if value_type in ("datetime", "datetime64", "date"):
        return ColumnKind.DATETIME
    if value_type in ("integer", "floating", "mixed-integer-float", "decimal"):
        return _numeric_kind(column, pd.to_numeric(present))
    return _text_kind(column, present.astype(str), spec)


# ---------------------------------------------------------------- numbers


def _numeric_kind(column: pd.Series, present: pd.Series) -> ColumnKind:
    if not _is_whole(present):
        return ColumnKind.CONTINUOUS
    if _is_integer_identifier(column, present):
        return ColumnKind.IDENTIFIER
    return ColumnKind.INTEGER


def _is_whole(present: pd.Series) -> bool:
    if pd.api.types.is_integer_dtype(present.dtype):
        return True
    values = present.to_numpy(dtype="float64")
    return bool(np.isfinite(values).all() and (values == np.round(values)).all())


def _is_integer_identifier(column: pd.Series, present: pd.Series) -> bool:
    if not _could_be_identifier(column, len(present)):
        return False
    if looks_like_key_name(str(column.name)):
        return True
    return int(present.max()) - int(present.min()) == len(present) - 1  # values are unique: a consecutive range


def looks_like_key_name(name: str) -> bool:
    """True for names such as 'id', 'ID', 'customer_id', 'CustomerID', 'order-key', 'sku_code'."""
    return bool(_KEY_NAME.search(name.strip()) or _CAMEL_KEY_NAME.search(name.strip()))


def _could_be_identifier(column: pd.Series, n_present: int) -> bool:
    """Enough rows, none missing, all unique."""
    return len(column) >= MIN_IDENTIFIER_ROWS and n_present == len(column) and column.is_unique


# ---------------------------------------------------------------- text


def _text_kind(column: pd.Series, text: pd.Series, spec: ColumnSpec) -> ColumnKind:
    if _is_boolean_text(text):
        return ColumnKind.BOOLEAN
    datetime_format = detect_datetime_format(text)
    if datetime_format is not None:
        spec.datetime_format = datetime_format
        return ColumnKind.DATETIME
    if _could_be_identifier(column, len(text)):
        pattern = identifier_pattern(text)
        if pattern is not None:
            spec.identifier_pattern = pattern
            return ColumnKind.IDENTIFIER
    if _is_free_text(text, spec.n_unique):
        return ColumnKind.TEXT
    _warn_if_mixed(str(column.name), column.dropna())
    return ColumnKind.CATEGORICAL


def _is_boolean_text(text: pd.Series) -> bool:
    distinct = set(text.str.strip().str.lower().unique())
    return len(distinct) == 2 and distinct in BOOLEAN_PAIRS


def detect_datetime_format(text: pd.Series) -> str | None:
    """The first format in `DATETIME_FORMATS` that parses every value of `text` (no missing values), or None."""
    sample = _sample(text).str.strip()
    if not sample.str.contains(r"\d", regex=True).all() or sample.str.len().max() > 40:
        return None
    compact = bool(sample.str.fullmatch(r"\d{8}").all())
    candidates = [
        fmt for fmt in DATETIME_FORMATS if (fmt == _COMPACT_DATE_FORMAT) == compact and _parses_all(sample, fmt)
    ]
    stripped = text.str.strip()
    for fmt in candidates:
        if len(stripped) == len(sample) or _parses_all(stripped, fmt):
            return fmt
    return None


def _parses_all(text: pd.Series, fmt: str) -> bool:
    try:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    except (ValueError, TypeError):  # e.g. mixed time zones under %z
        return False
    return not parsed.isna().any()


def identifier_pattern(text: pd.Series) -> str | None:
    """The character template shared by every value, or None when lengths or literal characters differ.

    'A' marks a position that always holds a letter, '9' always a digit, 'X' letters in some values and digits in
    others (as in uuids); any other character must be the same in every value and is kept literally.
    """
    lengths = text.str.len()
    if lengths.nunique() != 1 or lengths.iloc[0] == 0:
        return None
    width = int(lengths.iloc[0])
    if text.str.contains(r"\s", regex=True).any():
        return None
    characters = np.array(text.tolist(), dtype=f"<U{width}").view("<U1").reshape(len(text), width)
    is_letter = np.char.isalpha(characters)
    is_digit = np.char.isdigit(characters)
    template = []
    for position in range(width):
        letters, digits = is_letter[:, position], is_digit[:, position]
        if letters.all():
            template.append("A")
        elif digits.all():
            template.append("9")
        elif (letters | digits).all():
            template.append("X")
        else:
            literal = set(characters[:, position])
            if len(literal) != 1 or (letters | digits).any():
                return None
            template.append(literal.pop())
    return "".join(template)


def _is_free_text(text: pd.Series, n_unique: int) -> bool:
    if n_unique <= TEXT_MIN_UNIQUE_SHARE * len(text):
        return False
    median_words = _sample(text).str.split().str.len().median()
    return median_words >= TEXT_MIN_MEDIAN_WORDS or text.str.len().mean() >= TEXT_MIN_MEAN_LENGTH


def _warn_if_mixed(name: str, present: pd.Series) -> None:
    distinct = pd.Series(_distinct_values(present), dtype=object)  # parsing distinct values only keeps this fast
    numeric = pd.to_numeric(distinct.astype(str), errors="coerce").notna().to_numpy()
    if numeric.any() and not numeric.all():
        number_example = distinct[numeric].iloc[0]
        word_example = distinct[~numeric].iloc[0]
        warnings.warn(
            f"column {name!r} mixes numbers (e.g. {number_example!r}) and text (e.g. {word_example!r}); it is "
            f"treated as categorical and its values will be kept as text. Clean the column if it should be numeric.",
            UserWarning,
            stacklevel=2,
        )


# ---------------------------------------------------------------- helpers


def _sample(values: pd.Series) -> pd.Series:
    """Up to SAMPLE_SIZE values spread evenly over the column (deterministic)."""
    if len(values) <= SAMPLE_SIZE:
        return values
    positions = np.linspace(0, len(values) - 1, SAMPLE_SIZE).astype(int)
    return values.iloc[positions]


def _distinct_values(present: pd.Series) -> np.ndarray:
    try:
        return np.asarray(present.unique(), dtype=object)
    except TypeError:  # unhashable values such as lists
        return np.asarray(present.astype(str).unique(), dtype=object)


def _count_unique(present: pd.Series) -> int:
    return len(_distinct_values(present))
