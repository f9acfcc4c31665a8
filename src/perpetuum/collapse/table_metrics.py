"""Collapse metrics of a synthetic table against the real one: the evaluation's collapse signals (tail coverage,
rare-category survival, variance ratios), the detection score, and Wasserstein distance / covariance spread of the
numeric columns. One float each, NaN where the table has nothing to measure (no numeric or no rare category)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from perpetuum.collapse.array_metrics import covariance_trace_ratio, log_determinant_difference, wasserstein

__all__ = ["table_metrics"]


def _numeric_matrix(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    from perpetuum.evaluate.encoding import as_float

    matrix = np.column_stack([as_float(frame[column]) for column in columns])
    return matrix[~np.isnan(matrix).any(axis=1)]


def table_metrics(real: pd.DataFrame, synthetic: pd.DataFrame, *, detection: bool = True, seed: int = 0) -> dict:
    """Per-generation metrics of `synthetic` against `real` (see the module docstring); the detection score (a
    classifier telling the tables apart, 1 = indistinguishable) is left out when `detection` is false."""
    from perpetuum.evaluate.collapse_signals import rare_category_survival, tail_coverage, variance_ratio
    from perpetuum.evaluate.encoding import is_numeric
    from perpetuum.evaluate.fidelity import detection_score

    tails = tail_coverage(real, synthetic)
    per_tail = [entry["synthetic_share"] / 2 for entry in tails["per_column"].values()]
    metrics = {
        "variance_ratio": variance_ratio(real, synthetic)["median"],
        "tail_mass": float(np.mean(per_tail)) if per_tail else math.nan,
        "tail_coverage": tails["score"],
        "rare_category_survival": rare_category_survival(real, synthetic)["score"],
    }
    numeric = [column for column in real.columns if is_numeric(real[column]) and real[column].nunique() > 1]
    if numeric:
        real_matrix, synthetic_matrix = _numeric_matrix(real, numeric), _numeric_matrix(synthetic, numeric)
        if len(real_matrix) > 2 and len(synthetic_matrix) > 2:
            scale = real_matrix.std(axis=0, ddof=1)
            scale[scale == 0] = 1.0
            real_matrix, synthetic_matrix = real_matrix[None] / scale, synthetic_matrix[None] / scale
            metrics["wasserstein"] = float(wasserstein(real_matrix, synthetic_matrix)[0])
            if len(numeric) > 1:
                metrics["covariance_trace_ratio"] = float(covariance_trace_ratio(real_matrix, synthetic_matrix)[0])
                metrics["log_determinant_difference"] = float(
                    log_determinant_difference(real_matrix, synthetic_matrix)[0]
                )
    if detection:
        metrics["detection"] = detection_score(real, synthetic, seed=seed, max_rows=2000)["score"]
    return metrics
