"""The collapse lab's page: one plot per metric (strategies as lines, generations on the x-axis, the band between
the 10th and 90th percentiles over repeats) and the table of medians, in one self-contained HTML file.

Each plot is also written as an SVG file in `<page stem>_plots/` for slides and papers. The page has no scripts
and makes no requests (a Content-Security-Policy says so); jinja2 escapes every value. The template lives here as
a string so that it ships with the module.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
import numpy as np

if TYPE_CHECKING:
    from perpetuum.collapse.results import CollapseResult


__all__ = ["write_html", "metric_figure_svg"]

COLOURS = ["#c0392b", "#2471a3", "#1e8449", "#7d3c98", "#b9770e", "#515a5a"]

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>{{ title }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em}
.plots{display:flex;flex-wrap:wrap;gap:1.2em}.plot{width:480px}.plot p{font-size:.85em;color:#555;margin:.2em 0}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}.settings td{text-align:left}
</style></head><body>
<h1>{{ title }}</h1>
<p>Each generation is fitted on training data built by the strategy from the real data and the earlier
generations' samples (generation 0: the real data alone). Lines are medians over {{ repeats }} repeat(s); the band
spans the 10th to 90th percentiles.</p>
<table class="settings">
{% for key, value in settings %}<tr><th>{{ key }}</th><td>{{ value }}</td></tr>
{% endfor %}</table>
<h2>Metrics by generation</h2>
<div class="plots">
{% for plot in plots %}<div class="plot"><h3>{{ plot.metric }}</h3><p>{{ plot.description }}</p>
<img src="{{ plot.uri }}" alt="{{ plot.metric }} by generation" width="480"></div>
{% endfor %}</div>
<h2>Table (medians over repeats)</h2>
<table><tr><th>strategy</th><th>generation</th>{% for metric in metrics %}<th>{{ metric }}</th>{% endfor %}</tr>
{% for row in rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</table>
<p>Perpetuum collapse lab; created {{ created }}; {{ seconds }} s.</p>
</body></html>
"""


def metric_figure_svg(result: CollapseResult, metric: str) -> bytes:
    """One metric's plot as SVG bytes."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5.0, 3.1))
    generations = np.arange(result.generations + 1)
    for index, strategy in enumerate(result.strategies):
        if metric not in result.metrics[strategy]:
            continue
        colour = COLOURS[index % len(COLOURS)]
        axis.plot(generations, result.median(metric, strategy), color=colour, label=strategy, linewidth=1.6)
        if result.repeats > 1:
            axis.fill_between(generations, result.quantile(metric, strategy, 0.1),
                              result.quantile(metric, strategy, 0.9), color=colour, alpha=0.15, linewidth=0)
    if metric in result.reference:
        axis.axhline(result.reference[metric], color="#333333", linestyle="--", linewidth=1, label="real data")
    axis.set_xlabel("generation", fontsize=8)
    axis.set_ylabel(metric, fontsize=8)
    axis.tick_params(labelsize=7)
    axis.spines[["top", "right"]].set_visible(False)
    axis.grid(color="#e5e5e5", linewidth=0.6)
    axis.legend(fontsize=7, frameon=False)
    buffer = io.BytesIO()
    with plt.rc_context({"svg.hashsalt": "perpetuum", "svg.fonttype": "path"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    return buffer.getvalue()


def write_html(result: CollapseResult, path: str | Path, title: str | None = None) -> Path:
    """Write the page to `path` and each plot to `<stem>_plots/<metric>.svg`; returns the page's path."""
    path = Path(path)
    plot_dir = path.parent / f"{path.stem}_plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    plots = []
    for metric in result.metric_names():
        svg = metric_figure_svg(result, metric)
        (plot_dir / f"{metric}.svg").write_bytes(svg)
        plots.append({"metric": metric, "description": result.describe(metric),
                      "uri": "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")})
    metrics = result.metric_names()
    rows = []
    shown = sorted({0, 1, *range(0, result.generations + 1, max(1, result.generations // 10)), result.generations})
    for strategy in result.strategies:
        for generation in shown:
            rows.append([strategy, generation] + [
                result.number_text(result.median(metric, strategy)[generation])
                if metric in result.metrics[strategy] else "-"
                for metric in metrics
            ])
    generator = result.generator
    settings = [
        ("generator", ", ".join(f"{key}={value}" for key, value in generator.items())),
        ("strategies", ", ".join(result.strategies)),
        ("generations after the first", result.generations),
        ("repeats", result.repeats),
        ("per generation", result.n),
        ("seed", result.seed),
    ]
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    html = environment.from_string(TEMPLATE).render(
        title=title or f"Model collapse: {generator.get('name', '')}", settings=settings, plots=plots,
        metrics=metrics, rows=rows, repeats=result.repeats, created=result.created,
        seconds=f"{result.seconds:.1f}",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
