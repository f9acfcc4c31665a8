"""Privacy filters: drop synthetic rows that sit too close to a real person, and sample again until there are
enough. They work on the output of any synthesizer, in the distance the report's privacy metrics use
(`record_distance.DistanceEncoder`, Euclidean).

    similarity = SimilarityFilter().fit(train)
    kept = similarity.filter(synthetic)                     # rows closer to a training row than real rows are
    outliers = OutlierFilter().fit(train)
    rows, summary = sample_filtered(model, 10_000, [similarity, outliers], seed=0)   # exactly 10,000 rows

- `SimilarityFilter`: a row is dropped when its nearest training row is closer than the `quantile` (5th
  percentile) of the distances from training rows to their own nearest other training row: real records are
  rarely that close to each other, so a synthetic row that is, is near-copying someone. Exact copies are always
  dropped.
- `OutlierFilter`: training rows whose nearest other training row is farther than the `outlier_quantile` of those
  distances are isolated people, easy to single out. A synthetic row is dropped when its nearest training row is
  such an outlier and it lies closer to that person than any other real record does: it points at them alone.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from perpetuum.errors import DataInputError, ParameterError
from perpetuum.privacy.record_distance import DistanceEncoder

__all__ = ["OutlierFilter", "SimilarityFilter", "sample_filtered"]

COPY_TOLERANCE = 1e-9
MAX_ROUNDS = 20


class _DistanceFilter:
    name = "filter"

    def __init__(self, columns: list[str] | None = None):
        self.columns = columns

    def _fit_reference(self, train: pd.DataFrame) -> np.ndarray:
        """Encode the training rows; return each one's distance to its nearest other training row."""
        if not isinstance(train, pd.DataFrame) or len(train) < 3:
            raise DataInputError(f"{type(self).__name__}.fit needs a DataFrame of at least 3 training rows")
        self.columns_ = list(self.columns) if self.columns is not None else list(train.columns)
        missing = [column for column in self.columns_ if column not in train.columns]
        if missing:
            raise DataInputError(f"{type(self).__name__}: the training table lacks column(s) {missing}")
        self.encoder_ = DistanceEncoder().fit(train[self.columns_])
        self.reference_ = self.encoder_.transform(train[self.columns_])
        self.index_ = NearestNeighbors(n_neighbors=2, algorithm="brute").fit(self.reference_)
        neighbours = self.index_.kneighbors(self.reference_, return_distance=False)
        # the nearest other row: a row is its own first neighbour unless an exact duplicate came first
        others = np.where(neighbours[:, 0] == np.arange(len(train)), neighbours[:, 1], neighbours[:, 0])
        return np.sqrt(((self.reference_ - self.reference_[others]) ** 2).sum(axis=1))

    def _nearest(self, synthetic: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(index of the nearest training row, its distance) for each synthetic row."""
        if not hasattr(self, "index_"):
            raise ParameterError(f"this {type(self).__name__} is not fitted yet; call fit(train) first")
        missing = [column for column in self.columns_ if column not in synthetic.columns]
        if missing:
            raise DataInputError(f"{type(self).__name__}: the synthetic table lacks column(s) {missing}")
        if len(synthetic) == 0:
            return np.empty(0, dtype=int), np.empty(0)
        queries = self.encoder_.transform(synthetic[self.columns_])
        nearest = self.index_.kneighbors(queries, n_neighbors=1, return_distance=False)[:, 0]
        return nearest, np.sqrt(((queries - self.reference_[nearest]) ** 2).sum(axis=1))

    def keep_mask(self, synthetic: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def filter(self, synthetic: pd.DataFrame) -> pd.DataFrame:
        """The synthetic rows this filter keeps, index reset."""
        return synthetic[self.keep_mask(synthetic)].reset_index(drop=True)


class SimilarityFilter(_DistanceFilter):
    """Drops synthetic rows nearer a training row than `quantile` of real-to-real nearest distances (see the
    module docstring). `columns`: the columns compared (default: all of the training table's)."""

    name = "similarity"

    def __init__(self, quantile: float = 0.05, columns: list[str] | None = None):
        super().__init__(columns)
        self.quantile = quantile

    def fit(self, train: pd.DataFrame) -> "SimilarityFilter":
        if not 0.0 <= self.quantile < 1.0:
            raise ParameterError(f"quantile must be in [0, 1), got {self.quantile!r}; 0.05 is the usual choice")
        real_to_real = self._fit_reference(train)
        self.threshold_ = float(np.quantile(real_to_real, self.quantile))
        return self

    def keep_mask(self, synthetic: pd.DataFrame) -> np.ndarray:
        """True for each synthetic row farther from every training row than the threshold (and no exact copy)."""
        _, distance = self._nearest(synthetic)
        return (distance >= self.threshold_) & (distance > COPY_TOLERANCE)

    def describe(self) -> str:
        return (f"drops rows closer to a training row than {self.threshold_:.4f}, the {self.quantile:.0%} quantile "
                "of real rows' distances to their nearest other real row; exact copies always")


class OutlierFilter(_DistanceFilter):
    """Drops synthetic rows that single out an isolated training row (see the module docstring).
    `outlier_quantile`: training rows whose nearest-neighbour distance is above this quantile are outliers."""

    name = "outlier"

    def __init__(self, outlier_quantile: float = 0.95, columns: list[str] | None = None):
        super().__init__(columns)
        self.outlier_quantile = outlier_quantile

    def fit(self, train: pd.DataFrame) -> "OutlierFilter":
        if not 0.0 < self.outlier_quantile < 1.0:
            raise ParameterError(
                f"outlier_quantile must be in (0, 1), got {self.outlier_quantile!r}; 0.95 is the usual choice")
        self.isolation_ = self._fit_reference(train)
        self.cutoff_ = float(np.quantile(self.isolation_, self.outlier_quantile))
        self.is_outlier_ = self.isolation_ > self.cutoff_
        return self

    def keep_mask(self, synthetic: pd.DataFrame) -> np.ndarray:
        """False for each synthetic row whose nearest training row is an outlier it lies closer to than any other
        real row does."""
        nearest, distance = self._nearest(synthetic)
        singles_out = self.is_outlier_[nearest] & (distance < self.isolation_[nearest])
        return ~singles_out

    def describe(self) -> str:
        return (f"{int(self.is_outlier_.sum()):,} training rows are outliers (nearest other real row farther than "
                f"{self.cutoff_:.4f}, the {self.outlier_quantile:.0%} quantile); drops rows nearer such a row than "
                "any other real row is")


def sample_filtered(synthesizer, n: int, filters: list, *, conditions: dict | None = None, seed: int = 0,
                    max_rounds: int = MAX_ROUNDS) -> tuple[pd.DataFrame, dict]:
    """Exactly `n` rows from `synthesizer.sample` that pass every fitted filter: sample, filter, sample again for
    the rows dropped. Returns (rows, summary): "rounds", "sampled", "removed" {filter name: rows}, "filters"
    {name: description}, "first_sample" (the unfiltered first draw of `n` rows, to measure what filtering changed).
    Raises ParameterError when the filters keep too few rows to reach `n` in `max_rounds` draws."""
    rng = np.random.default_rng(seed)
    kept: list[pd.DataFrame] = []
    removed = {getattr(item, "name", type(item).__name__): 0 for item in filters}
    have, sampled, rounds, first = 0, 0, 0, None
    keep_rate = 1.0
    while have < n:
        if rounds == max_rounds:
            raise ParameterError(
                f"the privacy filters kept {have:,} of {sampled:,} sampled rows, too few to reach {n:,} in "
                f"{max_rounds} draws; loosen them (a lower similarity quantile) or switch them off"
            )
        wanted = n if rounds == 0 else math.ceil((n - have) / max(keep_rate, 0.02) * 1.1) + 16
        batch = synthesizer.sample(wanted, conditions=conditions, seed=int(rng.integers(2**31)))
        if first is None:
            first = batch
        rounds += 1
        sampled += len(batch)
        mask = np.ones(len(batch), dtype=bool)
        for item in filters:
            passed = item.keep_mask(batch)
            removed[getattr(item, "name", type(item).__name__)] += int((mask & ~passed).sum())
            mask &= passed
        kept.append(batch[mask])
        have += int(mask.sum())
        keep_rate = max(have / sampled, 1e-6)
    rows = pd.concat(kept, ignore_index=True).iloc[:n].reset_index(drop=True)
    summary = {"rounds": rounds, "sampled": sampled, "removed": removed,
               "filters": {getattr(item, "name", type(item).__name__): item.describe() for item in filters},
               "first_sample": first}
    return rows, summary
