"""The report's plots, drawn with the table report's matplotlib setup and colours, as SVG data URIs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from perpetuum.evaluate.report.plots import REAL_COLOUR, SYNTHETIC_COLOUR, _pyplot, _style, to_data_uri
from perpetuum.timeseries.stylized_facts import abs_autocorrelation

__all__ = ["paths_figure", "histogram_figure", "acf_figure", "scenario_figure", "volatility_figure",
           "variants_figure"]

SHOWN_PATHS = 20
CRASH_COLOURS = ["#1f2328", "#4a6fa5", "#2f7d4f", "#7d3c98", "#b9770e", "#b54545"]


def _axis(width: float = 5.2, height: float = 3.0):
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(width, height))
    _style(axis, "both")
    return figure, axis


def paths_figure(real: np.ndarray, dates: np.ndarray, paths: np.ndarray, label: str) -> str:
    """The real history as a level (1 at the start) and the first synthetic paths of the same length after it."""
    figure, axis = _axis(7.0, 3.2)
    # Every `step`-th day: a few thousand points per line are more than the figure's width shows.
    step = max(1, len(real) // 700)
    days = np.arange(len(real) + 1)[::step]
    axis.plot(days, np.exp(np.concatenate([[0.0], np.cumsum(real)]))[::step], color=REAL_COLOUR, linewidth=1.0,
              label="real")
    for index, path in enumerate(paths[:SHOWN_PATHS]):
        axis.plot(days, np.exp(np.concatenate([[0.0], np.cumsum(path)]))[::step], color=SYNTHETIC_COLOUR,
                  linewidth=0.5, alpha=0.45, label="synthetic" if index == 0 else None)
    axis.set_yscale("log")
    axis.set_xlabel(f"trading day ({pd.Timestamp(dates[0]).date()} = 0)", fontsize=8)
    axis.set_ylabel(f"{label}, level (start = 1, log scale)", fontsize=8)
    axis.legend(fontsize=7, frameon=False)
    return to_data_uri(figure, tight=True)


def histogram_figure(synthetic: np.ndarray, real: float, xlabel: str) -> str:
    """Distribution of a per-path number over synthetic paths, with the real value as a line."""
    figure, axis = _axis(4.2, 2.8)
    axis.hist(synthetic * 100, bins=30, color=SYNTHETIC_COLOUR, alpha=0.8, label="synthetic paths")
    axis.axvline(real * 100, color=REAL_COLOUR, linewidth=2, label="real")
    axis.set_xlabel(xlabel + " (%)", fontsize=8)
    axis.set_ylabel("paths", fontsize=8)
    axis.legend(fontsize=7, frameon=False)
    return to_data_uri(figure, tight=True)


def acf_figure(real: np.ndarray, paths: np.ndarray, lags: int = 60) -> str:
    """Autocorrelation of |r| by lag: real, and the median and 5–95 % band over synthetic paths."""
    def acf_abs(series: np.ndarray) -> np.ndarray:
        return np.array([abs_autocorrelation(series, lag) for lag in range(1, lags + 1)])

    synthetic = np.array([acf_abs(path) for path in paths[:100]])
    figure, axis = _axis(4.2, 2.8)
    lag_axis = np.arange(1, lags + 1)
    axis.fill_between(lag_axis, np.quantile(synthetic, 0.05, axis=0), np.quantile(synthetic, 0.95, axis=0),
                      color=SYNTHETIC_COLOUR, alpha=0.25, linewidth=0, label="synthetic 5–95 %")
    axis.plot(lag_axis, np.median(synthetic, axis=0), color=SYNTHETIC_COLOUR, linewidth=1.4, label="synthetic median")
    axis.plot(lag_axis, acf_abs(real), color=REAL_COLOUR, linewidth=1.4, label="real")
    axis.set_xlabel("lag (days)", fontsize=8)
    axis.set_ylabel("ACF of |r|", fontsize=8)
    axis.legend(fontsize=7, frameon=False)
    return to_data_uri(figure, tight=True)


def scenario_figure(scenarios, real: np.ndarray, episodes: list[dict], column: int) -> str:
    """Scenario paths as levels (1 at the shock window's start) against the real stress episodes, aligned the
    same way."""
    summary = scenarios.summary
    before, days = summary["before"], summary["shock"]["days"]
    figure, axis = _axis(7.0, 3.4)
    returns = scenarios.returns[:, :, column]
    offsets = np.arange(returns.shape[1]) - before
    levels = np.exp(np.cumsum(returns, axis=1) - np.cumsum(returns, axis=1)[:, [before - 1]])
    axis.fill_between(offsets, np.quantile(levels, 0.05, axis=0), np.quantile(levels, 0.95, axis=0),
                      color=SYNTHETIC_COLOUR, alpha=0.18, linewidth=0, label="scenarios 5–95 %")
    for index, path in enumerate(levels[:SHOWN_PATHS]):
        axis.plot(offsets, path, color=SYNTHETIC_COLOUR, linewidth=0.5, alpha=0.5,
                  label="scenario paths" if index == 0 else None)
    for index, episode in enumerate(episodes):
        start = episode["start_index"]
        first, last = max(0, start - before), min(len(real), start - before + returns.shape[1])
        cumulative = np.cumsum(real[first:last])
        anchor = cumulative[start - first - 1] if start - first - 1 >= 0 else 0.0
        axis.plot(np.arange(first, last) - start, np.exp(cumulative - anchor),
                  color=CRASH_COLOURS[index % len(CRASH_COLOURS)], linewidth=1.2,
                  label=f"real {episode['start']} ({episode['drawdown']:.0%})")
    axis.axvspan(0, days, color="#d8dee4", alpha=0.5, linewidth=0)
    axis.set_xlabel("trading days from the start of the shock window (shaded)", fontsize=8)
    axis.set_ylabel("level (1 at the window's start)", fontsize=8)
    axis.legend(fontsize=6.5, frameon=False, ncol=2)
    return to_data_uri(figure, tight=True)


def _rolling_volatility(returns: np.ndarray, span: int = 20) -> np.ndarray:
    squared = np.atleast_2d(returns) ** 2
    kernel = np.ones(span) / span
    return np.sqrt(np.array([np.convolve(row, kernel, mode="same") for row in squared]))


def volatility_figure(scenarios, real: np.ndarray, episodes: list[dict], column: int) -> str:
    """20-day rolling volatility, as a multiple of the volatility in the 60 days before the window: scenario
    median and band against each real episode."""
    summary = scenarios.summary
    before, days = summary["before"], summary["shock"]["days"]
    returns = scenarios.returns[:, :, column]
    offsets = np.arange(returns.shape[1]) - before
    rolling = _rolling_volatility(returns)
    base = returns[:, max(0, before - 60): before].std(axis=1, keepdims=True)
    relative = rolling / np.where(base > 0, base, np.nan)
    figure, axis = _axis(7.0, 3.0)
    axis.fill_between(offsets, np.nanquantile(relative, 0.1, axis=0), np.nanquantile(relative, 0.9, axis=0),
                      color=SYNTHETIC_COLOUR, alpha=0.2, linewidth=0, label="scenarios 10–90 %")
    axis.plot(offsets, np.nanmedian(relative, axis=0), color=SYNTHETIC_COLOUR, linewidth=1.6, label="scenario median")
    for index, episode in enumerate(episodes):
        start = episode["start_index"]
        first, last = max(0, start - before), min(len(real), start - before + returns.shape[1])
        segment = real[first:last]
        base_real = real[max(0, start - 60): start].std()
        if base_real > 0:
            axis.plot(np.arange(first, last) - start, _rolling_volatility(segment)[0] / base_real,
                      color=CRASH_COLOURS[index % len(CRASH_COLOURS)], linewidth=1.0, alpha=0.9,
                      label=f"real {episode['start']}")
    axis.axvspan(0, days, color="#d8dee4", alpha=0.5, linewidth=0)
    axis.set_xlabel("trading days from the start of the shock window (shaded)", fontsize=8)
    axis.set_ylabel("20-day volatility / volatility before", fontsize=8)
    axis.legend(fontsize=6.5, frameon=False, ncol=2)
    return to_data_uri(figure, tight=True)


def variants_figure(variants, real_window: np.ndarray) -> str:
    """Variants of a historical window as levels (1 at its start) against the real window."""
    figure, axis = _axis(7.0, 3.0)
    levels = np.exp(np.cumsum(variants.returns[:, :, 0], axis=1))
    days = np.arange(1, levels.shape[1] + 1)
    axis.fill_between(days, np.quantile(levels, 0.05, axis=0), np.quantile(levels, 0.95, axis=0),
                      color=SYNTHETIC_COLOUR, alpha=0.2, linewidth=0, label="variants 5–95 %")
    for index, path in enumerate(levels[:SHOWN_PATHS]):
        axis.plot(days, path, color=SYNTHETIC_COLOUR, linewidth=0.5, alpha=0.5, label="variants" if index == 0 else None)
    axis.plot(days, np.exp(np.cumsum(real_window)), color=REAL_COLOUR, linewidth=1.8, label="real window")
    axis.set_xlabel("trading day of the window", fontsize=8)
    axis.set_ylabel("level (1 before the first day)", fontsize=8)
    axis.legend(fontsize=7, frameon=False)
    return to_data_uri(figure, tight=True)
