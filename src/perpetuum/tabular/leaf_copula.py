"""Dependence left inside the leaves of a forest density, as one Gaussian copula shared by all leaves.

A forest's leaves are boxes in which the columns are modelled as independent. Where a few numeric columns move
together (bill amounts of consecutive months, a stock's open and close), the forest would need a staircase of
many thin leaves along the diagonal to reproduce them, and with finite data it never grows enough of them: the
dependence that is left inside each leaf is lost. Here every training value is mapped to its position within its
own leaf's distribution (the probability-integral transform under the leaf's truncated normal), then to a normal
score; the correlation of these within-leaf scores, pooled over all leaves, is that left-over dependence.
Sampling draws correlated uniforms from it and feeds them to each leaf's inverse CDF, so every leaf keeps its
marginals and box exactly, and the columns inside it move together as they did in the training rows.
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
