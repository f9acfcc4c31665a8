"""Ready experiments: the paper's Gaussian toy, where the real data are drawn fresh for every repeat."""

from __future__ import annotations

import numpy as np

from perpetuum.collapse.experiment import derived_seed, run_experiment
from perpetuum.collapse.generators import get_generator
from perpetuum.collapse.results import CollapseResult

__all__ = ["gaussian_lab"]

# The metrics compare against this many points of the true distribution, so tails and quantiles are exact enough.
REFERENCE_POINTS = 20_000
# ... and measure each generation's model on this many fresh points (not the n it passes on), so a tail share
# of 1 % is resolved (100 points would only show 0, 1 or 2 %).
MEASURE_POINTS = 500


def gaussian_lab(
    *,
    generations: int = 100,
    n: int = 100,
    repeats: int = 200,
    dims: int = 1,
    strategies=("replace", "accumulate", "mix:0.1"),
    generator: str = "gaussian",
    seed: int = 0,
    progress: bool = False,
) -> CollapseResult:
    """Recursive fitting of a standard normal in `dims` dimensions: each repeat draws its own `n` real points
    (the first training set) and the metrics compare every generation with one large sample of the true
    distribution, measuring each generation's model on 500 fresh points. With n=100, 100 generations and
    `replace`, the median variance ratio is about exp(-1)."""
    rng = np.random.default_rng(derived_seed(seed, 1_000_003))
    real = rng.standard_normal((repeats, n, dims))
    reference = rng.standard_normal((1, REFERENCE_POINTS, dims))
    return run_experiment(
        get_generator(generator), real, strategies=strategies, generations=generations, n=n, repeats=repeats,
        seed=seed, reference=reference, measure_n=MEASURE_POINTS, progress=progress,
    )
