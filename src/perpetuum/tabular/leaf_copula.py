"""Dependence left inside the leaves of a forest density, as one Gaussian copula shared by all leaves.

A forest's leaves are boxes in which the columns are modelled as independent. Where a few numeric columns move
together (bill amounts of consecutive months, a stock's open and close), the forest would need a staircase of
many thin leaves along the diagonal to reproduce them, and with finite data it never grows enough of them: the
dependence that is left inside each leaf is lost. Here every training value is mapped to its position within its
own leaf's distribution (the probability-integral transform under the leaf's truncated normal), then to a normal
score; the correlation of these within-leaf scores, pooled over all leaves, is that left-over dependence.
Sampling draws correlated uniforms from it and feeds them to each leaf's inverse CDF, so every leaf keeps its
marginals and box exactly, and the columns inside it move together as they did in the training rows.

One matrix for all leaves is an average: leaves cut along a correlated pair hold little of its dependence, others
much, and the sampled rows come out with their strong correlations damped (breast_cancer's |rho| > 0.7 pairs by
0.07 on average). `calibrate_correlation` then corrects the pooled matrix the way NORTA fits its normal
correlation to a target (Cario and Nelson 1997): sample, compare the sampled rows' rank correlations with the
training rows', move the matrix by the difference, a few times, and keep the matrix whose rows came closest.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

_EDGE = 1e-6
_MIN_PAIRED_ROWS = 30  # below this many rows observed in both columns, a pair is left independent
_MIN_EIGENVALUE = 1e-6


def within_leaf_normal_scores(score, mean, spread, low, high) -> tuple[np.ndarray, np.ndarray]:
    """Normal score of each value's position under its leaf's Normal(mean, spread) truncated to [low, high].

    Returns (normal scores, usable): a value in a zero-width or massless box has no position and is not usable.
    """
    cdf_low, cdf_high = ndtr((low - mean) / spread), ndtr((high - mean) / spread)
    width = cdf_high - cdf_low
    usable = width > 1e-12
    with np.errstate(invalid="ignore", divide="ignore"):
        position = (ndtr((score - mean) / spread) - cdf_low) / np.where(usable, width, 1.0)
    return ndtri(np.clip(position, _EDGE, 1 - _EDGE)), usable


def pooled_correlation(normal_scores: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Correlation matrix of the columns of `normal_scores` over the rows where both columns are usable.

    Pairs with too few common rows get 0 (independence). The result is made positive definite by clipping its
    eigenvalues, so it always has a Cholesky factor.
    """
    weights = usable.astype(float)
    scores = np.where(usable, normal_scores, 0.0)
    paired = weights.T @ weights
    with np.errstate(invalid="ignore", divide="ignore"):
        cross = (scores.T @ scores) / paired
        # each column's second moment over the rows shared with the other column, so the ratio is a correlation
        square_left = ((scores**2).T @ weights) / paired
        correlation = cross / np.sqrt(square_left * square_left.T)
    correlation = np.where((paired >= _MIN_PAIRED_ROWS) & np.isfinite(correlation), correlation, 0.0)
    np.fill_diagonal(correlation, 1.0)
    return nearest_correlation(correlation)


def nearest_correlation(matrix: np.ndarray) -> np.ndarray:
    """A positive-definite correlation matrix close to the symmetric `matrix` (eigenvalues clipped, rescaled)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    repaired = (vectors * np.maximum(values, _MIN_EIGENVALUE)) @ vectors.T
    scale = np.sqrt(np.diag(repaired))
    return repaired / np.outer(scale, scale)


def correlated_uniforms(correlation: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, len(correlation)) uniforms whose normal scores have the given correlation."""
    factor = np.linalg.cholesky(correlation)
    return np.clip(ndtr(rng.standard_normal((n, len(correlation))) @ factor.T), _EDGE, 1 - _EDGE)


def rank_correlation(values: np.ndarray) -> np.ndarray:
    """Spearman correlation of the columns of `values`, over the rows where both are present (NaN where a
    column is constant or too sparse)."""
    import pandas as pd

    return pd.DataFrame(values).corr(method="spearman", min_periods=_MIN_PAIRED_ROWS).to_numpy()


def calibrate_correlation(correlation: np.ndarray, target: np.ndarray, target_rows: int, sample, rounds: int
                          ) -> tuple[np.ndarray, list[float]]:
    """Adjust a copula `correlation` so that rows drawn with it have the rank correlations `target` (measured on
    `target_rows` rows).

    `sample(correlation)` returns rows (n, k) of the k columns drawn with that copula. Each round adds the gap
    between `target` and the drawn rows' rank correlations to the matrix, for the pairs whose gap is larger than
    the two estimates' sampling noise could make it (twice the standard error (1 - rho^2) * sqrt(1/n + 1/m));
    pairs that cannot be measured on either side are left alone. The matrix is repaired into a correlation matrix
    after each round. Returns the matrix whose rows came closest and the mean absolute gap of every round, the
    uncalibrated matrix's first.
    """
    best, best_gap, gaps = correlation, np.inf, []
    upper = np.triu_indices(len(correlation), 1)
    for round_ in range(rounds + 1):
        drawn = sample(correlation)
        difference = target - rank_correlation(drawn)
        difference = np.where(np.isfinite(difference), difference, 0.0)
        gap = float(np.mean(np.abs(difference[upper]))) if len(upper[0]) else 0.0
        gaps.append(gap)
        if gap < best_gap:
            best, best_gap = correlation, gap
        if round_ < rounds:
            noise = 2 * (1 - np.nan_to_num(target) ** 2) * np.sqrt(1 / len(drawn) + 1 / max(target_rows, 1))
            difference = np.where(np.abs(difference) > noise, difference, 0.0)
            np.fill_diagonal(difference, 0.0)
            correlation = nearest_correlation(np.clip(correlation + difference, -1.0, 1.0))
    return best, gaps
