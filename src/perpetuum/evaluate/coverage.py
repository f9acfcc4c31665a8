"""Coverage: does the synthetic data keep the real data's missing values, categories and ranges?

Column roles come from dtypes (see `perpetuum.evaluate.encoding`): numeric and datetime columns are numbers,
everything else (booleans included) is categorical. None of these metrics samples rows: each is a single pass
over the columns (well under a second on Adult).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from perpetuum.errors import DataInputError
from perpetuum.evaluate.encoding import as_float, as_labels, check_same_columns, is_numeric, joint_codes

# Real categories absent from the synthetic data listed per column, at most (the most frequent first).
MAX_LISTED_CATEGORIES = 20
# A categorical column is identifier-like (keys, free text) when its distinct real labels number more than this
# share of its real values, and more than `IDENTIFIER_MIN_LABELS`. Its labels are not categories a synthesizer
# should reproduce, so coverage scores leave it out (it is still reported).
IDENTIFIER_DISTINCT_SHARE = 0.5
IDENTIFIER_MIN_LABELS = 50


def missing_value_similarity(real: pd.DataFrame, synthetic: pd.DataFrame) -> dict:
    """How well each column's share of missing values is reproduced.

    Range [0, 1], higher is better (1: the same missing rate in every column). Per column:
    1 - |missing rate in real - missing rate in synthetic|, the rates being shares of rows.

    Returns {"score": mean over columns, "per_column": {column: similarity}, "real_rate": {column: rate},
    "synthetic_rate": {column: rate}}.
    """
    columns = checked_columns(real, synthetic)
    real_rate = {column: float(real[column].isna().mean()) for column in columns}
    synthetic_rate = {column: float(synthetic[column].isna().mean()) for column in columns}
    per_column = {column: 1.0 - abs(real_rate[column] - synthetic_rate[column]) for column in columns}
    return {
        "score": _mean(per_column.values()),
        "per_column": per_column,
        "real_rate": real_rate,
        "synthetic_rate": synthetic_rate,
    }


def category_coverage(real: pd.DataFrame, synthetic: pd.DataFrame) -> dict:
    """How many of the real data's categories appear in the synthetic data at all.

    Range [0, 1], higher is better (1: every real category occurs in the synthetic data). Per categorical column
    (missing values are not a category here; `missing_value_similarity` covers them):
    - "coverage": the share of the distinct real categories present in the synthetic data (unweighted: a
      category seen once counts as much as the most common one);
    - "weighted_coverage": the share of real rows whose category is present in the synthetic data;
    - "absent": the real categories missing from the synthetic data, most frequent first, at most 20, each as
      {"category", "real_share"} (its share of the real non-missing rows); "n_absent" counts all of them;
    - "identifier_like": True for a column of mostly distinct labels (more than half of its real values and more
      than 50 labels: keys, free text), which is reported but left out of the score: fresh identifiers are right.
    A column with no real values is left out.

    Returns {"score": mean coverage over categorical columns that are not identifier-like (NaN if there is
    none), "per_column": {column: {...}}}.
    """
    per_column = {}
    for column, labels, real_counts, synthetic_counts in categorical_counts(real, synthetic):
        seen = real_counts > 0
        present = seen & (synthetic_counts > 0)
        real_share = real_counts / real_counts.sum()
        absent = np.flatnonzero(seen & ~present)
        absent = absent[np.argsort(-real_counts[absent], kind="stable")]
        per_column[column] = {
            "coverage": float(present.sum() / seen.sum()),
            "weighted_coverage": float(real_share[present].sum()),
            "n_real_categories": int(seen.sum()),
            "identifier_like": identifier_like(int(seen.sum()), int(real_counts.sum())),
            "n_absent": int(len(absent)),
            "absent": listed_categories(labels, absent, real_share),
        }
    scored = (entry["coverage"] for entry in per_column.values() if not entry["identifier_like"])
    return {"score": _mean(scored), "per_column": per_column}


def range_adherence(real: pd.DataFrame, synthetic: pd.DataFrame) -> dict:
    """How many synthetic values stay within what the real data holds.

    Range [0, 1], higher is better (1: no synthetic value outside the real range or vocabulary). Per column, over
    the synthetic rows with a value (missing values are neither in nor out):
    - numeric and datetime: the share of values within the real [min, max];
    - categorical: the share of values that are real categories.
    A column with no synthetic values is left out; one with synthetic values but no real ones scores 0.

    Returns {"score": mean over columns, "per_column": {column: share}}.
    """
    columns = checked_columns(real, synthetic)
    per_column = {}
    for column in columns:
        if is_numeric(real[column]):
            real_values, synthetic_values = as_float(real[column]), as_float(synthetic[column])
            real_values = real_values[~np.isnan(real_values)]
            synthetic_values = synthetic_values[~np.isnan(synthetic_values)]
            if len(synthetic_values) == 0:
                continue
            if len(real_values) == 0:
                per_column[column] = 0.0
                continue
            inside = (synthetic_values >= real_values.min()) & (synthetic_values <= real_values.max())
            per_column[column] = float(inside.mean())
        else:
            _, real_counts, synthetic_counts = category_counts(real[column], synthetic[column])
            if synthetic_counts.sum() == 0:
                continue
            per_column[column] = float(synthetic_counts[real_counts > 0].sum() / synthetic_counts.sum())
    return {"score": _mean(per_column.values()), "per_column": per_column}


def checked_columns(real: pd.DataFrame, synthetic: pd.DataFrame, what: str = "synthetic") -> list[str]:
    """The real table's columns, after checking that both tables are data frames with rows and the same columns."""
    columns = check_same_columns(real, synthetic, what=what)
    for name, frame in (("real", real), (what, synthetic)):
        if len(frame) == 0:
            raise DataInputError(f"the {name} table has no rows; pass a table with at least one row")
    return columns


def categorical_counts(real: pd.DataFrame, synthetic: pd.DataFrame):
    """(column, labels, real counts, synthetic counts) for each categorical column that holds a real value."""
    for column in checked_columns(real, synthetic):
        if is_numeric(real[column]):
            continue
        labels, real_counts, synthetic_counts = category_counts(real[column], synthetic[column])
        if (real_counts > 0).any():
            yield column, labels, real_counts, synthetic_counts


def listed_categories(labels: np.ndarray, codes: np.ndarray, real_share: np.ndarray) -> list[dict]:
    """The first MAX_LISTED_CATEGORIES of `codes` as {"category", "real_share"}, for a report's lists."""
    return [{"category": plain(labels[code]), "real_share": float(real_share[code])}
            for code in codes[:MAX_LISTED_CATEGORIES]]


def category_counts(real: pd.Series, synthetic: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, real counts, synthetic counts) over the union of both columns' non-missing labels."""
    real_codes, synthetic_codes = joint_codes(real, synthetic, missing_as_category=False)
    together = np.concatenate([real_codes, synthetic_codes])
    size = int(together.max(initial=-1)) + 1
    labels = np.empty(size, dtype=object)
    labels[together[together >= 0]] = np.concatenate([as_labels(real), as_labels(synthetic)])[together >= 0]
    real_counts = np.bincount(real_codes[real_codes >= 0], minlength=size)
    synthetic_counts = np.bincount(synthetic_codes[synthetic_codes >= 0], minlength=size)
    return labels, real_counts, synthetic_counts


def identifier_like(n_labels: int, n_values: int) -> bool:
    """True when a categorical column's labels are mostly distinct (see `IDENTIFIER_DISTINCT_SHARE`)."""
    return n_labels > IDENTIFIER_MIN_LABELS and n_labels > IDENTIFIER_DISTINCT_SHARE * n_values


def plain(label):
    """A label as a plain Python value (numpy scalars unwrapped), so results serialise to JSON."""
    return label.item() if isinstance(label, np.generic) else label


def _mean(scores) -> float:
    scores = np.array(list(scores), dtype="float64")
    return float(np.nanmean(scores)) if np.isfinite(scores).any() else np.nan
