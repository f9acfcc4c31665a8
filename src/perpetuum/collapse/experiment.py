"""Run a collapse experiment: K generations of fit -> sample -> build the next training data, per strategy.

    from perpetuum.collapse import get_generator, run_experiment
    result = run_experiment(get_generator("gaussian"), real, strategies=["replace", "accumulate", "mix:0.1"],
                            generations=100, n=100, repeats=200, seed=0)
    result.median("variance_ratio", "replace")[-1]     # ~ exp(-1) after 100 generations of 100 points

Generation 0 is fitted on the real data; generation g >= 1 on what the strategy built from the real data and the
samples of generations 0 .. g-1. Generation 0 is shared by every strategy, and the fit and sampling seeds depend
only on (seed, repeat, generation), not on the strategy: strategies differ by their data alone. The whole
experiment is reproducible from `seed`.
"""

from __future__ import annotations

import time

import numpy as np

from perpetuum.collapse.generators import CollapseGenerator, as_batched
from perpetuum.collapse.results import CollapseResult
from perpetuum.collapse.strategies import Strategy, length, parse_strategies
from perpetuum.errors import ParameterError
from perpetuum.progress import progress_bar

__all__ = ["run_experiment", "derived_seed"]


def derived_seed(seed: int, *keys: int) -> int:
    """A 32-bit seed for one step, independent of every other (seed, keys) combination."""
    return int(np.random.SeedSequence([int(seed) % 2**63, *keys]).generate_state(1)[0])


def _check(generations: int, repeats: int, n: int | None) -> None:
    if not isinstance(generations, int) or generations < 1:
        raise ParameterError(f"generations must be at least 1 (the generations after the first); got {generations!r}")
    if not isinstance(repeats, int) or repeats < 1:
        raise ParameterError(f"repeats must be a positive integer; got {repeats!r}")
    if n is not None and (not isinstance(n, int) or n < 2):
        raise ParameterError(f"n (rows, points or characters per generation) must be at least 2; got {n!r}")


def run_experiment(
    generator: CollapseGenerator,
    real,
    *,
    strategies=("replace", "accumulate", "mix:0.1"),
    generations: int = 10,
    n: int | None = None,
    repeats: int = 1,
    seed: int = 0,
    reference=None,
    measure_n: int | None = None,
    progress: bool = False,
) -> CollapseResult:
    """Run every strategy for `generations` generations after generation 0 and measure each generation.

    real: the first training data (arrays: (rows,), (rows, dims), or (repeats, rows, dims) for a different real
    sample per repeat; a DataFrame for `tabular`; a list of documents for `text`). n: the size of each
    generation's sample (rows, points, or characters for text); default the size of `real`. reference: what the
    metrics compare against (default `real`; for text, held-out real documents). Array generators serve every
    repeat at once; the others loop over repeats.
    """
    chosen: list[Strategy] = parse_strategies(strategies)
    _check(generations, repeats, n)
    started = time.perf_counter()
    if generator.data_kind == "array":
        real = as_batched(real, repeats)
        reference = real if reference is None else as_batched(reference, repeats, broadcast=False)
        n = n or generator.default_n(real)
        runs = [(real, reference, None)]
    else:
        if reference is None:
            reference = real
        n = n or generator.default_n(real)
        runs = [(real, reference, repeat) for repeat in range(repeats)]
    if hasattr(generator, "set_real"):
        generator.set_real(real)

    per_run: list[dict[str, list[dict]]] = []
    steps = len(runs) * (1 + len(chosen) * generations)
    with progress_bar(f"Collapse lab: {generator.name}", total=steps, verbose=progress) as bar:
        for run_real, run_reference, repeat in runs:
            per_run.append(
                _one_run(generator, run_real, run_reference, repeat or 0, chosen, generations, n, measure_n, seed, bar)
            )

    metrics: dict[str, dict[str, np.ndarray]] = {}
    for strategy in chosen:
        by_metric: dict[str, np.ndarray] = {}
        names = list(dict.fromkeys(name for run in per_run for name in run[strategy.name][0]))
        for name in names:
            columns = [
                np.array([np.atleast_1d(np.asarray(step.get(name, np.nan), dtype="float64"))
                          for step in run[strategy.name]])
                for run in per_run
            ]
            by_metric[name] = np.concatenate(columns, axis=1)  # (generations + 1, repeats)
        metrics[strategy.name] = by_metric
    return CollapseResult(
        generator=generator.describe(),
        strategies=[strategy.name for strategy in chosen],
        generations=generations,
        repeats=repeats,
        n=n,
        seed=seed,
        metrics=metrics,
        seconds=time.perf_counter() - started,
        reference=getattr(generator, "reference_values_", {}) or {},
    )


def _measured(generator, reference, sample, fitted, first, measure_n, seed, repeat, generation):
    if measure_n:
        sample = fitted.sample(measure_n, seed=derived_seed(seed, repeat, generation, 3))
    return generator.measure(reference, sample, fitted, first)


def _one_run(generator, real, reference, repeat, strategies, generations, n, measure_n, seed, bar):
    first = generator.fit(real, seed=derived_seed(seed, repeat, 0, 0))
    first_sample = first.sample(n, seed=derived_seed(seed, repeat, 0, 1))
    first_metrics = _measured(generator, reference, first_sample, first, first, measure_n, seed, repeat, 0)
    bar.advance()
    results = {}
    for strategy in strategies:
        samples = [first_sample]
        steps = [first_metrics]
        for generation in range(1, generations + 1):
            rng = np.random.default_rng(derived_seed(seed, repeat, generation, 2))
            training = strategy.next_training(real, samples, rng)
            fitted = generator.fit(training, seed=derived_seed(seed, repeat, generation, 0))
            sample = fitted.sample(n, seed=derived_seed(seed, repeat, generation, 1))
            steps.append(_measured(generator, reference, sample, fitted, first, measure_n, seed, repeat, generation))
            # Only the accumulating strategies read older samples; the others keep the newest alone.
            samples = [*samples, sample] if strategy.kind.startswith("accumulate") else [sample]
            bar.advance()
        results[strategy.name] = steps
    return results
