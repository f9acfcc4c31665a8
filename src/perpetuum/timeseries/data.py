"""Reading a time series: a table with a time column, one or several value columns and, optionally, a series-id
column, checked and turned into log returns.

Models work on log returns r_t = log(p_t / p_{t-1}) of prices (levels), or on the values as given when they already
are returns. Each series keeps its last real level, so sampled returns are turned back into levels that continue
from it. Every problem is a `DataInputError` naming the source, the column and the row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from perpetuum.errors import DataInputError, ParameterError

__all__ = ["SeriesData", "read_series", "builtin_series", "BUILTIN_SERIES", "levels_from_returns", "MIN_RETURNS"]

# Below this many returns a GARCH fit is noise: its persistence cannot be told from its variance.
MIN_RETURNS = 250

KINDS = ("prices", "returns")

# Real daily series shipped inside the `arch` wheel (no download): name -> (loader module, value columns).
BUILTIN_SERIES = {
    "sp500": ("arch.data.sp500", ["Adj Close"]),
    "nasdaq": ("arch.data.nasdaq", ["Adj Close"]),
    "wti": ("arch.data.wti", ["DCOILWTICO"]),
}


@dataclass
class SeriesData:
    """Log returns of one or several series, each a (days, columns) array with its dates and last levels."""

    columns: list[str]
    kind: str
    returns: dict[str, np.ndarray] = field(default_factory=dict)  # series id -> (n_days - 1, n_columns)
    dates: dict[str, np.ndarray] = field(default_factory=dict)  # series id -> dates of the returns
    last_levels: dict[str, np.ndarray] = field(default_factory=dict)  # series id -> last real level per column
    series_column: str | None = None

    @property
    def series_ids(self) -> list[str]:
        return list(self.returns)


def builtin_series(name: str) -> pd.DataFrame:
    """A real series shipped with the `arch` package as a table with a `Date` column: sp500, nasdaq or wti."""
    import importlib

    if name not in BUILTIN_SERIES:
        raise ParameterError(f"unknown built-in series {name!r}; choose one of {', '.join(BUILTIN_SERIES)}")
    module, columns = BUILTIN_SERIES[name]
    frame = importlib.import_module(module).load()[columns].dropna()
    frame.index.name = "Date"
    return frame.reset_index()


def read_series(
    source: str | Path | pd.DataFrame,
    *,
    time: str,
    values: list[str] | str | None = None,
    series: str | None = None,
    kind: str = "prices",
    min_returns: int = MIN_RETURNS,
) -> SeriesData:
    """Read and check a series table. `kind="prices"`: values are levels (positive), modelled as log returns;
    `kind="returns"`: values are already returns and are used as they are. `values` defaults to every numeric column
    but the time and series columns."""
    if kind not in KINDS:
        raise ParameterError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    name = "the DataFrame" if isinstance(source, pd.DataFrame) else str(source)
    if isinstance(source, pd.DataFrame):
        frame = source.copy()
    else:
        from perpetuum.schema import read_table

        frame = read_table(source)
    for column in [time, series]:
        if column is not None and column not in frame.columns:
            raise DataInputError(f"{name} has no column {column!r}; its columns are {', '.join(map(str, frame.columns))}")
    if isinstance(values, str):
        values = [values]
    if not values:
        values = [column for column in frame.columns if column not in (time, series)
                  and pd.api.types.is_numeric_dtype(frame[column])]
        if not values:
            raise DataInputError(f"{name} has no numeric value column besides {time!r}; name one with --value")
    for column in values:
        if column not in frame.columns:
            raise DataInputError(f"{name} has no value column {column!r}; its columns are "
                                 f"{', '.join(map(str, frame.columns))}")
    data = SeriesData(columns=list(values), kind=kind, series_column=series)
    groups = [("all", frame)] if series is None else list(frame.groupby(series, sort=True))
    for series_id, group in groups:
        label = name if series is None else f"{name}, series {series_id!r}"
        dates, table = _checked(group, time, values, label, kind)
        if kind == "prices":
            returns = np.diff(np.log(table), axis=0)
            return_dates = dates[1:]
            last = table[-1]
        else:
            returns, return_dates, last = table, dates, np.ones(len(values))
        if len(returns) < min_returns:
            raise DataInputError(f"{label} holds {len(returns)} returns; a fit needs at least {min_returns} "
                                 "(about a year of daily data)")
        key = str(series_id)
        data.returns[key], data.dates[key], data.last_levels[key] = returns, return_dates, last
    return data


def _checked(frame: pd.DataFrame, time: str, values: list[str], label: str, kind: str):
    """(dates, values as a float matrix) after checking order, gaps and signs; rows are named 1-based as in the
    file (the header is row 0)."""
    try:
        dates = pd.to_datetime(frame[time], errors="raise")
    except (ValueError, TypeError) as error:
        raise DataInputError(f"{label}: column {time!r} is not a date/time column ({error})") from None
    positions = frame.index.to_numpy()
    missing_time = np.flatnonzero(dates.isna().to_numpy())
    if len(missing_time):
        raise DataInputError(f"{label}: column {time!r} is empty at row {_row(positions, missing_time[0])}; "
                             "drop or fill that row")
    steps = np.diff(dates.to_numpy().astype("datetime64[ns]").astype(np.int64))
    bad = np.flatnonzero(steps <= 0)
    if len(bad):
        where = bad[0] + 1
        raise DataInputError(f"{label}: column {time!r} is not strictly increasing at row {_row(positions, where)} "
                             f"({dates.iloc[where]} after {dates.iloc[where - 1]}); sort the rows by time and drop "
                             "duplicate times")
    table = np.empty((len(frame), len(values)))
    for index, column in enumerate(values):
        numbers = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        gaps = np.flatnonzero(~np.isfinite(numbers))
        if len(gaps):
            raise DataInputError(f"{label}: column {column!r} has a missing or non-numeric value at row "
                                 f"{_row(positions, gaps[0])} ({int(len(gaps))} such rows); fill or drop them")
        if kind == "prices":
            non_positive = np.flatnonzero(numbers <= 0)
            if len(non_positive):
                raise DataInputError(
                    f"{label}: column {column!r} is {numbers[non_positive[0]]:g} at row "
                    f"{_row(positions, non_positive[0])}; prices must be positive to take log returns (pass "
                    "--kind returns if the values already are returns)")
        table[:, index] = numbers
    return dates.to_numpy(), table


def _row(positions: np.ndarray, index: int) -> int:
    """The file row of the frame's `index`-th row (1-based data rows, as a spreadsheet shows after the header)."""
    position = positions[index]
    return int(position) + 1 if isinstance(position, (int, np.integer)) else index + 1


def levels_from_returns(returns: np.ndarray, last_level: np.ndarray) -> np.ndarray:
    """Levels that start from the last real level: last * exp(cumulative log return), along axis 1 (paths, days, ...)."""
    return last_level * np.exp(np.cumsum(returns, axis=1))
