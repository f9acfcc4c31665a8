"""Vectorised truncated-normal helpers shared by the synthesizers."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri


def interval_mass(mean, spread, low, high) -> np.ndarray:
    """P(low <= X <= high) for X ~ Normal(mean, spread); 0 where the interval is empty."""
    mass = ndtr((high - mean) / spread) - ndtr((low - mean) / spread)
    return np.where(high >= low, np.maximum(mass, 0.0), 0.0)


def sample_truncated(mean, spread, low, high, rng: np.random.Generator, uniforms=None) -> np.ndarray:
    """One draw per element from Normal(mean, spread) truncated to [low, high] (all arrays broadcast together).

    `uniforms` (same shape, in (0, 1)) are used for the inverse CDF instead of fresh random numbers, so draws of
    several columns can be made dependent.
    """
    mean, spread, low, high = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (mean, spread, low, high)))
    cdf_low, cdf_high = ndtr((low - mean) / spread), ndtr((high - mean) / spread)
    if uniforms is None:
        uniforms = rng.random(mean.shape)
    u = cdf_low + uniforms * (cdf_high - cdf_low)
    with np.errstate(invalid="ignore", over="ignore"):
        values = mean + spread * ndtri(np.clip(u, 1e-300, 1 - 1e-16))
    # far in a tail the normal CDF loses precision: fall back to uniform within the interval
    flat = ~np.isfinite(values) | (cdf_high - cdf_low < 1e-12)
    if flat.any():
        width = np.where(np.isfinite(high - low), high - low, 0.0)
        start = np.where(np.isfinite(low), low, np.where(np.isfinite(high), high, mean))
        values[flat] = (start + rng.random(mean.shape) * width)[flat]
    return np.clip(values, low, high)


def sample_truncated_union(mean, spread, intervals: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draws from Normal(mean, spread) truncated to a union of intervals ((k, 2) array, shared by all rows).

    Rows whose union has no mass fall back to the first interval.
    """
    mean, spread = np.asarray(mean, dtype=float), np.asarray(spread, dtype=float)
    masses = interval_mass(mean[:, None], spread[:, None], intervals[None, :, 0], intervals[None, :, 1])
    cumulative = np.cumsum(masses, axis=1)
    choice = (cumulative < (rng.random(len(mean)) * cumulative[:, -1])[:, None]).sum(axis=1)
    choice = np.minimum(choice, len(intervals) - 1)
    return sample_truncated(mean, spread, intervals[choice, 0], intervals[choice, 1], rng)
