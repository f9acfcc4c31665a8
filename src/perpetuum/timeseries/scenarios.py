"""Shock scenarios and variants of a historical window, from a fitted `GarchFHS`.

A shock ("drawdown=-35%,days=30") is not pasted on a calm path. Each path runs the model's variance recursion from
start to end; inside the shock window its shocks are standardized residuals of the real series' own stress episodes
(the windows of the same length with the deepest falls, at most one a year, found in the data), resampled in short
blocks. The 60 days before and after the window draw the residuals of the same episode's 60 days before and after:
real crashes come out of a building unrest and leave aftershocks, and a calm path with a fall pasted in the middle
would not. The size comes from one factor per path, found by bisection, on the episode's volatility: from the start
of the run-up the volatility rises over 20 days from the calm path's to the factor times what the model gives for
those shocks (the recursion with its long-run variance raised by the factor squared), so that the peak-to-trough
fall inside the window is the asked one; from the end of the window on, the recursion carries on with the fitted
parameters, and the excess decays as after a real crash: with a slow level, at the level's own pace (the factor
to the power of the log level's autocorrelation multiplies the level), since crises are eras; without one, at the
recursion's persistence, from the raised variance. (With the slow level and the recursion's faster decay, the
volatility 60-250 days after a 35 % fall came out at 0.51 of the run-up's on the S&P 500, against 0.79-1.35 in
the real episodes; with the level's pace 1.13.) Multiplying the standardized shocks themselves instead, as an
earlier version did, gives them a variance above 1, which raises the recursion's persistence during the episode:
the variance compounds and stays high long after it, 3.1 times the run-up's 60 days after the window on the S&P
500 against 0.97-2.66 in the real episodes.

Variants of a historical window restart the recursion from the variance the model had on the window's first day
and lay the window's own residuals out in a new order (blocks of random length, shuffled, each day used once), so
each variant lives through the same days without replaying them; `nearest_window_distance` measures how far each
variant is from any real window. (Drawing the residuals with replacement, as before, let the sum of the shocks
wander: the variants of 2008-09..2009-03 spread from −88 % to −13 % around the real −47 %.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from perpetuum.errors import ParameterError
from perpetuum.progress import progress_bar
from perpetuum.timeseries.model import GarchFHS, block_permutation_indices, stationary_bootstrap_indices
from perpetuum.timeseries.stylized_facts import drawdowns, spread

__all__ = ["Shock", "parse_shock", "stress_windows", "shock_scenarios", "window_variants", "ScenarioSet",
           "volatility_profile", "window_drawdowns", "nearest_window_distance"]

# Days before and after the shock window whose volatility the profile compares (about a quarter and a year).
PROFILE_DAYS = (60, 250)
# Stress episodes are at least this many days apart: one per crisis, not five windows of the same one.
EPISODE_SEPARATION = 250
# Days before and after a shock window that draw the residuals of the same real episode's surroundings.
EPISODE_MARGIN = 60
# Days at the start of the run-up over which an episode's volatility rises from the calm path's to its factor.
RAMP_DAYS = 20


@dataclass(frozen=True)
class Shock:
    """A fall of `drawdown` (a simple return, −0.35 = −35 %) peak to trough within `days` trading days."""

    drawdown: float
    days: int

    def __post_init__(self) -> None:
        if not -0.95 <= self.drawdown < 0:
            raise ParameterError(f"a shock's drawdown must be a fall between -95% and 0%, got {self.drawdown:.1%}")
        if not 2 <= self.days <= 1000:
            raise ParameterError(f"a shock lasts 2 to 1000 trading days, got {self.days}")


def parse_shock(text: str) -> Shock:
    """`drawdown=-35%,days=30` (or drawdown=-0.35) as a Shock."""
    entries = {}
    for part in filter(None, (item.strip() for item in text.split(","))):
        key, _, value = part.partition("=")
        entries[key.strip().lower()] = value.strip()
    if set(entries) != {"drawdown", "days"}:
        raise ParameterError(f"a shock reads like 'drawdown=-35%,days=30'; got {text!r}")
    match = re.fullmatch(r"(-?\d+(?:\.\d+)?)(%?)", entries["drawdown"])
    if not match or not entries["days"].isdigit():
        raise ParameterError(f"a shock reads like 'drawdown=-35%,days=30'; got {text!r}")
    drawdown = float(match.group(1)) / (100.0 if match.group(2) else 1.0)
    return Shock(drawdown=-abs(drawdown), days=int(entries["days"]))


def window_drawdowns(returns: np.ndarray, days: int) -> np.ndarray:
    """The peak-to-trough fall (simple return) inside every window of `days` days of a 1-D log-return series,
    counting the level just before the window; entry t is the window starting on day t."""
    cumulative = np.concatenate([[0.0], np.cumsum(returns)])
    windows = np.lib.stride_tricks.sliding_window_view(cumulative, days + 1)
    return np.expm1((windows - np.maximum.accumulate(windows, axis=1)).min(axis=1))


def stress_windows(model: GarchFHS, days: int, *, count: int = 6, column: int = 0,
                   series_id: str | None = None) -> list[dict]:
    """The `count` windows of `days` days with the deepest falls in the fitted data, deepest first, starting at least
    max(days, EPISODE_SEPARATION) days apart: {"start", "end" (dates), "start_index", "drawdown"} each."""
    series_id = model._series(series_id)
    returns = model.returns_[series_id][:, column]
    if len(returns) < 2 * days:
        raise ParameterError(f"the series holds {len(returns)} days: too few to find {days}-day stress windows")
    falls = window_drawdowns(returns, days)
    dates = model.dates_[series_id]
    separation = max(days, EPISODE_SEPARATION)
    chosen: list[dict] = []
    for start in np.argsort(falls):
        if len(chosen) == count:
            break
        if all(abs(int(start) - item["start_index"]) >= separation for item in chosen):
            chosen.append({"start": str(pd.Timestamp(dates[start]).date()),
                           "end": str(pd.Timestamp(dates[start + days - 1]).date()),
                           "start_index": int(start), "drawdown": float(falls[start])})
    return chosen


@dataclass
class ScenarioSet:
    """Sampled paths and what was asked of them. `returns`: (paths, days, columns) log returns; `dates`: the days;
    `start_levels`: the level each column starts from; `summary`: the checks (hit rate, volatility profile, ...)."""

    returns: np.ndarray
    dates: np.ndarray
    columns: list[str]
    start_levels: np.ndarray
    kind: str
    summary: dict = field(default_factory=dict)

    def levels(self) -> np.ndarray:
        return self.start_levels * np.exp(np.cumsum(self.returns, axis=1))

    def to_frame(self) -> pd.DataFrame:
        """Long format: path, date, then per column its level (prices) and log return."""
        n, length, _ = self.returns.shape
        frame = pd.DataFrame({"path": np.repeat(np.arange(n), length), "date": np.tile(self.dates, n)})
        levels = self.levels() if self.kind == "prices" else None
        for index, column in enumerate(self.columns):
            if levels is not None:
                frame[column] = levels[:, :, index].ravel()
                frame[f"{column}_log_return"] = self.returns[:, :, index].ravel()
            else:
                frame[column] = self.returns[:, :, index].ravel()
        return frame


def future_dates(model: GarchFHS, length: int, series_id: str | None = None) -> np.ndarray:
    """`length` business days after the data's last day."""
    last = pd.Timestamp(model.dates_[model._series(series_id)][-1])
    return pd.bdate_range(last + pd.offsets.BDay(1), periods=length).to_numpy()


def _episode_shocks(model: GarchFHS, windows: list[dict], days: int, series_id: str, n: int, mean_block: float,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per path one real episode, and its residual vectors before, inside and after the window, each part redrawn
    by stationary bootstrap within itself: three arrays (n, EPISODE_MARGIN or days, columns)."""
    residuals = model.residuals_[series_id]
    episode = rng.integers(0, len(windows), size=n)
    parts = []
    for offset, length in ((-EPISODE_MARGIN, EPISODE_MARGIN), (0, days), (days, EPISODE_MARGIN)):
        drawn = np.empty((n, length, residuals.shape[1]))
        for index, window in enumerate(windows):
            chosen = np.flatnonzero(episode == index)
            first = min(max(0, window["start_index"] + offset), len(residuals) - length)
            source = residuals[first: first + length]
            drawn[chosen] = source[stationary_bootstrap_indices(length, len(chosen), length, mean_block, rng)]
        parts.append(drawn)
    return tuple(parts)


def shock_scenarios(model: GarchFHS, shock: Shock, n: int = 1000, *, before: int = 250, after: int = 250,
                    column: int = 0, episodes: int = 6, mean_block: float = 5.0, tolerance: float = 0.10,
                    series_id: str | None = None, seed: int | None = None, verbose: bool = False,
                    ramp: int = RAMP_DAYS) -> ScenarioSet:
    """`n` paths of before + shock.days + after days whose column `column` falls by `shock.drawdown` peak to trough
    inside days before..before+days, with the stress residuals of the data's `episodes` deepest falls of that
    length driving the window (see the module's docstring; `ramp`: the days over which the volatility rises to its
    factor at the start of the run-up). The summary reports the hit rate within `tolerance` (relative), the factors
    used and the volatility profile against the real episodes'."""
    series_id = model._series(series_id)
    if n < 1 or before < 0 or after < 0:
        raise ParameterError(f"n must be at least 1 and before/after non-negative, got {n}, {before}, {after}")
    if not 0 <= column < len(model.columns_):
        raise ParameterError(f"column index {column} is outside the model's {len(model.columns_)} columns")
    if before < EPISODE_MARGIN or after < EPISODE_MARGIN:
        raise ParameterError(f"before and after must be at least {EPISODE_MARGIN} days (the run-up and the "
                             f"aftershocks of the episode), got {before} and {after}")
    rng = np.random.default_rng(model.seed if seed is None else seed)
    windows = stress_windows(model, shock.days, count=episodes, column=column, series_id=series_id)
    days = shock.days
    with progress_bar("Shock scenarios", total=3, verbose=verbose) as bar:
        run_up, stress, aftershocks = _episode_shocks(model, windows, days, series_id, n, mean_block, rng)
        calm = model.draw_innovations(n, before - EPISODE_MARGIN, rng, series_id)
        # one slow-level path per scenario, from today's level, across the calm days, the episode and after
        levels = model.draw_slow_levels(n, before + days + after, rng, series_id)
        levels_calm, levels_episode, levels_after = np.split(levels, [before - EPISODE_MARGIN, before + days], axis=1)
        returns_calm, _, sigma2 = model.simulate(calm, model.next_variance(series_id), series_id,
                                                 slow_levels=levels_calm)
        bar.advance()
        previous = returns_calm[:, -1] if returns_calm.shape[1] else None
        episode = np.concatenate([run_up, stress], axis=1)
        # The episode as the model runs it from the calm path's variance; its innovations are then scaled.
        _, variances, sigma2_after = model.simulate(episode, sigma2, series_id, previous=previous,
                                                    slow_levels=levels_episode)
        epsilon = np.sqrt(variances) * episode
        factors = _solve_factors(model, epsilon, shock.drawdown, column, series_id, skip=EPISODE_MARGIN,
                                 previous=previous, ramp=ramp, slow_levels=levels_episode)
        ramps = _ramp(factors, EPISODE_MARGIN + days, ramp)
        returns_scaled = model.returns_from(epsilon * ramps[:, :, None], series_id, previous, levels_episode)
        rest = model.draw_innovations(n, after - EPISODE_MARGIN, rng, series_id)
        if model.uses_level(series_id):
            # the episode's excess volatility fades as the slow level forgets, not at the recursion's pace
            fading = model.level_autocorrelation(levels_after.shape[1], series_id)
            levels_after = levels_after * factors[:, None, None] ** fading[None]
            sigma2_start = sigma2_after
        else:
            sigma2_start = sigma2_after * factors[:, None] ** 2
        returns_after = model.simulate(np.concatenate([aftershocks, rest], axis=1), sigma2_start, series_id,
                                       previous=returns_scaled[:, -1], slow_levels=levels_after)[0]
        returns_episode = np.concatenate([returns_scaled, returns_after], axis=1)
        bar.advance()
    returns = np.concatenate([returns_calm, returns_episode], axis=1)
    returns_shock = returns[:, before: before + days]
    reached = drawdowns(returns_shock[:, :, column])
    hit = np.abs(reached / shock.drawdown - 1.0) <= tolerance
    real_profiles = [volatility_profile(model.returns_[series_id][:, column], item["start_index"], days)
                     for item in windows]
    synthetic_profile = volatility_profile(returns[:, :, column], before, days)
    summary = {
        "shock": {"drawdown": shock.drawdown, "days": days}, "before": before, "after": after,
        "column": model.columns_[column], "paths": n, "tolerance": tolerance,
        "hit_rate": float(hit.mean()),
        "reached_drawdown": spread(reached),
        "factor": spread(factors),
        "episodes": [{**item, "profile": profile} for item, profile in zip(windows, real_profiles)],
        "profile": synthetic_profile,
        "mean_block": mean_block,
        "ramp_days": ramp,
    }
    return ScenarioSet(returns=returns, dates=future_dates(model, returns.shape[1], series_id),
                       columns=list(model.columns_), start_levels=model.last_levels_[series_id],
                       kind=model.kind_, summary=summary)


def _ramp(factors: np.ndarray, length: int, ramp: int) -> np.ndarray:
    """(n, length) multipliers of the volatility: rising geometrically from 1 to each path's factor over the first
    `ramp` days, then the factor."""
    steps = np.minimum(np.arange(1, length + 1) / max(ramp, 1), 1.0)
    return factors[:, None] ** steps[None, :]


def _solve_factors(model: GarchFHS, epsilon: np.ndarray, target: float, column: int, series_id: str, skip: int,
                   previous: np.ndarray | None, ramp: int, slow_levels: np.ndarray | None = None,
                   iterations: int = 50, upper: float = 64.0) -> np.ndarray:
    """Per path, the factor on the episode's volatility whose window (the days after the first `skip`) falls by
    `target`: bisection on [0, upper], all paths at once. Inside the window the innovations are the factor times
    the model's, so the fall (in log terms) only deepens as the factor grows; where it does not reach the target at
    `upper` the path keeps `upper` and counts as a miss. The bound is wide on purpose: an asked fall far beyond
    anything in a calm series needs a large factor (−20 % in 10 days from the S&P 500's calm 2017-2018 alone: a
    median of about 12), and the summary reports the factors used; at 8 more than half of such paths fell short."""
    n, length, _ = epsilon.shape
    low, high = np.zeros(n), np.full(n, upper)
    for _ in range(iterations):
        middle = (low + high) / 2
        returns = model.returns_from(epsilon * _ramp(middle, length, ramp)[:, :, None], series_id, previous,
                                     slow_levels)
        deep_enough = drawdowns(returns[:, skip:, column]) <= target
        high, low = np.where(deep_enough, middle, high), np.where(deep_enough, low, middle)
    return high


def volatility_profile(returns: np.ndarray, start: int, days: int) -> dict:
    """Realized volatility (standard deviation of log returns) in the `PROFILE_DAYS[0]` days before a shock window,
    inside it, in the `PROFILE_DAYS[0]` days after and from then to `PROFILE_DAYS[1]` days after; the later three
    as ratios to the one before. `returns` is 1-D (one series) or (paths, days): then the medians over paths."""
    returns = np.atleast_2d(returns)
    near, far = PROFILE_DAYS
    spans = {"before": (max(0, start - near), start), "during": (start, start + days),
             "after": (start + days, start + days + near), "later": (start + days + near, start + days + far)}
    volatility = {}
    for name, (first, last) in spans.items():
        last = min(last, returns.shape[1])
        volatility[name] = (float(np.median(returns[:, first:last].std(axis=1))) if last - first >= 5
                            else float("nan"))
    base = volatility["before"]
    return {**{f"vol_{name}": value for name, value in volatility.items()},
            **{f"ratio_{name}": value / base if base > 0 else float("nan")
               for name, value in volatility.items() if name != "before"}}


def window_variants(model: GarchFHS, start: str, end: str, n: int = 100, *, mean_block: float = 5.0,
                    series_id: str | None = None, seed: int | None = None) -> ScenarioSet:
    """`n` variants of the real window start..end (dates, inclusive): the recursion restarts from the model's
    variance on the window's first day and runs on the window's own residuals, cut into blocks of geometric length
    (mean `mean_block` days) laid out in a random order: each real day's shock is used exactly once."""
    series_id = model._series(series_id)
    dates = pd.DatetimeIndex(model.dates_[series_id])
    first, last = dates.searchsorted(pd.Timestamp(start)), dates.searchsorted(pd.Timestamp(end), side="right") - 1
    if last - first + 1 < 10:
        raise ParameterError(f"the window {start}..{end} holds {max(0, last - first + 1)} days of the data "
                             f"({dates[0].date()}..{dates[-1].date()}); choose at least 10")
    rng = np.random.default_rng(model.seed if seed is None else seed)
    length = last - first + 1
    residuals = model.residuals_[series_id][first: last + 1]
    shocks = residuals[block_permutation_indices(length, n, mean_block, rng)]
    real = model.returns_[series_id][first: last + 1]
    before = model.returns_[series_id][first - 1] if first > 0 else real[0] * 0
    # the window's own slow level: the variants live through the same era, on new days
    levels = np.broadcast_to(model.slow_levels_[series_id][first: last + 1], shocks.shape)
    returns = model.simulate(shocks, model.variance_at(first, series_id), series_id, previous=before,
                             slow_levels=levels)[0]
    real_levels_before = model.last_levels_[series_id] * np.exp(
        -model.returns_[series_id][first:].sum(axis=0))
    distances = nearest_window_distance(returns[:, :, 0], model.returns_[series_id][:, 0])
    summary = {
        "window": {"start": str(dates[first].date()), "end": str(dates[last].date()), "days": int(length)},
        "paths": n, "mean_block": mean_block,
        "real_drawdown": float(drawdowns(real[None, :, 0])[0]),
        "drawdown": spread(drawdowns(returns[:, :, 0])),
        "real_total_return": float(np.expm1(real[:, 0].sum())),
        "total_return": spread(np.expm1(returns[:, :, 0].sum(axis=1))),
        "correlation_with_real": spread(np.array([np.corrcoef(path, real[:, 0])[0, 1]
                                                      for path in returns[:, :, 0]])),
        "identical_days": float(np.mean(np.isclose(returns[:, :, 0], real[None, :, 0], rtol=0, atol=1e-12))),
        "nearest_real_window": distances,
    }
    return ScenarioSet(returns=returns, dates=dates[first: last + 1].to_numpy(), columns=list(model.columns_),
                       start_levels=real_levels_before, kind=model.kind_, summary=summary)


def nearest_window_distance(paths: np.ndarray, real: np.ndarray) -> dict:
    """For each path (paths, days) of log returns, the root-mean-square gap between its cumulative log return and
    that of the closest real window of the same length (any start); against it, the same distance from each real
    window to its nearest other real window that does not overlap it (how far apart real history's own windows
    are). A variant far below that scale would be a near-copy."""
    length = paths.shape[1]
    cumulative = np.concatenate([[0.0], np.cumsum(real)])
    windows = np.lib.stride_tricks.sliding_window_view(cumulative, length + 1)
    real_curves = windows[:, 1:] - windows[:, :1]
    path_curves = np.cumsum(paths, axis=1)
    nearest = np.array([np.sqrt(np.mean((real_curves - curve) ** 2, axis=1)).min() for curve in path_curves])
    step = max(1, len(real_curves) // 200)
    sampled = real_curves[::step]
    real_nearest = []
    for index, curve in enumerate(sampled):
        gaps = np.sqrt(np.mean((real_curves - curve) ** 2, axis=1))
        position = index * step
        gaps[max(0, position - length + 1): position + length] = np.inf
        if np.isfinite(gaps).any():
            real_nearest.append(gaps.min())
    return {"variants": spread(nearest), "real_windows": spread(np.array(real_nearest))}
