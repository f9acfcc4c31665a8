"""Collapse signals: has the synthetic data lost the real data's tails, rare categories or spread?

These are the first things to go when a generator (or a chain of generators trained on each other's output)
collapses towards the bulk of the distribution. They are measured per column, from dtypes (numeric and datetime
columns vs categorical ones), on all rows: each is one pass over the columns (well under a second on Adult).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from perpetuum.evaluate.coverage import categorical_counts, checked_columns, identifier_like, listed_categories
from perpetuum.evaluate.encoding import as_float, is_numeric

# Real percentiles that mark a numeric column's lower and upper tails.
TAIL_PERCENTILES = (1.0, 99.0)
# `collapse_signals` warns when the tail coverage score falls below this (half the real tail mass is gone) ...
TAIL_COVERAGE_WARNING = 0.5
# ... when fewer than this share of the real rare categories survive (averaged over columns) ...
RARE_SURVIVAL_WARNING = 0.5
# ... and when any numeric column keeps less than this share of its real variance.
VARIANCE_RATIO_WARNING = 0.8


def tail_coverage(real: pd.DataFrame, synthetic: pd.DataFrame) -> dict:
    """How much of the real data's tail mass the synthetic data keeps, per numeric (or datetime) column.

    Range [0, 1], higher is better (1: the tails are as heavy as in the real data, or heavier). The tails are
    the values strictly below the real 1st percentile and strictly above the real 99th percentile (non-missing
    values only). Per tail, the ratio = synthetic share of values in it / real share; a column's "coverage" is
    the mean over its tails of min(ratio, 1), so a lost lower tail is not hidden by a heavier upper one; "ratio"
    is the same ratio for both tails together (above 1: heavier tails than the real data). A tail that holds no
    real values (a column whose minimum is its 1st percentile, such as a count that is mostly 0) has no ratio and
    is left out; a column with neither tail is left out of the score.

    Returns {"score": mean coverage over columns (NaN if none has a tail), "per_column": {column: {"coverage",
    "ratio", "lower_ratio", "upper_ratio", "real_share", "synthetic_share", "lower", "upper"}}}.
    """
    columns = checked_columns(real, synthetic)
    per_column = {}
    for column in columns:
        if not is_numeric(real[column]):
            continue
        real_values, synthetic_values = _present(real[column]), _present(synthetic[column])
        if len(real_values) == 0 or len(synthetic_values) == 0:
            continue
        lower, upper = np.percentile(real_values, TAIL_PERCENTILES)
        real_low, real_high = np.mean(real_values < lower), np.mean(real_values > upper)
        synthetic_low, synthetic_high = np.mean(synthetic_values < lower), np.mean(synthetic_values > upper)
        lower_ratio = synthetic_low / real_low if real_low > 0 else np.nan
        upper_ratio = synthetic_high / real_high if real_high > 0 else np.nan
        real_share, synthetic_share = real_low + real_high, synthetic_low + synthetic_high
        if real_share == 0:
            continue
        tail_ratios = np.array([lower_ratio, upper_ratio])
        tail_ratios = tail_ratios[~np.isnan(tail_ratios)]
        per_column[column] = {
            "coverage": float(np.mean(np.minimum(tail_ratios, 1.0))),
            "ratio": float(synthetic_share / real_share),
            "lower_ratio": float(lower_ratio),
            "upper_ratio": float(upper_ratio),
            "real_share": float(real_share),
            "synthetic_share": float(synthetic_share),
            "lower": float(lower),
            "upper": float(upper),
        }
    return {"score": _mean(entry["coverage"] for entry in per_column.values()), "per_column": per_column}


def rare_category_survival(real: pd.DataFrame, synthetic: pd.DataFrame, *, rare_share: float = 0.01) -> dict:
    """How many of the real data's rare categories still occur in the synthetic data.

    Range [0, 1], higher is better (1: every rare category survives). A category is rare when it holds less than
    `rare_share` of a column's real non-missing values. Per categorical column with at least one rare category:
    "survival" = share of the rare categories present (at least once) in the synthetic data, and "lost": the
    rare categories absent from it (rarest last, at most 20, each with its real share). Identifier-like columns
    (mostly distinct labels, see `perpetuum.evaluate.coverage.identifier_like`) are left out: nearly all their
    labels are rare, and a synthesizer should invent fresh ones.

    Returns {"score": mean survival over columns (NaN if no column has a rare category), "rare_share",
    "per_column": {column: {"survival", "n_rare", "n_lost", "lost"}}}.
    """
    per_column = {}
    for column, labels, real_counts, synthetic_counts in categorical_counts(real, synthetic):
        seen = real_counts > 0
        if identifier_like(int(seen.sum()), int(real_counts.sum())):
            continue
        real_share = real_counts / real_counts.sum()
        rare = np.flatnonzero(seen & (real_share < rare_share))
        if len(rare) == 0:
            continue
        lost = rare[synthetic_counts[rare] == 0]
        lost = lost[np.argsort(-real_counts[lost], kind="stable")]
        per_column[column] = {
            "survival": float(1.0 - len(lost) / len(rare)),
            "n_rare": int(len(rare)),
            "n_lost": int(len(lost)),
            "lost": listed_categories(labels, lost, real_share),
        }
    score = _mean(entry["survival"] for entry in per_column.values())
    return {"score": score, "rare_share": rare_share, "per_column": per_column}


def variance_ratio(real: pd.DataFrame, synthetic: pd.DataFrame) -> dict:
    """Synthetic variance / real variance per numeric (or datetime) column.

    1 is ideal; below 1 the synthetic data is narrower than the real data (the classic sign of collapse), above
    1 wider. Unbounded, at least 0. Variances use non-missing values (sample variance, ddof=1). A column that is
    constant in the real data, or with fewer than two values in either table, is left out.

    Returns {"median": median ratio over columns (NaN if none), "min": the smallest ratio, "per_column":
    {column: ratio}}.
    """
    columns = checked_columns(real, synthetic)
    per_column = {}
    for column in columns:
        if not is_numeric(real[column]):
            continue
        real_values, synthetic_values = _present(real[column]), _present(synthetic[column])
        if len(real_values) < 2 or len(synthetic_values) < 2:
            continue
        real_variance = np.var(real_values, ddof=1)
        if not real_variance > 0:
            continue
        per_column[column] = float(np.var(synthetic_values, ddof=1) / real_variance)
    ratios = np.array(list(per_column.values()), dtype="float64")
    return {
        "median": float(np.median(ratios)) if len(ratios) else np.nan,
        "min": float(ratios.min()) if len(ratios) else np.nan,
        "per_column": per_column,
    }


def collapse_signals(real: pd.DataFrame, synthetic: pd.DataFrame, *, rare_share: float = 0.01) -> dict:
    """Tail coverage, rare-category survival and variance ratios together, with plain-language warnings.

    A warning is added when the tail coverage score is below 0.5 (`TAIL_COVERAGE_WARNING`), when the rare-category
    survival score is below 0.5 (`RARE_SURVIVAL_WARNING`), and when any column's variance ratio is below 0.8
    (`VARIANCE_RATIO_WARNING`); each warning names the columns concerned. No warning does not prove there is
    no collapse, only that these three signs of it are absent.

    Returns {"tail_coverage": ..., "rare_category_survival": ..., "variance_ratio": ... (each as its own
    function returns it), "warnings": [text]}.
    """
    tails = tail_coverage(real, synthetic)
    rare = rare_category_survival(real, synthetic, rare_share=rare_share)
    variances = variance_ratio(real, synthetic)
    warnings = []
    if tails["score"] < TAIL_COVERAGE_WARNING:
        thin = [column for column, entry in tails["per_column"].items() if entry["coverage"] < TAIL_COVERAGE_WARNING]
        warnings.append(
            f"tails lost: the synthetic data keeps {tails['score']:.0%} of the real mass beyond the 1st/99th "
            f"percentiles (below {TAIL_COVERAGE_WARNING:.0%}); thinnest in {thin}"
        )
    if rare["score"] < RARE_SURVIVAL_WARNING:
        poor = [column for column, entry in rare["per_column"].items() if entry["survival"] < RARE_SURVIVAL_WARNING]
        warnings.append(
            f"rare categories lost: {rare['score']:.0%} of the categories rarer than {rare_share:.0%} survive "
            f"(below {RARE_SURVIVAL_WARNING:.0%}); worst in {poor}"
        )
    narrow = {column: ratio for column, ratio in variances["per_column"].items() if ratio < VARIANCE_RATIO_WARNING}
    if narrow:
        listed = ", ".join(f"{column} ({ratio:.2f})" for column, ratio in narrow.items())
        warnings.append(
            f"variance shrinks: synthetic variance is below {VARIANCE_RATIO_WARNING:.0%} of the real one in {listed}"
        )
    return {"tail_coverage": tails, "rare_category_survival": rare, "variance_ratio": variances, "warnings": warnings}


def _present(series: pd.Series) -> np.ndarray:
    values = as_float(series)
    return values[~np.isnan(values)]


def _mean(scores) -> float:
    scores = np.array(list(scores), dtype="float64")
    return float(np.nanmean(scores)) if np.isfinite(scores).any() else np.nan
