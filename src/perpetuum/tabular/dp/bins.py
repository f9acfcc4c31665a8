"""Numeric columns as bins, for the marginal-based private synthesizers (which model categories only).

The bins depend only on public facts: the column's bounds (from the schema or a private release) and whether it holds
whole numbers. Nothing about the data's values is looked at, so the binning itself costs no privacy budget.

- Whole numbers with at most `max_exact_values` possible values get one bin per value (age, hours per week): the
  spikes such columns have (40 hours) survive exactly.
- Otherwise `n_bins` equal-width bins span the bounds, plus single-value "atom" bins for the lower bound and for 0
  when 0 lies inside: counts and amounts are often mostly zeros or mostly the minimum (capital gain), and a spike
  smeared over a wide bin would ruin the column's distribution.
- Every column has one more code for a missing value.

Sampling a bin draws uniformly inside it (whole numbers inside it, for integer columns).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class NumericBins:
    """Bin i covers [lows[i], highs[i]] (integers) or [lows[i], highs[i]) (reals; the last bin is closed)."""

    lows: np.ndarray
    highs: np.ndarray
    integer: bool

    @property
    def n_codes(self) -> int:
        """Bins plus the missing-value code (the last one)."""
        return len(self.lows) + 1

    @property
    def missing_code(self) -> int:
        return len(self.lows)

    @classmethod
    def build(cls, low: float, high: float, integer: bool, n_bins: int = 64, max_exact_values: int = 128):
        if integer:
            low, high = float(np.floor(low)), float(np.ceil(high))
            if high - low + 1 <= max_exact_values:
                values = np.arange(low, high + 1)
                return cls(values, values.copy(), True)
        atoms = [low] + ([0.0] if low < 0 < high else [])
        if high <= low:
            return cls(np.array([low]), np.array([high]), integer)
        edges = np.linspace(low, high, n_bins + 1)
        if integer:
            edges = np.unique(np.round(edges))
        lows, highs = [], []
        for left, right in zip(edges[:-1], edges[1:]):
            lows.append(left)
            highs.append(right - 1 if integer else right)
        if integer:
            highs[-1] = high
        lows, highs = _split_out_atoms(np.array(lows), np.array(highs), atoms, integer)
        return cls(lows, highs, integer)

    def encode(self, values: np.ndarray) -> np.ndarray:
        """The code of each value (values outside the bounds go to the nearest end bin; NaN to the missing code)."""
        codes = np.full(len(values), self.missing_code, dtype=np.int64)
        present = ~np.isnan(values)
        clipped = np.clip(values[present], self.lows[0], self.highs[-1])
        if self.integer:
            clipped = np.round(clipped)
        codes[present] = np.clip(np.searchsorted(self.lows, clipped, side="right") - 1, 0, len(self.lows) - 1)
        return codes

    def codes_overlapping(self, low: float, high: float) -> np.ndarray:
        """Codes of the bins that hold at least one value in [low, high]."""
        upper = self.highs if self.integer else np.where(np.arange(len(self.lows)) == len(self.lows) - 1,
                                                         self.highs, np.nextafter(self.highs, -np.inf))
        return np.flatnonzero((self.lows <= high) & (upper >= low))

    def decode(self, codes: np.ndarray, rng: np.random.Generator, low: float = -np.inf,
               high: float = np.inf) -> np.ndarray:
        """Values drawn uniformly inside each code's bin, within [low, high]; NaN for the missing code."""
        values = np.full(len(codes), np.nan)
        present = codes != self.missing_code
        bin_low = np.maximum(self.lows[codes[present]], low)
        bin_high = np.minimum(self.highs[codes[present]], high)
        if self.integer:
            bin_low, bin_high = np.ceil(bin_low), np.floor(bin_high)
            values[present] = bin_low + np.floor(rng.random(present.sum()) * (bin_high - bin_low + 1))
            values[present] = np.minimum(values[present], bin_high)
        else:
            values[present] = bin_low + rng.random(present.sum()) * (bin_high - bin_low)
        return values

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}_lows": self.lows, f"{prefix}_highs": self.highs}

    @classmethod
    def from_arrays(cls, arrays: dict, prefix: str, integer: bool) -> "NumericBins":
        return cls(arrays[f"{prefix}_lows"], arrays[f"{prefix}_highs"], integer)


def _split_out_atoms(lows: np.ndarray, highs: np.ndarray, atoms: list[float], integer: bool):
    """Give each atom a bin of its own, cutting the bin that holds it."""
    step = 1.0 if integer else 0.0
    for atom in atoms:
        index = int(np.clip(np.searchsorted(lows, atom, side="right") - 1, 0, len(lows) - 1))
        low, high = lows[index], highs[index]
        if low == atom and high == atom:
            continue
        pieces = [(atom, atom)]
        if atom > low:
            pieces.insert(0, (low, atom - step if integer else atom))
        if atom < high:
            pieces.append((atom + step if integer else np.nextafter(atom, np.inf), high))
        lows = np.concatenate([lows[:index], [piece[0] for piece in pieces], lows[index + 1:]])
        highs = np.concatenate([highs[:index], [piece[1] for piece in pieces], highs[index + 1:]])
    return lows, highs
