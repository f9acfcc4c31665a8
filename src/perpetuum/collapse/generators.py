"""Generators for collapse experiments, found by name: a generator learns from a training set and makes a new one.

    generator = get_generator("gaussian")                 # or "gmm", "tabular", "text", or one you registered
    fitted = generator.fit(training, seed=0)
    sample = fitted.sample(100, seed=1)
    metrics = generator.measure(reference, sample, fitted, first=fitted_generation_0)

Array generators (`gaussian`, `gmm`) work on arrays of shape (repeats, rows, dims) and serve every repeat in one
call; `tabular` works on a DataFrame, `text` on a list of documents (see `perpetuum.collapse.text_generator`).
A new generator is a class with `fit` and `measure`, registered with `@register_generator("name")`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from perpetuum.collapse.array_metrics import array_metrics
from perpetuum.errors import ParameterError
from perpetuum.registry import Registry

__all__ = ["CollapseGenerator", "register_generator", "get_generator", "available_generators",
           "GaussianGenerator", "MixtureGenerator", "TabularGenerator"]

# importing text_generator registers "text" (torch itself is imported only when a text generator is fitted)
GENERATORS = Registry("collapse generator", preload=("perpetuum.collapse.text_generator",),
                      entry_point_group="perpetuum.collapse_generators")


def register_generator(name: str):
    """Class decorator: make a generator available to `get_generator(name)` and `perpetuum collapse -g name`
    (packages can also name theirs in the entry-point group `perpetuum.collapse_generators`)."""
    return GENERATORS.register(name)


def get_generator(name: str, **options) -> "CollapseGenerator":
    """A new generator registered under `name`, built with `options` (e.g. components=3 for gmm)."""
    cls = GENERATORS.get(name)
    try:
        return cls(**options)
    except TypeError as error:
        raise ParameterError(f"generator {name!r} does not take these options: {error}") from None


def available_generators() -> list[str]:
    return GENERATORS.names()


class CollapseGenerator:
    """The contract: `fit(training, seed)` returns a fitted model with `sample(n, seed)`; `measure` gives the
    metrics of one generation's sample against the reference (one value per repeat for arrays)."""

    name = ""
    data_kind = "array"  # "array" (repeats, rows, dims), "table" (DataFrame) or "text" (list of documents)

    def fit(self, training, seed: int):
        raise NotImplementedError

    def measure(self, reference, sample, fitted, first) -> dict[str, Any]:
        return array_metrics(reference, sample)

    def default_n(self, real) -> int:
        """The sample size per generation when none is given: as much as the real data."""
        from perpetuum.collapse.strategies import length

        return length(real)

    def describe(self) -> dict:
        """Name and parameters, for the results' JSON."""
        return {"name": self.name, **{key: value for key, value in vars(self).items() if not key.startswith("_")}}


def as_batched(data, repeats: int, *, broadcast: bool = True) -> np.ndarray:
    """An array of shape (repeats, rows, dims) from (rows,), (rows, dims) (shared by every repeat) or (r, rows, d).

    With `broadcast` false, data shared by every repeat keep a leading axis of 1 (metrics broadcast it; sorting
    one copy is 200 times cheaper than sorting 200 views of it)."""
    array = np.asarray(data, dtype="float64")
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or array.shape[0] not in (1, repeats):
        raise ParameterError(f"array data must be (rows,), (rows, dims) or (repeats, rows, dims); got {array.shape}")
    if array.shape[1] < 2:
        raise ParameterError(f"array data needs at least 2 rows, got {array.shape[1]}")
    if not np.isfinite(array).all():
        raise ParameterError("array data holds NaN or infinite values; drop or fill them first")
    return np.broadcast_to(array, (repeats, *array.shape[1:])) if broadcast else array


# ---------------------------------------------------------------------------------------------- Gaussian


class _FittedGaussian:
    def __init__(self, mean: np.ndarray, cholesky: np.ndarray):
        self.mean_, self.cholesky_ = mean, cholesky

    def sample(self, n: int, seed) -> np.ndarray:
        noise = np.random.default_rng(seed).standard_normal((self.mean_.shape[0], n, self.mean_.shape[1]))
        return self.mean_[:, None, :] + np.einsum("rnj,rij->rni", noise, self.cholesky_)


@register_generator("gaussian")
class GaussianGenerator(CollapseGenerator):
    """A normal distribution (1-D or multivariate), fitted by the sample mean and unbiased covariance (ddof=1):
    the setting of Shumailov et al. (2024), where the variance of N points fitted recursively decays like
    exp(-generation / N)."""

    def fit(self, training: np.ndarray, seed: int) -> _FittedGaussian:
        mean = training.mean(axis=1)
        centred = training - mean[:, None, :]
        covariance = np.einsum("rni,rnj->rij", centred, centred) / (training.shape[1] - 1)
        # A tiny ridge keeps the Cholesky factor defined once the data have (nearly) collapsed to a point.
        ridge = 1e-12 * np.maximum(np.trace(covariance, axis1=1, axis2=2), 1e-300)[:, None, None]
        cholesky = np.linalg.cholesky(covariance + ridge * np.eye(training.shape[2]))
        return _FittedGaussian(mean, cholesky)


# ---------------------------------------------------------------------------------------------- mixture


class _FittedMixtures:
    def __init__(self, mixtures: list):
        self.mixtures_ = mixtures

    def sample(self, n: int, seed) -> np.ndarray:
        rng = np.random.default_rng(seed)
        samples = []
        for mixture in self.mixtures_:
            mixture.random_state = int(rng.integers(2**31))
            rows, _ = mixture.sample(n)
            samples.append(rows[rng.permutation(n)])  # sklearn returns rows grouped by component
        return np.stack(samples)


@register_generator("gmm")
class MixtureGenerator(CollapseGenerator):
    """A scikit-learn GaussianMixture with `components` full-covariance components, one per repeat."""

    def __init__(self, components: int = 3, max_iter: int = 100):
        self.components = components
        self.max_iter = max_iter

    def fit(self, training: np.ndarray, seed: int) -> _FittedMixtures:
        from sklearn.mixture import GaussianMixture

        if not isinstance(self.components, int) or self.components < 1:
            raise ParameterError(f"gmm components must be a positive integer, got {self.components!r}")
        if training.shape[1] < self.components:
            raise ParameterError(f"gmm needs at least {self.components} rows (one per component)")
        from threadpoolctl import threadpool_limits

        rng = np.random.default_rng(seed)
        # One BLAS thread: these matrices are tiny, and threads that wait on each other crawl on a busy machine.
        with threadpool_limits(limits=1):
            mixtures = [
                GaussianMixture(self.components, max_iter=self.max_iter, reg_covar=1e-6,
                                random_state=int(rng.integers(2**31))).fit(rows)
                for rows in training
            ]
        return _FittedMixtures(mixtures)


# ---------------------------------------------------------------------------------------------- tables


class _FittedTable:
    def __init__(self, synthesizer):
        self.synthesizer_ = synthesizer

    def sample(self, n: int, seed):
        return self.synthesizer_.sample(n, seed=int(np.random.default_rng(seed).integers(2**31)))


@register_generator("tabular")
class TabularGenerator(CollapseGenerator):
    """Any Perpetuum synthesizer (`model`: fast, quality or a registered name) on a table. The schema is inferred
    once from the real table and reused, so column kinds stay fixed across generations."""

    data_kind = "table"

    def __init__(self, model: str = "fast", detection: bool = True, params: dict | None = None):
        self.model = model
        self.detection = detection
        self.params = dict(params or {})
        self._schema = None

    def set_real(self, real) -> None:
        from perpetuum.schema import infer_schema

        self._schema = infer_schema(real)

    def fit(self, training, seed: int) -> _FittedTable:
        from perpetuum.tabular import get_synthesizer

        synthesizer = get_synthesizer(self.model)(seed=int(seed % 2**31), verbose=False, **self.params)
        return _FittedTable(synthesizer.fit(training, schema=self._schema))

    def measure(self, reference, sample, fitted, first) -> dict[str, float]:
        from perpetuum.collapse.table_metrics import table_metrics

        return table_metrics(reference, sample, detection=self.detection)
