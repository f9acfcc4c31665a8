"""The time-series report as plain numbers (the JSON), computed once: stylized facts real vs synthetic with
bootstrap intervals, drawdowns, worst days, VaR/ES, the discriminative score, cross-correlation, and, when asked, a
shock scenario and variants of a historical window. `report_html.py` draws it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from perpetuum.errors import ParameterError
from perpetuum.progress import progress_bar
from perpetuum.timeseries.discrimination import discriminative_score, near_copy_share
from perpetuum.timeseries.model import GarchFHS
from perpetuum.timeseries.scenarios import ScenarioSet, Shock, shock_scenarios, window_variants
from perpetuum.timeseries.stylized_facts import RISK_KEYS, compare_facts, drawdowns, spread

__all__ = ["TimeSeriesReport", "build_report"]


@dataclass
class TimeSeriesReport:
    """`data`: every number the report shows (the JSON); `paths`, `scenarios`, `variants`: what the plots draw."""

    data: dict
    paths: np.ndarray
    scenarios: ScenarioSet | None = None
    variants: ScenarioSet | None = None
    model: GarchFHS | None = field(default=None, repr=False)

    def to_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(_plain(self.data), indent=2), encoding="utf-8")
        return path

    def to_html(self, path: str | Path) -> Path:
        from perpetuum.timeseries.report_html import render_html

        path = Path(path)
        path.write_text(render_html(self), encoding="utf-8")
        return path

    def write(self, folder: str | Path) -> tuple[Path, Path]:
        """report.html and report.json in `folder`."""
        folder = Path(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ParameterError(f"cannot create {str(folder)!r}: {error.strerror or error}") from None
        return self.to_html(folder / "report.html"), self.to_json(folder / "report.json")


def _plain(value):
    """JSON-safe: NaN and infinities become null, NumPy numbers plain ones."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def build_report(model: GarchFHS, *, n_paths: int = 200, shock: Shock | None = None, window: tuple[str, str] | None
                 = None, scenario_paths: int = 500, series_id: str | None = None, seed: int = 0,
                 verbose: bool = False) -> TimeSeriesReport:
    """Sample `n_paths` paths as long as the real series and compare them with it; with `shock`, also
    `scenario_paths` shock scenarios; with `window` (start, end), 100 variants of that window."""
    series_id = model._series(series_id)
    started = time.perf_counter()
    real = model.returns_[series_id]
    steps = 2 + len(model.columns_) + (shock is not None) + (window is not None)
    with progress_bar("Time-series report", total=steps, verbose=verbose) as bar:
        paths = model.sample(n_paths, len(real), series_id=series_id, seed=seed)
        bar.advance()
        columns = []
        for index, column in enumerate(model.columns_):
            facts = compare_facts(real[:, index], paths[:, :, index], seed=seed)
            for row in facts:
                if row["key"] in RISK_KEYS:
                    row["relative_error"] = abs(row["synthetic"] / row["real"] - 1.0)
            synthetic_drawdowns = drawdowns(paths[:, :, index])
            columns.append({
                "column": column,
                "facts": facts,
                "facts_inside": sum(row["inside"] for row in facts),
                "discriminative": discriminative_score(real[:, index], paths[:, :, index], seed=seed),
                "near_copies": near_copy_share(real[:, index], paths[:, :, index]),
                "max_drawdown": {"real": float(drawdowns(real[None, :, index])[0]),
                                 "synthetic": spread(synthetic_drawdowns),
                                 "real_percentile": float(np.mean(synthetic_drawdowns <= drawdowns(real[None, :, index])[0]))},
                "worst_day": {"real": float(np.expm1(real[:, index].min())),
                              "real_date": str(np.datetime_as_string(model.dates_[series_id][real[:, index].argmin()],
                                                                     unit="D")),
                              "synthetic": spread(np.expm1(paths[:, :, index].min(axis=1)))},
            })
            bar.advance()
        cross = None
        if len(model.columns_) > 1:
            synthetic_correlations = np.array([np.corrcoef(path, rowvar=False) for path in paths])
            cross = {"real": np.corrcoef(real, rowvar=False).tolist(),
                     "synthetic": np.median(synthetic_correlations, axis=0).tolist()}
        bar.advance()
        scenarios = variants = None
        if shock is not None:
            scenarios = shock_scenarios(model, shock, scenario_paths, series_id=series_id, seed=seed)
            bar.advance()
        if window is not None:
            variants = window_variants(model, window[0], window[1], 100, series_id=series_id, seed=seed)
            bar.advance()
    dates = model.dates_[series_id]
    data = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "series": {"id": series_id, "columns": model.columns_, "kind": model.kind_, "days": int(len(real)),
                   "start": str(np.datetime_as_string(dates[0], unit="D")),
                   "end": str(np.datetime_as_string(dates[-1], unit="D"))},
        "model": {"name": "GarchFHS", "volatility": model.volatility, "mean": model.mean,
                  "mean_block": model.mean_block,
                  "parameters": {column: fit.__dict__ for column, fit in zip(model.columns_, model.params(series_id))}},
        "settings": {"paths": n_paths, "path_days": int(len(real)), "seed": seed,
                     "returns": "log returns r_t = log(p_t / p_{t-1})" if model.kind_ == "prices"
                     else "the values as given (already returns)"},
        "columns": columns,
        "cross_correlation": cross,
        "scenario": scenarios.summary if scenarios is not None else None,
        "variants": variants.summary if variants is not None else None,
        "seconds": time.perf_counter() - started,
    }
    return TimeSeriesReport(data=data, paths=paths, scenarios=scenarios, variants=variants, model=model)
