"""A private release of a numeric column's bounds, for columns whose schema gives none.

The column's values are put in signed powers-of-two buckets (..., [-3, -1), [-1, 0], (0, 1], (1, 3], (3, 7], ...,
up to 2^62), OpenDP counts the buckets and adds Gaussian noise (one row changes one count by one), and the bounds are
the outer edges of the lowest and highest buckets whose noisy count clears a threshold. Only the noisy counts are
used, so the bounds are private; the cost (rho) is charged to the ledger before the release. Values outside the
released bounds are clipped to them when the column is binned.

Which buckets count. A bucket far from the data must clear a Bonferroni line: noise alone makes some empty bucket
of a column clear it about once in 10,000 releases (4.8 standard deviations). A flat 4 standard deviations did so in
0.4 % of releases (measured: 11 of 3,000 on Adult's capital-loss), about once in 45 fits of six numeric columns,
and one spurious bucket is ruinous: Adult's capital-loss was binned over -4.3e9..4095, its real values shared one
bin, and sampled values came out near -3.9e9. But the line alone drops real edge buckets at small budgets (at
epsilon 0.5 on Adult, education-num's (15, 31], holding the 1.3 % of rows at 16, cleared it in neither of two
fits, and all of them were clipped to 15). So the run of cleared buckets then grows outwards one neighbour at a
time while the next bucket clears a lower line (3.1 standard deviations: one test per step, 1 in 1,000): a
spurious neighbour only widens the bounds by a factor of two, which the support step (`support.py`) trims again.

The bounds are coarse (up to a factor of two wide): a schema with the column's real public bounds (for example from
the data's documentation) gives finer bins for free.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

MAGNITUDES = 63  # buckets 1..63 per sign: |x| up to 2^63 - 1
SPURIOUS_BOUND_RATE = 1e-4  # the chance that noise alone makes some empty bucket of a column clear the line
CLEARING_SIGMAS = float(norm.isf(SPURIOUS_BOUND_RATE / (2 * MAGNITUDES + 1)))  # 4.80
NEIGHBOUR_SIGMAS = float(norm.isf(1e-3))  # 3.09: a bucket next to the cleared run joins it above this line


def bucket_of(values: np.ndarray) -> np.ndarray:
    """Bucket index 0..2*MAGNITUDES: MAGNITUDES + sign(x) * ceil(log2(|x| + 1))."""
    magnitude = np.minimum(np.ceil(np.log2(np.abs(values) + 1.0)), MAGNITUDES)
    return (MAGNITUDES + np.sign(values) * magnitude).astype(np.int64)


def bucket_edges(bucket: int) -> tuple[float, float]:
    """The [low, high] a bucket covers."""
    magnitude = abs(bucket - MAGNITUDES)
    outer, inner = float(2**magnitude - 1), float(max(2 ** (magnitude - 1) - 1, 0))
    if bucket == MAGNITUDES:
        return 0.0, 0.0
    return (inner, outer) if bucket > MAGNITUDES else (-outer, -inner)


def noisy_bucket_counts(values: np.ndarray, rho: float) -> tuple[np.ndarray, float]:
    """(noisy count per bucket, the noise's standard deviation) from OpenDP's Gaussian mechanism at `rho`-zCDP."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    categories = list(range(2 * MAGNITUDES + 1))
    count = dp.t.make_count_by_categories(
        dp.vector_domain(dp.atom_domain(T=dp.i64)), dp.symmetric_distance(), categories=categories,
        null_category=False, MO=dp.L2Distance[dp.i64],
    )
    scale = float(dp.binary_search_param(lambda scale: count >> dp.m.then_gaussian(scale), d_in=1, d_out=rho))
    measurement = count >> dp.m.then_gaussian(scale)
    if measurement.map(1) > rho:  # the search returns the smallest scale within rho; recheck, never overspend
        raise RuntimeError(f"OpenDP's Gaussian mechanism at scale {scale} costs more than the planned rho {rho}")
    finite = values[~np.isnan(values)]
    counts = np.asarray(measurement([int(bucket) for bucket in bucket_of(finite)]), dtype=float)
    return counts, scale


def cleared_buckets(counts: np.ndarray, scale: float) -> tuple[int, int] | None:
    """(lowest, highest) bucket index the noisy counts show rows in, or None when no bucket clears the line."""
    cleared = np.flatnonzero(counts > CLEARING_SIGMAS * scale)
    if len(cleared) == 0:
        return None
    low, high = int(cleared[0]), int(cleared[-1])
    while low > 0 and counts[low - 1] > NEIGHBOUR_SIGMAS * scale:
        low -= 1
    while high < len(counts) - 1 and counts[high + 1] > NEIGHBOUR_SIGMAS * scale:
        high += 1
    return low, high


def bounds_from_counts(counts: np.ndarray, scale: float) -> tuple[float, float] | None:
    """The bounds the noisy counts show, or None when no bucket clears the threshold."""
    cleared = cleared_buckets(counts, scale)
    if cleared is None:
        return None
    return bucket_edges(cleared[0])[0], bucket_edges(cleared[1])[1]


def anchors_from_counts(counts: np.ndarray, scale: float) -> tuple[float, float] | None:
    """(low, high): the lowest clearing bucket shows rows at or below `low`, the highest at or above `high` (the
    bounds' inner edges). Read off the same noisy counts: no further budget. None when no bucket clears."""
    cleared = cleared_buckets(counts, scale)
    if cleared is None:
        return None
    return bucket_edges(cleared[0])[1], bucket_edges(cleared[1])[0]
