"""Turn mixed tables into numbers, the same way for every metric.

Without a schema, a column's dtype decides its role: numeric dtypes and datetimes are *numeric*; everything else
(strings, categories, objects, booleans) is *categorical*. Booleans are categorical on purpose: they have two
labels, not a scale.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from perpetuum.errors import DataInputError
# The record-distance encoding and the value helpers live with the privacy filters, which need the same metric as
# the report; they are re-exported here for the metrics.
from perpetuum.privacy.record_distance import DistanceEncoder, as_float, as_labels, is_numeric  # noqa: F401

# HistGradientBoosting takes at most 255 categories per feature (one bin is kept for missing values).
MAX_MODEL_CATEGORIES = 250


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
