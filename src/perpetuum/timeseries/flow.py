"""The time-series commands as library calls: `fit_series`, `sample_frame`, `write_frame`; `perpetuum timeseries`
is a thin layer over them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from perpetuum.errors import ParameterError, PerpetuumError
from perpetuum.timeseries.data import BUILTIN_SERIES, builtin_series, read_series
from perpetuum.timeseries.model import GarchFHS
from perpetuum.timeseries.scenarios import ScenarioSet, future_dates

__all__ = ["fit_series", "sample_frame", "write_frame", "parse_window", "require_arch", "BUILTIN_PREFIX"]

# `builtin:sp500` names a real series shipped inside the `arch` wheel instead of a file.
BUILTIN_PREFIX = "builtin:"


def require_arch() -> None:
    try:
        import arch  # noqa: F401
    except ImportError:
        raise PerpetuumError("time series need the `arch` package: pip install 'perpetuum[timeseries]'") from None


def fit_series(source: str | Path | pd.DataFrame, *, time: str | None = None, values: list[str] | None = None,
               series: str | None = None, kind: str = "prices", volatility: str = "aparch", mean: str = "constant",
               mean_block: float = 10.0, level_window: int | None = 250,
               seed: int = 0, verbose: bool = False) -> GarchFHS:
    """Read a series (a file, a DataFrame, or `builtin:sp500` / `builtin:nasdaq` / `builtin:wti`) and fit
    `GarchFHS` on it."""
    require_arch()
    if isinstance(source, str) and source.startswith(BUILTIN_PREFIX):
        name = source[len(BUILTIN_PREFIX):]
        if name not in BUILTIN_SERIES:
            raise ParameterError(f"unknown built-in series {name!r}; choose one of "
                                 f"{', '.join(BUILTIN_PREFIX + key for key in BUILTIN_SERIES)}")
        source, time = builtin_series(name), time or "Date"
    if time is None:
        raise ParameterError("name the time column with --time (e.g. --time Date)")
    data = read_series(source, time=time, values=values, series=series, kind=kind)
    return GarchFHS(volatility=volatility, mean=mean, mean_block=mean_block, level_window=level_window, seed=seed,
                    verbose=verbose).fit(data)


def sample_frame(model: GarchFHS, n: int, length: int | None = None, *, series_id: str | None = None,
                 seed: int | None = None) -> pd.DataFrame:
    """`n` paths per series (or of `series_id` only) in long format: path, [series,] date, then per column its
    level (prices, continuing from the last real level) and log return, or the return (returns)."""
    chosen = [model._series(series_id)] if series_id is not None else model.series_ids
    frames = []
    for offset, name in enumerate(chosen):
        returns = model.sample(n, length, series_id=name, seed=None if seed is None else seed + offset)
        paths = ScenarioSet(returns=returns, dates=future_dates(model, returns.shape[1], name),
                            columns=list(model.columns_), start_levels=model.last_levels_[name], kind=model.kind_)
        frame = paths.to_frame()
        if model.series_column_ is not None:
            frame.insert(1, model.series_column_, name)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def write_frame(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write paths as Parquet (.parquet) or CSV (anything else)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".parquet":
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
    except OSError as error:
        raise ParameterError(f"cannot write {str(path)!r}: {error.strerror or error}") from None
    return path


def parse_window(text: str) -> tuple[str, str]:
    """`2008-09-01..2009-03-31` as (start, end)."""
    start, separator, end = text.partition("..")
    try:
        if not separator:
            raise ValueError
        first, last = pd.Timestamp(start), pd.Timestamp(end)
    except ValueError:
        raise ParameterError(f"a window reads like 2008-09-01..2009-03-31; got {text!r}") from None
    if last <= first:
        raise ParameterError(f"the window {text!r} ends before it starts")
    return str(first.date()), str(last.date())

