"""How each generation's training data is built from the real data and the synthetic samples so far.

    replace               only the newest synthetic sample (Shumailov et al. 2024: the tails vanish)
    accumulate            the real data and every synthetic sample so far (Gerstgrasser et al. 2024: bounded error)
    mix:p                 a share p of the budget drawn from the real data, the rest from the newest sample
    accumulate-subsample  accumulate, then draw a random subset the size of the real data (a fixed budget)

Data are numpy arrays with a leading repeats axis (repeats, rows, dims), pandas DataFrames, or lists of texts;
`concat`, `take` and `length` treat all three alike, so a strategy never asks which it has.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from perpetuum.errors import ParameterError

__all__ = ["Strategy", "parse_strategy", "parse_strategies", "STRATEGY_NAMES", "concat", "take", "length"]

STRATEGY_NAMES = ("replace", "accumulate", "mix:p", "accumulate-subsample")


def length(data) -> int:
    """Rows (arrays: along axis 1, the axis after repeats), table rows, or texts."""
    if isinstance(data, np.ndarray):
        return data.shape[1]
    return len(data)


def concat(parts: list):
    if isinstance(parts[0], np.ndarray):
        return np.concatenate(parts, axis=1)
    if isinstance(parts[0], list):
        return [item for part in parts for item in part]
    import pandas as pd

    return pd.concat(parts, ignore_index=True)


def take(data, indices: np.ndarray):
    if isinstance(data, np.ndarray):
        return data[:, indices]
    if isinstance(data, list):
        return [data[index] for index in indices]
    return data.iloc[indices].reset_index(drop=True)


def _subsample(data, size: int, rng: np.random.Generator):
    """`size` rows drawn at random: without replacement when there are enough, else with."""
    available = length(data)
    indices = rng.choice(available, size, replace=size > available)
    return take(data, np.sort(indices))


@dataclass(frozen=True)
class Strategy:
    """One way of building the next generation's training data. `name` is how it is written ("mix:0.1")."""

    kind: str
    real_share: float = 0.0

    @property
    def name(self) -> str:
        return f"mix:{self.real_share:g}" if self.kind == "mix" else self.kind

    def next_training(self, real, samples: list, rng: np.random.Generator):
        """The training data of the next generation, from the real data and the synthetic samples so far (oldest
        first; the newest is `samples[-1]`)."""
        newest = samples[-1]
        if self.kind == "replace":
            return newest
        if self.kind == "accumulate":
            return concat([real, *samples])
        if self.kind == "accumulate-subsample":
            return _subsample(concat([real, *samples]), length(real), rng)
        # mix: the budget is the newest sample's size; a share of it comes from the real data.
        budget = length(newest)
        from_real = int(round(self.real_share * budget))
        parts = []
        if from_real:
            parts.append(_subsample(real, from_real, rng))
        if budget - from_real:
            parts.append(_subsample(newest, budget - from_real, rng))
        return concat(parts)


def parse_strategy(text: str) -> Strategy:
    """A strategy from its name: replace, accumulate, accumulate-subsample, or mix:p with 0 <= p <= 1."""
    name = text.strip().lower()
    if name in ("replace", "accumulate", "accumulate-subsample"):
        return Strategy(name)
    if name.startswith("mix:"):
        try:
            share = float(name[4:])
        except ValueError:
            share = float("nan")
        if not 0.0 <= share <= 1.0:
            raise ParameterError(
                f"strategy {text!r}: mix takes the share of real data per generation, a number from 0 to 1 "
                "(for example mix:0.1)"
            )
        return Strategy("mix", share)
    raise ParameterError(f"unknown strategy {text!r}; use one of {', '.join(STRATEGY_NAMES)} (e.g. mix:0.1)")


def parse_strategies(texts) -> list[Strategy]:
    """Several strategies from a list or a comma-separated string ("replace,accumulate,mix:0.1")."""
    if isinstance(texts, str):
        texts = texts.split(",")
    strategies = [parse_strategy(text) for text in texts if text.strip()]
    if not strategies:
        raise ParameterError("give at least one strategy, e.g. replace,accumulate,mix:0.1")
    names = [strategy.name for strategy in strategies]
    if len(set(names)) != len(names):
        raise ParameterError(f"strategy listed twice in {names}")
    return strategies
