"""Render a `TimeSeriesReport` as one self-contained HTML file, in the table report's style (its stylesheet is
included from the evaluate templates), with the same guarantees: no scripts, no requests, every value escaped."""

from __future__ import annotations

import jinja2
import numpy as np

from perpetuum.evaluate.report import format_value
from perpetuum.timeseries import report_plots
from perpetuum.timeseries.stylized_facts import drawdowns

__all__ = ["render_html"]


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.PackageLoader("perpetuum.timeseries", "templates"),
                                    jinja2.PackageLoader("perpetuum.evaluate.report", "templates")]),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters["fmt"] = format_value
    environment.filters["pct"] = lambda value: format_value(value, "percent")
    return environment


def render_html(report) -> str:
    from perpetuum import __version__

    data, model = report.data, report.model
    series_id = data["series"]["id"]
    real = model.returns_[series_id]
    dates = model.dates_[series_id]
    columns = []
    for index, entry in enumerate(data["columns"]):
        column_paths = report.paths[:, :, index]
        columns.append({
            **entry,
            "paths_figure": report_plots.paths_figure(real[:, index], dates, column_paths, entry["column"]),
            "acf_figure": report_plots.acf_figure(real[:, index], column_paths),
            "drawdown_figure": report_plots.histogram_figure(drawdowns(column_paths),
                                                             entry["max_drawdown"]["real"], "max drawdown"),
            "worst_day_figure": report_plots.histogram_figure(np.expm1(column_paths.min(axis=1)),
                                                              entry["worst_day"]["real"], "worst day"),
        })
    scenario = None
    if report.scenarios is not None:
        summary = report.scenarios.summary
        column = model.columns_.index(summary["column"])
        scenario = {
            **summary,
            "figure": report_plots.scenario_figure(report.scenarios, real[:, column], summary["episodes"], column),
            "volatility_figure": report_plots.volatility_figure(report.scenarios, real[:, column],
                                                                summary["episodes"], column),
            "profile_rows": _profile_rows(summary),
        }
    variants = None
    if report.variants is not None:
        summary = report.variants.summary
        dates_index = list(np.datetime_as_string(dates, unit="D"))
        first = dates_index.index(summary["window"]["start"])
        real_window = real[first: first + summary["window"]["days"], 0]
        variants = {**summary, "figure": report_plots.variants_figure(report.variants, real_window)}
    template = _environment().get_template("timeseries_report.html.j2")
    return template.render(version=__version__, data=data, columns=columns, scenario=scenario, variants=variants)


def _profile_rows(summary: dict) -> list[dict]:
    """Volatility before/during/after: the scenarios' medians and each real episode's, as rows."""
    keys = ("vol_before", "ratio_during", "ratio_after", "ratio_later")
    rows = [{"name": "scenarios (median over paths)", **{key: summary["profile"][key] for key in keys}}]
    for episode in summary["episodes"]:
        rows.append({"name": f"real {episode['start']} – {episode['end']} ({format_value(episode['drawdown'], 'percent')})",
                     **{key: episode["profile"][key] for key in keys}})
    return rows
