"""Gaussian copula synthesizer: faithful marginals joined by one correlation matrix. The fast baseline.

Each column is mapped to a normal score through its own distribution. Columns with few distinct values,
categories, and missing values are "discrete": every value owns an interval of the unit range as wide as its
share, and a row's score is drawn uniformly inside its value's interval, so spikes (capital-gain's zeros) come back
with exactly their mass. Other numeric columns use a quantile function of up to `n_quantiles` knots. Sampling draws
correlated normals and maps them back; conditions truncate the conditioned scores (a Gibbs sampler when several
columns are conditioned) and draw the rest from the conditional normal, so rare classes need no rejection loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from perpetuum.errors import ConditionError, ParameterError
from perpetuum.tabular.base import Synthesizer
from perpetuum.tabular.conditions import EncodedCondition
from perpetuum.tabular.registry import register
from perpetuum.tabular.truncated_normal import sample_truncated_union

_EDGE = 1e-6  # scores are computed from u clipped to [_EDGE, 1 - _EDGE] so no score is infinite
_GIBBS_SWEEPS = 25


@dataclass
class _Marginal:
    """Discrete: `values` (NaN = missing) own [edges[k], edges[k+1]]. Continuous: missing share, then knots."""

    values: np.ndarray | None = None
    edges: np.ndarray | None = None
    missing_share: float = 0.0
    knots: np.ndarray | None = None

    @property
    def is_discrete(self) -> bool:
        return self.values is not None

    def to_unit(self, column: np.ndarray, rng) -> np.ndarray:
        """Randomised probability-integral transform of training values."""
        if self.is_discrete:
            index = _value_index(self.values, column)
            return self.edges[index] + rng.random(len(column)) * (self.edges[index + 1] - self.edges[index])
        u = np.empty(len(column))
        missing = np.isnan(column)
        u[missing] = rng.random(missing.sum()) * self.missing_share
        ordered = np.sort(column[~missing])
        below = np.searchsorted(ordered, column[~missing], side="left") / len(ordered)
        at_most = np.searchsorted(ordered, column[~missing], side="right") / len(ordered)
        u[~missing] = self.missing_share + (1 - self.missing_share) * (below + rng.random(len(ordered)) * (at_most - below))
        return u

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        if self.is_discrete:
            index = np.clip(np.searchsorted(self.edges, u, side="right") - 1, 0, len(self.values) - 1)
            return self.values[index]
        values = np.interp((u - self.missing_share) / (1 - self.missing_share), _knot_probabilities(self.knots),
                           self.knots)
        values[u < self.missing_share] = np.nan
        return values

    def unit_intervals(self, condition: EncodedCondition) -> np.ndarray:
        """The (k, 2) intervals of the unit range whose values satisfy `condition`."""
        if self.is_discrete:
            if condition.codes is not None:
                wanted = np.isin(self.values, condition.codes)
            else:
                wanted = np.zeros(len(self.values), dtype=bool)
                if condition.is_range:
                    wanted |= (self.values >= condition.low) & (self.values <= condition.high)
                for value in condition.values if condition.values is not None else []:
                    wanted |= (self.values == value) | (np.isnan(self.values) & np.isnan(value))
            return np.column_stack([self.edges[:-1][wanted], self.edges[1:][wanted]])
        intervals = []
        probabilities = _knot_probabilities(self.knots)
        scale = 1 - self.missing_share

        def unit_of(x):
            return self.missing_share + scale * np.interp(x, self.knots, probabilities)

        if condition.is_range:
            intervals.append((unit_of(condition.low), unit_of(condition.high)))
        for value in condition.values if condition.values is not None else []:
            if np.isnan(value):
                intervals.append((0.0, self.missing_share))
            elif condition.column.integer:
                intervals.append((unit_of(value - 0.5), unit_of(value + 0.5)))
            else:
                raise ConditionError(
                    f"column {condition.column.name!r} is continuous and exactly {value:g} carries no probability; "
                    f"ask for a range instead, e.g. '{condition.column.name}=a..b'"
                )
        return np.array([interval for interval in intervals if interval[1] > interval[0]]).reshape(-1, 2)


def _knot_probabilities(knots: np.ndarray) -> np.ndarray:
    return np.linspace(0.0, 1.0, len(knots))


def _value_index(values: np.ndarray, column: np.ndarray) -> np.ndarray:
    """Position in `values` of each element of `column` (NaN matches NaN)."""
    index = np.empty(len(column), dtype=np.int64)
    missing = np.isnan(column)
    if missing.any():
        index[missing] = np.flatnonzero(np.isnan(values))[0]
    order = np.argsort(values)  # NaN sorts last, after every number
    index[~missing] = order[np.searchsorted(values[order], column[~missing])]
    return index


@register("copula", "fast")
class GaussianCopula(Synthesizer):
    """The fast baseline; see the module docstring.

    Parameters
    ----------
    n_quantiles : knots of each continuous column's quantile function.
    discrete_max_unique : numeric columns with at most this many distinct values are treated as discrete.
    """

    def __init__(self, n_quantiles: int = 1001, discrete_max_unique: int = 30, seed: int | None = 0,
                 verbose: bool = False):
        super().__init__(seed=seed, verbose=verbose)
        self.n_quantiles = n_quantiles
        self.discrete_max_unique = discrete_max_unique

    def _check_params(self) -> None:
        super()._check_params()
        if not isinstance(self.n_quantiles, (int, np.integer)) or self.n_quantiles < 2:
            raise ParameterError(f"n_quantiles must be an integer of at least 2, got {self.n_quantiles!r}")
        if not isinstance(self.discrete_max_unique, (int, np.integer)) or self.discrete_max_unique < 1:
            raise ParameterError(f"discrete_max_unique must be a positive integer, got {self.discrete_max_unique!r}")

    def _fit_matrix(self, matrix: np.ndarray, rng: np.random.Generator) -> None:
        self.marginals_ = [self._fit_marginal(matrix[:, j], column.is_numeric)
                           for j, column in enumerate(self.encoder_.model_columns_)]
        scores = np.column_stack([ndtri(np.clip(marginal.to_unit(matrix[:, j], rng), _EDGE, 1 - _EDGE))
                                  for j, marginal in enumerate(self.marginals_)])
        self.correlation_ = _nearest_correlation(scores)

    def _fit_marginal(self, column: np.ndarray, numeric: bool) -> _Marginal:
        present = column[~np.isnan(column)]
        unique, counts = np.unique(present, return_counts=True)
        if not numeric or len(unique) <= self.discrete_max_unique:
            if not numeric:  # categories in order of frequency, which keeps their scores' order meaningful
                order = np.argsort(-counts, kind="stable")
                unique, counts = unique[order], counts[order]
            missing = len(column) - len(present)
            if missing:
                unique, counts = np.append(unique, np.nan), np.append(counts, missing)
            edges = np.concatenate([[0.0], np.cumsum(counts) / counts.sum()])
            return _Marginal(values=unique.astype(float), edges=edges)
        knots = np.quantile(present, np.linspace(0.0, 1.0, self.n_quantiles))
        return _Marginal(missing_share=1 - len(present) / len(column), knots=knots)

    def _sample_matrix(self, n: int, conditions: list[EncodedCondition], rng: np.random.Generator) -> np.ndarray:
        dimensions = len(self.marginals_)
        scores = np.empty((n, dimensions))
        conditioned = [condition.index for condition in conditions]
        if conditioned:
            score_intervals = {}
            for condition in conditions:
                unit = self.marginals_[condition.index].unit_intervals(condition)
                if len(unit) == 0:
                    raise ConditionError(f"no value of column {condition.column.name!r} satisfies its condition")
                score_intervals[condition.index] = ndtri(np.clip(unit, _EDGE, 1 - _EDGE))
            scores[:, conditioned] = self._gibbs(conditioned, score_intervals, n, rng)
        free = [j for j in range(dimensions) if j not in conditioned]
        if free:
            scores[:, free] = self._conditional_normal(free, conditioned, scores, rng)
        unit = ndtr(scores)
        return np.column_stack([marginal.from_unit(unit[:, j]) for j, marginal in enumerate(self.marginals_)])

    def _gibbs(self, conditioned: list[int], intervals: dict, n: int, rng) -> np.ndarray:
        """Correlated normal scores truncated to each conditioned column's intervals."""
        block = self.correlation_[np.ix_(conditioned, conditioned)]
        precision = np.linalg.inv(block)
        values = np.column_stack([sample_truncated_union(np.zeros(n), np.ones(n), intervals[j], rng)
                                  for j in conditioned])
        sweeps = _GIBBS_SWEEPS if len(conditioned) > 1 else 0
        for _ in range(sweeps):
            for position, j in enumerate(conditioned):
                others = [k for k in range(len(conditioned)) if k != position]
                spread = 1.0 / np.sqrt(precision[position, position])
                mean = -(values[:, others] @ precision[position, others]) / precision[position, position]
                values[:, position] = sample_truncated_union(mean, np.full(n, spread), intervals[j], rng)
        return values

    def _conditional_normal(self, free: list[int], given: list[int], scores: np.ndarray, rng) -> np.ndarray:
        sigma = self.correlation_
        if not given:
            covariance, mean = sigma[np.ix_(free, free)], np.zeros((len(scores), len(free)))
        else:
            gain = sigma[np.ix_(free, given)] @ np.linalg.inv(sigma[np.ix_(given, given)])
            mean = scores[:, given] @ gain.T
            covariance = sigma[np.ix_(free, free)] - gain @ sigma[np.ix_(given, free)]
        factor = np.linalg.cholesky(_nearest_correlation_matrix(covariance, keep_scale=True))
        return mean + rng.standard_normal((len(scores), len(free))) @ factor.T

    def _state(self):
        arrays = {"correlation": self.correlation_}
        for j, marginal in enumerate(self.marginals_):
            for field in ("values", "edges", "knots"):
                if getattr(marginal, field) is not None:
                    arrays[f"m{j}_{field}"] = getattr(marginal, field)
        return {"missing_shares": [marginal.missing_share for marginal in self.marginals_]}, arrays

    def _restore_state(self, state, arrays):
        self.correlation_ = arrays["correlation"]
        self.marginals_ = [
            _Marginal(values=arrays.get(f"m{j}_values"), edges=arrays.get(f"m{j}_edges"), missing_share=share,
                      knots=arrays.get(f"m{j}_knots"))
            for j, share in enumerate(state["missing_shares"])
        ]


def _nearest_correlation(scores: np.ndarray) -> np.ndarray:
    if scores.shape[1] == 1:
        return np.ones((1, 1))
    correlation = np.corrcoef(scores, rowvar=False)
    correlation = np.nan_to_num(correlation, nan=0.0)
    np.fill_diagonal(correlation, 1.0)
    return _nearest_correlation_matrix(correlation)


def _nearest_correlation_matrix(matrix: np.ndarray, keep_scale: bool = False) -> np.ndarray:
    """Clip eigenvalues so the matrix is positive definite (and, unless keep_scale, rescale to unit diagonal)."""
    symmetric = (matrix + matrix.T) / 2
    eigenvalues, eigenvectors = np.linalg.eigh(symmetric)
    floor = 1e-6 * max(1.0, float(np.abs(eigenvalues).max()))
    repaired = eigenvectors @ np.diag(np.maximum(eigenvalues, floor)) @ eigenvectors.T
    if keep_scale:
        return repaired
    scale = np.sqrt(np.diag(repaired))
    return repaired / np.outer(scale, scale)
