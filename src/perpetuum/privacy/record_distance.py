"""Distances between records: the one encoding of mixed rows that the report's privacy metrics and the privacy
filters share, so a filter's threshold is in the same units as the DCR share it moves.

Without a schema, a column's dtype decides its role: numeric dtypes and datetimes are *numeric*; everything else
(strings, categories, objects, booleans) is *categorical*. Booleans are categorical on purpose: they have two
labels, not a scale.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

__all__ = ["DistanceEncoder", "as_float", "as_labels", "is_numeric", "nearest_distances"]


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


def nearest_distances(reference: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Euclidean distance from each query row to its nearest reference row.

    The neighbour is found by scikit-learn's brute-force search; the distance is then recomputed directly,
    because the fast formula it uses leaves rounding noise (about 1e-8) where an exact copy should give 0.
    """
    index = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(reference)
    nearest = index.kneighbors(queries, return_distance=False)[:, 0]
    return np.sqrt(((queries - reference[nearest]) ** 2).sum(axis=1))
