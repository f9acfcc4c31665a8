"""The stylized facts of asset returns, as plain functions of one series of log returns, and their comparison real
vs synthetic with block-bootstrap intervals on the real series.

Every fact takes a 1-D array of log returns. `compare_facts(real, paths)` computes each fact on the real series and
on every synthetic path (each as long as the real series, so both are read at the same sample size), and reports the
median over paths against the real value's 95 % interval from a circular block bootstrap of the real series (blocks
of 250 days: a year, so the slow decay of volatility clustering survives resampling). Intervals are the bootstrap's
2.5th–97.5th percentiles, except for the worst day: a resample can never hold a day worse than the real worst day,
so its percentile interval ends at the real value by construction; for it the interval is the real value ± 1.96
bootstrap standard errors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from perpetuum.errors import DataInputError

__all__ = ["FACTS", "Fact", "excess_kurtosis", "autocorrelation", "abs_autocorrelation", "leverage", "worst_day",
           "max_drawdown", "value_at_risk", "expected_shortfall", "compare_facts", "block_bootstrap_facts",
           "drawdowns", "cross_correlation", "spread"]


def excess_kurtosis(returns: np.ndarray) -> float:
    """Fourth standardized moment minus 3 (0 for a normal law; heavy tails make it large)."""
    centred = returns - returns.mean()
    variance = np.mean(centred**2)
    return float(np.mean(centred**4) / variance**2 - 3.0) if variance > 0 else float("nan")


def autocorrelation(returns: np.ndarray, lag: int) -> float:
    """Sample autocorrelation at `lag` (the usual estimator: one mean, one variance over the whole series)."""
    centred = returns - returns.mean()
    denominator = np.sum(centred**2)
    return float(np.sum(centred[:-lag] * centred[lag:]) / denominator) if denominator > 0 else float("nan")


def abs_autocorrelation(returns: np.ndarray, lag: int) -> float:
    """Autocorrelation of |r| at `lag`: volatility clustering (positive, slowly decaying for real returns)."""
    return autocorrelation(np.abs(returns), lag)


def leverage(returns: np.ndarray, lag: int) -> float:
    """corr(r_t, r²_{t+lag}): negative when falls raise future volatility more than rises (the leverage effect)."""
    first, second = returns[:-lag], returns[lag:] ** 2
    if first.std() == 0 or second.std() == 0:
        return float("nan")
    return float(np.corrcoef(first, second)[0, 1])


def worst_day(returns: np.ndarray) -> float:
    """The lowest one-day simple return, exp(min r) − 1."""
    return float(np.expm1(returns.min()))


def max_drawdown(returns: np.ndarray) -> float:
    """The deepest peak-to-trough fall of the level, as a simple return (−0.5 = halved)."""
    return float(drawdowns(returns[None, :])[0])


def drawdowns(paths: np.ndarray) -> np.ndarray:
    """Max drawdown of each row of a (paths, days) array of log returns, counting the level before the first day."""
    cumulative = np.concatenate([np.zeros((paths.shape[0], 1)), np.cumsum(paths, axis=1)], axis=1)
    return np.expm1((cumulative - np.maximum.accumulate(cumulative, axis=1)).min(axis=1))


def spread(values: np.ndarray) -> dict:
    """{"p05", "median", "p95"} of a number over paths."""
    return {"p05": float(np.quantile(values, 0.05)), "median": float(np.median(values)),
            "p95": float(np.quantile(values, 0.95))}


def value_at_risk(returns: np.ndarray, level: float) -> float:
    """The one-day simple return exceeded downwards with probability 1 − level (negative: a loss)."""
    return float(np.expm1(np.quantile(returns, 1.0 - level)))


def expected_shortfall(returns: np.ndarray, level: float) -> float:
    """The mean one-day simple return on the days at or below the VaR quantile (negative: a loss)."""
    cut = np.quantile(returns, 1.0 - level)
    return float(np.mean(np.expm1(returns[returns <= cut])))


def cross_correlation(returns: np.ndarray) -> np.ndarray:
    """The (columns, columns) Pearson correlation of simultaneous returns."""
    return np.corrcoef(returns, rowvar=False)


@dataclass(frozen=True)
class Fact:
    key: str
    label: str
    function: Callable[[np.ndarray], float]
    explanation: str
    interval: str = "percentile"  # or "normal": value ± 1.96 bootstrap standard errors


FACTS: tuple[Fact, ...] = (
    Fact("excess_kurtosis", "Excess kurtosis", excess_kurtosis, "heavy tails: 0 for a normal law"),
    Fact("acf_r_1", "ACF of r, lag 1", lambda r: autocorrelation(r, 1), "no linear autocorrelation: near 0"),
    *(Fact(f"acf_abs_{lag}", f"ACF of |r|, lag {lag}", lambda r, lag=lag: abs_autocorrelation(r, lag),
           "volatility clustering: positive, slowly decaying") for lag in (1, 5, 20, 50)),
    *(Fact(f"leverage_{lag}", f"corr(r_t, r²_t+{lag})", lambda r, lag=lag: leverage(r, lag),
           "leverage effect: negative") for lag in (1, 5, 10)),
    Fact("worst_day", "Worst day", worst_day, "lowest one-day simple return", "normal"),
    Fact("max_drawdown", "Max drawdown", max_drawdown, "deepest peak-to-trough fall over the whole series"),
    Fact("var_95", "VaR 95 %", lambda r: value_at_risk(r, 0.95), "5 % quantile of daily simple returns"),
    Fact("var_99", "VaR 99 %", lambda r: value_at_risk(r, 0.99), "1 % quantile of daily simple returns"),
    Fact("es_95", "ES 95 %", lambda r: expected_shortfall(r, 0.95), "mean of the worst 5 % of days"),
    Fact("es_99", "ES 99 %", lambda r: expected_shortfall(r, 0.99), "mean of the worst 1 % of days"),
)

RISK_KEYS = ("var_95", "var_99", "es_95", "es_99")


def facts_of(returns: np.ndarray) -> dict[str, float]:
    return {fact.key: fact.function(returns) for fact in FACTS}


def block_bootstrap_facts(returns: np.ndarray, *, replicates: int = 300, block: int = 250,
                          seed: int = 0) -> dict[str, np.ndarray]:
    """Each fact over `replicates` circular block-bootstrap copies of `returns` (blocks of `block` days)."""
    rng = np.random.default_rng(seed)
    n = len(returns)
    blocks = -(-n // block)
    offsets = np.arange(block)
    values: dict[str, list[float]] = {fact.key: [] for fact in FACTS}
    for _ in range(replicates):
        starts = rng.integers(0, n, size=blocks)
        resample = returns[((starts[:, None] + offsets) % n).ravel()[:n]]
        for key, value in facts_of(resample).items():
            values[key].append(value)
    return {key: np.array(items) for key, items in values.items()}


def compare_facts(real: np.ndarray, paths: np.ndarray, *, replicates: int = 300, block: int = 250,
                  seed: int = 0) -> list[dict]:
    """Per fact: {"key", "label", "real", "low", "high" (the real value's 95 % block-bootstrap interval),
    "synthetic" (median over paths), "synthetic_p05", "synthetic_p95" (spread over paths), "inside"}.

    `real` is one column of log returns, `paths` a (paths, days) array; paths are read at the real series' length
    when they are longer (so a fact like the worst day means the same thing on both sides)."""
    real = np.asarray(real, dtype=float)
    paths = np.atleast_2d(np.asarray(paths, dtype=float))
    if len(real) < 100 or paths.shape[1] < 60:
        raise DataInputError(f"stylized facts need at least 100 real and 60 synthetic days, got {len(real)} and "
                             f"{paths.shape[1]}")
    paths = paths[:, : len(real)]
    boot = block_bootstrap_facts(real, replicates=replicates, block=block, seed=seed)
    rows = []
    per_path = [facts_of(path) for path in paths]
    for fact in FACTS:
        synthetic = np.array([values[fact.key] for values in per_path])
        real_value = fact.function(real)
        if fact.interval == "normal":
            spread = 1.96 * float(np.nanstd(boot[fact.key]))
            low, high = real_value - spread, real_value + spread
        else:
            low, high = np.nanquantile(boot[fact.key], [0.025, 0.975])
        median = float(np.nanmedian(synthetic))
        rows.append({
            "key": fact.key, "label": fact.label, "explanation": fact.explanation, "real": real_value,
            "low": float(low), "high": float(high), "synthetic": median,
            "synthetic_p05": float(np.nanquantile(synthetic, 0.05)),
            "synthetic_p95": float(np.nanquantile(synthetic, 0.95)),
            "inside": bool(low <= median <= high), "interval": fact.interval,
        })
    return rows
