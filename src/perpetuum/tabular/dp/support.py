"""The codes each column may take in sampled rows: structural zeros read off the released counts.

Why. Noise gives every cell of a measured marginal some mass, cells no row holds included, and the graphical model
keeps it. Most such cells are harmless, but two kinds are not:
- the bins of a numeric column outside its real range. The private bounds are powers of two (`private_bounds.py`),
  so Adult's age (17..90) is binned over 15..127, education-num (1..16) over 1..31, hours-per-week (1..99) over
  0..127. The empty bins' noisy mass put 0.9 % of sampled ages above 90 (up to 127) and 21 rows at education-num
  17..31. A handful of impossible values is little for each column's shape, but it stretches the column's range,
  and pair metrics that bin a column over its own range (SDMetrics' Column Pair Trends) then compare misaligned
  bins: on Adult at epsilon 3, dp-mst scored 0.009 on education x education-num and 0.14 on education-num x income
  (0.90 and 0.98 on the real data's bin edges).
- the missing-value cell of a column that has no missing values (44 sampled rows with no race on Adult).

Rule. For each column, estimate the count of each of its cells from every released measurement that covers it:
its one-way marginal (OpenDP measures every column's first; a column whose categories were discovered gets only
its discovered categories measured, not the cell for missing or dropped values), and each measured multi-way
marginal summed over its other columns (noise variance s^2 times the cells summed), combined by inverse variance.
A set of cells "shows rows" when its estimated count exceeds z standard deviations of its noise, with z set by
Bonferroni so that noise alone makes some empty cell or run of a column show rows about 1 time in 100 (alpha,
half for single cells and half for runs of bins), or exceeds half a percent of the column's released total. Then
- a numeric column drops bins from each end while no run of bins from the next one outwards (that bin alone
  included) shows rows: a spike clears on its own, mass spread thin over many bins clears as a run, and no
  stretch whose released count is above half a percent of the rows is dropped. Bins between the ends are kept
  whatever their count; if no bin shows rows, every bin is kept (the counts say nothing). When the column's
  bounds were released privately, the outer buckets of that release showed rows too (at or below the lowest
  bucket's inner edge, at or above the highest's): the support always reaches those values (a wide bucket can
  clear where the finer bins, each holding a few of its rows, do not);
- the missing-value cell (numeric or categorical) is kept only if it shows rows (or no release covers it);
- the other cells of a categorical column are always kept: their categories come from the schema (public, perhaps
  rare) or were discovered by thresholded noisy counts (they cleared a line already).

Privacy. This reads only released noisy counts: post-processing, no budget. The price is that thin real tails the
noise hides are dropped too (on Adult at epsilon 3, one dp-mst fit: fnlwgt above about 550,000, 0.7 % of the rows;
capital-loss above 2430, 0.2 %; hours per week below 3, 0.1 %); their mass goes to the rest of the column as the
model has it (the support is evidence to the sampler). On a small table the half-percent rule keeps most tails,
and with them some of the noise.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

SPURIOUS_RATE = 0.01  # alpha: the chance that noise alone makes an empty cell or run show rows, per column
NEGLIGIBLE_SHARE = 0.005  # a tail or missing cell whose released count is above this share of rows is kept


def clearing_line(cells: int, alpha: float = SPURIOUS_RATE) -> float:
    """z: one of `cells` tests clears when its noisy count exceeds z standard deviations of its noise."""
    return float(norm.isf(alpha / max(int(cells), 1)))


def cell_estimates(measurements, sizes: dict[str, int], column: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(count, standard deviation) of each cell of `column` from the released measurements (mbi
    `LinearMeasurement`s: noisy counts of a clique's cells, flattened in the clique's order, or of a prefix of a
    one-way marginal's cells); inf deviation where nothing covers a cell, None when nothing covers the column."""
    from mbi import Factor

    size = int(sizes[column])
    precision = np.zeros(size)
    weighted = np.zeros(size)
    for measurement in measurements:
        clique = tuple(measurement.clique)
        if column not in clique or not measurement.stddev > 0:
            continue
        values = np.asarray(measurement.noisy_measurement, dtype=np.float64).ravel()
        prefix = getattr(measurement.query, "length", None)
        if clique == (column,) and isinstance(prefix, (int, np.integer)) and prefix == values.size <= size:
            cells, variance = np.arange(prefix), np.full(prefix, float(measurement.stddev) ** 2)
        elif measurement.query is Factor.datavector and values.size == np.prod([sizes[name] for name in clique]):
            shape = [int(sizes[name]) for name in clique]
            axis = clique.index(column)
            values = values.reshape(shape).sum(axis=tuple(i for i in range(len(shape)) if i != axis))
            summed = int(np.prod(shape)) // size  # each cell of the column sums this many noisy counts
            cells, variance = np.arange(size), np.full(size, float(measurement.stddev) ** 2 * summed)
        else:
            continue
        precision[cells] += 1.0 / variance
        weighted[cells] += values / variance
    if not precision.any():
        return None
    covered = precision > 0
    counts = np.where(covered, weighted / np.where(covered, precision, 1.0), 0.0)
    deviation = np.where(covered, 1.0 / np.sqrt(np.where(covered, precision, 1.0)), np.inf)
    return counts, deviation


def released_support(counts: np.ndarray, deviation: np.ndarray, numeric: bool, missing_code: int,
                     anchors: tuple[int, int] | None = None, alpha: float = SPURIOUS_RATE,
                     share: float = NEGLIGIBLE_SHARE) -> np.ndarray | None:
    """The codes a column keeps (see the module docstring), or None when it keeps every code. `anchors`: (low,
    high) bin codes another release already showed rows at or below and at or above; they are never dropped."""
    counts, deviation = np.asarray(counts, dtype=np.float64), np.asarray(deviation, dtype=np.float64)
    values = missing_code if 0 <= missing_code < len(counts) else len(counts)
    limit = share * max(float(counts.sum()), 0.0)
    # half of alpha for single cells, half for runs of two or more bins (numeric columns only)
    cell_line = clearing_line(len(counts), alpha / 2 if numeric else alpha)
    run_line = clearing_line(values * (values - 1) // 2, alpha / 2)
    variance = np.square(deviation)

    def shows_rows(start: int, stop: int) -> bool:
        total = float(counts[start:stop].sum())
        line = cell_line if stop - start == 1 else run_line
        return total > limit or total > line * float(np.sqrt(variance[start:stop].sum()))

    keep = np.ones(len(counts), dtype=bool)
    if values < len(counts) and np.isfinite(deviation[values]):
        keep[values] = shows_rows(values, values + 1)
    if numeric:
        # drop a bin while no run of bins from it outwards (it alone included) shows rows
        high = values - 1
        while high >= 0 and not any(shows_rows(high, stop) for stop in range(high + 1, values + 1)):
            high -= 1
        low = 0
        while low < high and not any(shows_rows(start, low + 1) for start in range(0, low + 1)):
            low += 1
        if high >= 0:  # else no bin shows rows: the counts say nothing, every bin stays
            if anchors is not None:
                low, high = min(low, anchors[0]), max(high, anchors[1])
            keep[:low] = False
            keep[high + 1:values] = False
    if keep.all() or not keep.any():
        return None
    return np.flatnonzero(keep)
