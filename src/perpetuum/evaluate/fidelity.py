"""Fidelity: how closely synthetic data follows the real data's distributions.

Column roles come from dtypes (see `perpetuum.evaluate.encoding`): numeric and datetime columns are compared as
numbers, everything else (booleans included) as labels.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from perpetuum.errors import DataInputError, ParameterError
from perpetuum.evaluate.encoding import (
    as_float,
    check_same_columns,
    fillable_for_fit,
    is_numeric,
    joint_codes,
    model_matrices,
)

# Equal-width bins a numeric column is cut into when paired with a categorical one (as sdmetrics does).
PAIR_BINS = 10


def column_shapes(real: pd.DataFrame, synthetic: pd.DataFrame) -> dict:
    """How well each column's marginal distribution is reproduced.

    Range [0, 1], higher is better (1: identical distributions). Per column: 1 - the two-sample Kolmogorov-Smirnov
    statistic for numeric and datetime columns; 1 - the total-variation distance between category frequencies
    for categorical and boolean columns. Both use non-missing values only. A column that is empty in one table
    and not the other scores 0; a column empty in both is left out of the mean.

    Returns {"score": mean over columns, "per_column": {column: score}}.
    """
    columns = check_same_columns(real, synthetic)
    per_column = {}
    for column in columns:
        if is_numeric(real[column]):
            per_column[column] = _ks_complement(real[column], synthetic[column])
        else:
            per_column[column] = _tv_complement(real[column], synthetic[column])
    return {"score": _mean(per_column.values()), "per_column": per_column}


def column_pair_trends(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    *,
    strong_correlation: float = 0.5,
    strong_association: float = 0.3,
    bin_edges: str = "each_table",
) -> dict:
    """How well the relationships between pairs of columns are reproduced.

    Range [0, 1], higher is better. Per pair of columns:
    - numeric with numeric: 1 - |r_real - r_synthetic| / 2, with r the Pearson correlation over the rows where
      both are present (datetimes as numbers);
    - any pair with a categorical column: 1 - the total-variation distance between the two tables' normalised
      contingency tables. Missing values are a category of their own. A numeric partner is first cut into 10
      equal-width bins (missing values get a bin of their own), with `bin_edges`:
      "each_table" cuts each table over its own range, with the maximum value in a bin of its own (what
      sdmetrics' Quality Report does; it cannot see a shifted range, which `column_shapes` catches);
      "real" cuts both tables at the real edges, the outer bins open-ended.

    As in sdmetrics' Quality Report (0.32), only pairs with a strong trend in the real data enter the score:
    |r_real| > `strong_correlation` for numeric pairs, Cramér's V of the real contingency table
    > `strong_association` for the others. Pass 0 for both to score every pair.

    Returns {"score": mean over strong pairs (NaN if there is none), "score_all_pairs": mean over every pair,
    "per_pair": {(column_a, column_b): score}, "strong_pairs": [pairs in the score]}.
    """
    if bin_edges not in ("each_table", "real"):
        raise ParameterError(f"bin_edges must be 'each_table' or 'real', got {bin_edges!r}")
    columns = check_same_columns(real, synthetic)
    numeric = {column: is_numeric(real[column]) for column in columns}
    values = {column: (as_float(real[column]), as_float(synthetic[column])) for column in columns if numeric[column]}
    codes = {}
    for column in columns:
        if numeric[column]:
            codes[column] = _bin_codes(*values[column], each_table=bin_edges == "each_table")
        else:
            codes[column] = tuple(joint_codes(real[column], synthetic[column], missing_as_category=True))
    per_pair, strong_pairs = {}, []
    for pair in combinations(columns, 2):
        first, second = pair
        if numeric[first] and numeric[second]:
            score, strength = _correlation_similarity(values[first], values[second])
            threshold = strong_correlation
        else:
            score, strength = _contingency_similarity(codes[first], codes[second])
            threshold = strong_association
        per_pair[pair] = score
        if strength > threshold or threshold <= 0:
            strong_pairs.append(pair)
    return {
        "score": _mean(per_pair[pair] for pair in strong_pairs),
        "score_all_pairs": _mean(per_pair.values()),
        "per_pair": per_pair,
        "strong_pairs": strong_pairs,
    }


def detection_score(real: pd.DataFrame, synthetic: pd.DataFrame, *, seed: int = 0, max_rows: int = 5000) -> dict:
    """How hard it is for a classifier to tell synthetic rows from real ones.

    Range [0, 1], higher is better (1: indistinguishable, 0: perfectly separable). Draws the same number of rows
    from each table (at most `max_rows` each, so the cost stays bounded), labels them real/synthetic, and measures
    the ROC AUC of a gradient-boosting classifier (native categorical support) in 3-fold stratified
    cross-validation. Score = 1 - (2 * AUC - 1), clipped to [0, 1]; an AUC at or below 0.5 scores 1.

    Returns {"score", "auc" (mean over folds), "n_rows_each"}.
    """
    columns = check_same_columns(real, synthetic)
    rows = min(len(real), len(synthetic), max_rows)
    if rows < 10:
        raise DataInputError(f"detection needs at least 10 rows in each table, got {rows}; pass larger tables")
    rng = np.random.default_rng(seed)
    real_part = real[columns].iloc[rng.choice(len(real), rows, replace=False)]
    synthetic_part = synthetic[columns].iloc[rng.choice(len(synthetic), rows, replace=False)]
    (real_matrix, synthetic_matrix), categorical = model_matrices(real_part, synthetic_part)
    features = np.vstack([real_matrix, synthetic_matrix])
    labels = np.r_[np.zeros(rows), np.ones(rows)]
    aucs = []
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    # One thread: on a shared small machine OpenMP threads that wait on each other are ten times slower.
    with threadpool_limits(limits=1, user_api="openmp"):
        for train_index, test_index in folds.split(features, labels):
            model = HistGradientBoostingClassifier(categorical_features=categorical, random_state=seed)
            model.fit(fillable_for_fit(features[train_index]), labels[train_index])
            aucs.append(roc_auc_score(labels[test_index], model.predict_proba(features[test_index])[:, 1]))
    auc = float(np.mean(aucs))
    return {"score": float(np.clip(2.0 - 2.0 * auc, 0.0, 1.0)), "auc": auc, "n_rows_each": rows}


def _ks_complement(real: pd.Series, synthetic: pd.Series) -> float:
    real_values, synthetic_values = _present(as_float(real)), _present(as_float(synthetic))
    if len(real_values) == 0 or len(synthetic_values) == 0:
        return np.nan if len(real_values) == len(synthetic_values) else 0.0
    # Only the statistic is used, and it does not depend on `method`; the exact p-value that scipy would
    # otherwise compute for small samples is slow and warns when it fails to converge.
    return 1.0 - float(ks_2samp(real_values, synthetic_values, method="asymp").statistic)


def _tv_complement(real: pd.Series, synthetic: pd.Series) -> float:
    real_codes, synthetic_codes = joint_codes(real, synthetic, missing_as_category=False)
    return 1.0 - _total_variation(real_codes[real_codes >= 0], synthetic_codes[synthetic_codes >= 0])


def _total_variation(real_codes: np.ndarray, synthetic_codes: np.ndarray) -> float:
    """Total-variation distance between the frequencies of non-negative integer codes; 1 if one side is empty."""
    if len(real_codes) == 0 or len(synthetic_codes) == 0:
        return np.nan if len(real_codes) == len(synthetic_codes) else 1.0
    size = int(max(real_codes.max(), synthetic_codes.max())) + 1
    real_freq = np.bincount(real_codes, minlength=size) / len(real_codes)
    synthetic_freq = np.bincount(synthetic_codes, minlength=size) / len(synthetic_codes)
    return 0.5 * float(np.abs(real_freq - synthetic_freq).sum())


def _bin_codes(real: np.ndarray, synthetic: np.ndarray, *, each_table: bool) -> tuple[np.ndarray, np.ndarray]:
    """Bin numbers for a numeric column in both tables; missing values get the bin after the last."""
    if each_table:
        return _cut(real, _edges(real), open_ends=False), _cut(synthetic, _edges(synthetic), open_ends=False)
    edges = _edges(real)
    return _cut(real, edges, open_ends=True), _cut(synthetic, edges, open_ends=True)


def _edges(values: np.ndarray) -> np.ndarray:
    present = _present(values)
    return np.histogram_bin_edges(present, bins=PAIR_BINS) if len(present) else np.zeros(PAIR_BINS + 1)


def _cut(values: np.ndarray, edges: np.ndarray, *, open_ends: bool) -> np.ndarray:
    # Closed edges follow numpy.digitize: bins are [a, b), so the maximum lands in a bin of its own.
    inner = edges[1:-1] if open_ends else edges
    bins = np.searchsorted(inner, values, side="right")
    return np.where(np.isnan(values), len(inner) + 1, bins)


def _contingency_similarity(
    first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray]
) -> tuple[float, float]:
    """(1 - total-variation distance of the joint frequencies, Cramér's V of the real table)."""
    width = int(max(first[0].max(initial=0), first[1].max(initial=0))) + 1
    real_cells, synthetic_cells = (codes_b * width + codes_a for codes_a, codes_b in zip(first, second))
    return 1.0 - _total_variation(real_cells, synthetic_cells), _cramers_v(first[0], second[0])


def _cramers_v(first: np.ndarray, second: np.ndarray) -> float:
    _, rows = np.unique(first, return_inverse=True)
    _, cols = np.unique(second, return_inverse=True)
    shape = (rows.max(initial=-1) + 1, cols.max(initial=-1) + 1)
    if min(shape) < 2:
        return np.nan
    observed = np.zeros(shape)
    np.add.at(observed, (rows, cols), 1.0)
    total = observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / total
    chi_squared = float(((observed - expected) ** 2 / expected).sum())
    return float(np.sqrt(chi_squared / (total * (min(shape) - 1))))


def _correlation_similarity(
    first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray]
) -> tuple[float, float]:
    """(1 - |r_real - r_synthetic| / 2, |r_real|); NaN where a table has a constant column."""
    correlations = []
    for first_values, second_values in zip(first, second):
        both = ~np.isnan(first_values) & ~np.isnan(second_values)
        x, y = first_values[both], second_values[both]
        if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
            correlations.append(np.nan)
        else:
            correlations.append(float(np.corrcoef(x, y)[0, 1]))
    return 1.0 - abs(correlations[0] - correlations[1]) / 2.0, abs(correlations[0])


def _present(values: np.ndarray) -> np.ndarray:
    return values[~np.isnan(values)]


def _mean(scores) -> float:
    scores = np.array(list(scores), dtype="float64")
    return float(np.nanmean(scores)) if np.isfinite(scores).any() else np.nan
