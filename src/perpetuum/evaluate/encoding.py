"""Turn mixed tables into numbers, the same way for every metric.

Without a schema, a column's dtype decides its role: numeric dtypes and datetimes are *numeric*; everything else
(strings, categories, objects, booleans) is *categorical*. Booleans are categorical on purpose: they have two
labels, not a scale.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from perpetuum.errors import DataInputError

# HistGradientBoosting takes at most 255 categories per feature (one bin is kept for missing values).
MAX_MODEL_CATEGORIES = 250


def is_numeric(series: pd.Series) -> bool:
    """True for numeric (not boolean) and datetime columns."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return False
    return pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype)


def as_float(series: pd.Series) -> np.ndarray:
    """A numeric or datetime column as float64, missing values as NaN (datetimes in nanoseconds since 1970)."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        if getattr(series.dt, "tz", None) is not None:
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        values = series.to_numpy(dtype="datetime64[ns]")
        out = values.astype("int64").astype("float64")
        out[np.isnat(values)] = np.nan
        return out
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def as_labels(series: pd.Series) -> np.ndarray:
    """A categorical column as an object array of labels, missing values as None.

    Labels are kept as they are (not turned into text) so that `True` and `"True"` stay different values.
    """
    values = series.astype(object).to_numpy(copy=True)
    missing = pd.isna(series).to_numpy()
    values[missing] = None
    return values


def check_same_columns(real: pd.DataFrame, synthetic: pd.DataFrame, what: str = "synthetic") -> list[str]:
    """The real table's columns, after checking that `synthetic` has all of them."""
    for name, frame in (("real", real), (what, synthetic)):
        if not isinstance(frame, pd.DataFrame):
            raise DataInputError(f"{name} data must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [column for column in real.columns if column not in synthetic.columns]
    if missing:
        raise DataInputError(
            f"{what} data lacks column(s) {missing}; pass tables with the same columns as the real data"
        )
    return list(real.columns)


def joint_codes(*columns: pd.Series, missing_as_category: bool = True) -> list[np.ndarray]:
    """Integer codes for categorical columns that share one vocabulary (the union of their labels).

    Missing values get their own code when `missing_as_category`, else -1.
    """
    labels = np.concatenate([as_labels(column) for column in columns])
    codes, _ = pd.factorize(pd.Series(labels, dtype=object), use_na_sentinel=True)
    if missing_as_category:
        codes = np.where(codes < 0, codes.max(initial=-1) + 1, codes)
    bounds = np.cumsum([0] + [len(column) for column in columns])
    return [codes[start:stop] for start, stop in zip(bounds[:-1], bounds[1:])]


def model_matrices(*frames: pd.DataFrame) -> tuple[list[np.ndarray], np.ndarray]:
    """Float matrices for tree models, one per frame, plus the mask of categorical columns.

    Numeric columns become floats (NaN kept: gradient boosting handles it). Categorical columns become codes over
    the union of all frames' labels, so the same label has the same code everywhere; missing stays NaN. A column
    with more than `MAX_MODEL_CATEGORIES` labels (identifiers, free text: more than native categorical support
    takes) becomes a number instead: how often its label occurs in all frames together. Counting over all frames
    keeps the encoding blind to which frame a row came from, so fresh identifiers are not told apart from real ones.
    """
    columns = list(frames[0].columns)
    blocks: list[list[np.ndarray]] = [[] for _ in frames]
    categorical = np.zeros(len(columns), dtype=bool)
    for position, column in enumerate(columns):
        series = [frame[column] for frame in frames]
        if is_numeric(series[0]):
            encoded = [as_float(values) for values in series]
        else:
            codes = joint_codes(*series, missing_as_category=False)
            labels = int(max(part.max(initial=-1) for part in codes)) + 1
            if labels <= MAX_MODEL_CATEGORIES:
                categorical[position] = True
                encoded = [np.where(part >= 0, part, np.nan).astype("float64") for part in codes]
            else:
                together = np.concatenate(codes)
                counts = np.bincount(together[together >= 0], minlength=labels).astype("float64")
                encoded = [np.where(part >= 0, counts[np.maximum(part, 0)], np.nan) for part in codes]
        for block, values in zip(blocks, encoded):
            block.append(values)
    matrices = [np.column_stack(block) if block else np.empty((len(frame), 0)) for block, frame in zip(blocks, frames)]
    return matrices, categorical


def fillable_for_fit(matrix: np.ndarray) -> np.ndarray:
    """`matrix` with every column that holds no value at all set to 0.

    Gradient boosting cannot bin an empty column; a constant one is simply never split on, so the model ignores
    it, which is all an empty training column deserves.
    """
    empty = np.isnan(matrix).all(axis=0)
    if not empty.any():
        return matrix
    matrix = matrix.copy()
    matrix[:, empty] = 0.0
    return matrix


class DistanceEncoder:
    """Encode mixed rows into a space where Euclidean distance compares records.

    - Numeric columns are scaled to [0, 1] by the min and max of the data given to `fit` (the real data); values
      outside are not clipped. A missing number becomes 0 plus an indicator column set to 1, so "missing vs
      present" costs 1 and two missing values are equal.
    - Categorical columns are one-hot encoded with entries 1/sqrt(2), so two different labels are at squared
      distance 1: the same as numbers at opposite ends of their range. Missing is a label of its own; a label not
      seen in `fit` sets no entry (distance 1/2 to every seen label).
    """

    def fit(self, real: pd.DataFrame) -> "DistanceEncoder":
        self.columns_ = list(real.columns)
        self.numeric_: dict[str, tuple[float, float]] = {}
        self.categories_: dict[str, pd.Index] = {}
        for column in self.columns_:
            series = real[column]
            if is_numeric(series):
                values = as_float(series)
                finite = values[np.isfinite(values)]
                low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
                self.numeric_[column] = (low, high - low if high > low else 1.0)
            else:
                labels = pd.Series(as_labels(series), dtype=object).dropna()
                self.categories_[column] = pd.Index(pd.unique(labels), dtype=object)
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        parts = []
        for column in self.columns_:
            series = frame[column]
            if column in self.numeric_:
                low, span = self.numeric_[column]
                values = (as_float(series) - low) / span
                missing = np.isnan(values)
                parts.append(np.where(missing, 0.0, values)[:, None])
                parts.append(missing.astype("float64")[:, None])
            else:
                categories = self.categories_[column]
                labels = pd.Series(as_labels(series), dtype=object)
                codes = categories.get_indexer(labels)
                codes[labels.isna().to_numpy()] = len(categories)  # missing: the last slot
                onehot = np.zeros((len(frame), len(categories) + 1))
                known = codes >= 0
                onehot[np.flatnonzero(known), codes[known]] = 1.0 / np.sqrt(2.0)
                parts.append(onehot)
        return np.hstack(parts) if parts else np.empty((len(frame), 0))
