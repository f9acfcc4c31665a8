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
training rows', move the matrix by the difference (scaled by how much the drawn rows responded to the last
move), a few times, and keep the matrix whose rows came closest.

Two-category columns (a fraud flag, a diagnosis, an up or down day) join the copula too, as a normal score cut at
a threshold: in a leaf where a share p of the rows hold the first category, a latent score below ndtri(p) means
the first category. With two categories the order is only a sign, so this is the probit (tetrachoric and
polyserial) model of a binary variable and adds no structure of its own; columns with more categories have no
order and stay independent within the leaves. A training row's within-leaf score is the mean of the standard
normal over its category's band, and its correlations are corrected for the attenuation such band means have.
Sampling draws the binary scores first, each within the band its condition allows, and the numeric scores given
them, so rows conditioned on a class ("20,000 fraud rows") keep that class's dependence on the numeric columns
inside every leaf.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

from perpetuum.tabular.truncated_normal import sample_truncated

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


def band_normal_scores(codes: np.ndarray, first_share: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normal score of two-category codes (0 or 1) within leaves where `first_share` of the rows hold code 0.

    The score is the standard normal's mean over the code's band: below ndtri(first_share) for code 0, above it
    for code 1. Returns (normal scores, usable): a leaf holding one category says nothing about the latent score.
    """
    usable = (first_share > 0) & (first_share < 1)
    share = np.clip(first_share, _EDGE, 1 - _EDGE)
    density = np.exp(-ndtri(share) ** 2 / 2) / np.sqrt(2 * np.pi)
    return np.where(codes == 0, -density / share, density / (1 - share)), usable


def pooled_correlation(normal_scores: np.ndarray, usable: np.ndarray, banded=()) -> np.ndarray:
    """Correlation matrix of the columns of `normal_scores` over the rows where both columns are usable.

    `banded` columns hold band means (`band_normal_scores`), which correlate with anything less than the latent
    score they stand for: for a normal latent z with correlation ρ to a score s, E[m·s] = ρ·E[m²] where m is z's
    band mean, so their correlation is ρ·sqrt(E[m²]); it is divided by that factor (per banded column; for two
    banded columns this is an approximation of the tetrachoric correlation). Pairs with too few common rows get 0
    (independence). The result is made positive definite by clipping its eigenvalues, so it always has a Cholesky
    factor.
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
    for column in banded:
        mean_square = float(np.mean(scores[usable[:, column], column] ** 2)) if usable[:, column].any() else 1.0
        correlation[column, :] /= np.sqrt(mean_square)
        correlation[:, column] /= np.sqrt(mean_square)
    np.fill_diagonal(correlation, 1.0)
    return nearest_correlation(np.clip(correlation, -1.0, 1.0))


def nearest_correlation(matrix: np.ndarray) -> np.ndarray:
    """A positive-definite correlation matrix close to the symmetric `matrix` (eigenvalues clipped, rescaled)."""
    repaired = nearest_covariance(matrix)
    scale = np.sqrt(np.diag(repaired))
    return repaired / np.outer(scale, scale)


def uniforms_of(normal_scores: np.ndarray) -> np.ndarray:
    """The uniforms (kept off 0 and 1) whose normal scores these are, for a leaf's inverse CDF."""
    return np.clip(ndtr(normal_scores), _EDGE, 1 - _EDGE)


def draw_normal_scores(correlation: np.ndarray, n: int, bands: dict, rng: np.random.Generator) -> np.ndarray:
    """(n, k) standard normal scores with the given correlation, the columns in `bands` first and each within its
    band, then the other columns jointly given them.

    `bands` maps a column to (low, high) arrays of n bounds (infinite for no bound). Each banded column is drawn
    from its normal given the banded columns before it, truncated to its band; with one banded column this is the
    exact conditional law, with several it is sequential (each band sees only the bands before it). Without bands
    the draw is a plain correlated normal, the same random stream as before banded columns existed.
    """
    k = len(correlation)
    scores = np.empty((n, k))
    drawn: list[int] = []
    for column in bands:
        mean, variance = _conditional_normal(correlation, [column], drawn, scores)
        low, high = bands[column]
        scores[:, column] = sample_truncated(mean[:, 0], np.sqrt(max(variance[0, 0], _MIN_EIGENVALUE)), low, high,
                                             rng)
        drawn.append(column)
    free = [column for column in range(k) if column not in bands]
    if free:
        mean, covariance = _conditional_normal(correlation, free, drawn, scores)
        # without banded columns the matrix is the (positive-definite) correlation itself, factored as it is
        factor = np.linalg.cholesky(nearest_covariance(covariance) if drawn else covariance)
        scores[:, free] = mean + rng.standard_normal((n, len(free))) @ factor.T
    return scores


def _conditional_normal(correlation: np.ndarray, targets: list[int], given: list[int], scores: np.ndarray):
    """Mean (per row, per target) and covariance of the `targets` columns' normal scores given the scores of the
    `given` columns."""
    covariance = correlation[np.ix_(targets, targets)]
    if not given:
        return np.zeros((len(scores), len(targets))), covariance
    gain = np.linalg.solve(correlation[np.ix_(given, given)], correlation[np.ix_(given, targets)])
    return scores[:, given] @ gain, covariance - correlation[np.ix_(targets, given)] @ gain


def nearest_covariance(matrix: np.ndarray) -> np.ndarray:
    """The symmetric `matrix` with its eigenvalues clipped at a small positive floor (a Cholesky factor exists)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.maximum(values, _MIN_EIGENVALUE)) @ vectors.T


def rank_correlation(values: np.ndarray) -> np.ndarray:
    """Spearman correlation of the columns of `values`, over the rows where both are present (NaN where a
    column is constant or too sparse)."""
    import pandas as pd

    return pd.DataFrame(values).corr(method="spearman", min_periods=_MIN_PAIRED_ROWS).to_numpy()


def calibrate_correlation(correlation: np.ndarray, target: np.ndarray, sample, rounds: int
                          ) -> tuple[np.ndarray, list[float]]:
    """Adjust a copula `correlation` so that rows drawn with it have the rank correlations `target`.

    `sample(correlation)` returns rows (n, k) of the k columns drawn with that copula. Each round moves the matrix
    by the gap between `target` and the drawn rows' rank correlations, for the pairs whose gap is larger than the
    drawn rows' sampling noise could make it (twice the standard error (1 - rho^2) / sqrt(n)). The leaves absorb
    part of any change (the drawn rows moved by 0.25-0.5 of it on macrodata and breast_cancer), so from the second
    round on the gap is divided by the response measured in the round before (between 0.25 and 1), a secant step.
    Pairs that cannot be measured on either side are left alone. The matrix is repaired into a correlation matrix
    after each round. Returns the matrix whose rows came closest and the mean absolute gap of every round, the
    uncalibrated matrix's first.
    """
    best, best_gap, gaps = correlation, np.inf, []
    upper = np.triu_indices(len(correlation), 1)
    gain, previous = 1.0, None
    for round_ in range(rounds + 1):
        drawn = sample(correlation)
        measured = rank_correlation(drawn)
        drawn_correlation = np.nan_to_num(measured)
        difference = target - measured
        difference = np.where(np.isfinite(difference), difference, 0.0)
        gap = float(np.mean(np.abs(difference[upper]))) if len(upper[0]) else 0.0
        gaps.append(gap)
        if gap < best_gap:
            best, best_gap = correlation, gap
        if previous is not None:
            gain = 1.0 / _response(previous, (correlation, drawn_correlation), upper)
        if round_ < rounds:
            noise = 2 * (1 - np.nan_to_num(target) ** 2) / np.sqrt(len(drawn))
            difference = np.where(np.abs(difference) > noise, difference, 0.0)
            np.fill_diagonal(difference, 0.0)
            previous = (correlation, drawn_correlation)
            correlation = nearest_correlation(np.clip(correlation + gain * difference, -1.0, 1.0))
    return best, gaps


def _response(before, after, upper) -> float:
    """How far the drawn rows' correlations moved per unit the matrix moved, over the pairs that moved, kept
    between 0.25 and 1 (1 where nothing moved)."""
    matrix_moved = (after[0] - before[0])[upper]
    moved = np.abs(matrix_moved) > 1e-12
    if not moved.any():
        return 1.0
    drawn_moved = (after[1] - before[1])[upper][moved]
    response = float(drawn_moved @ matrix_moved[moved] / (matrix_moved[moved] @ matrix_moved[moved]))
    return float(np.clip(response, 0.25, 1.0))
