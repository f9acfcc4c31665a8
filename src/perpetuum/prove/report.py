"""The `perpetuum prove` report: result.json and report.html (learning curves, held-out perplexity by arm, the
table of means with 95 % intervals, example samples), plus each plot as SVG in `plots/`.

Built as the collapse lab's page is (`perpetuum.collapse.report`): matplotlib SVGs embedded as data URIs, a jinja2
template with autoescape, no scripts and no requests (a Content-Security-Policy says so).
"""

from __future__ import annotations

import base64
import datetime
import io
import json
import math
from pathlib import Path

import jinja2

from perpetuum.collapse.report import COLOURS

__all__ = ["PAGE_HEAD", "curves_svg", "interval_text", "json_ready", "metric_by_arm_svg", "plot_axes", "save_plots", "svg_bytes",
           "write_report", "write_result"]

# The head both prove pages share: no scripts and no requests (the Content-Security-Policy says so).
PAGE_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>{{ title }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em}.plots{display:flex;flex-wrap:wrap;gap:1.2em}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}.settings td{text-align:left}
pre{white-space:pre-wrap;background:#f6f6f6;padding:.6em;font-size:.85em}
</style></head><body>
"""
TEMPLATE = PAGE_HEAD + """<h1>{{ title }}</h1>
<p>The same small transformer was trained from scratch on each arm, {{ seeds }} seed(s) each, with the same compute
budget (at most {{ budget }} tokens), a tokenizer trained on the real training stories only, and early stopping on
each arm's own validation split. Scores are on held-out real stories and on {{ sample_count }} stories each model wrote
from the recipe's opening sentence. Values: mean over seeds [95 % t-interval].</p>
<table class="settings">{% for key, value in settings %}<tr><th>{{ key }}</th><td>{{ value }}</td></tr>
{% endfor %}</table>
<h2>Results</h2>
<table><tr><th>arm</th><th>stories</th><th>tokens</th>{% for metric in metrics %}<th>{{ metric }}</th>{% endfor %}</tr>
{% for row in rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</table>
<ul>{% for metric, text in descriptions %}<li><b>{{ metric }}</b>: {{ text }}</li>{% endfor %}</ul>
<h2>Learning curves and held-out perplexity</h2>
<div class="plots">{% for plot in plots %}<div><img src="{{ plot.uri }}" alt="{{ plot.name }}" width="500"></div>
{% endfor %}</div>
<h2>Example samples (first seed)</h2>
{% for arm, examples in samples %}<h3>{{ arm }}</h3>{% for text in examples %}<pre>{{ text }}</pre>{% endfor %}
{% endfor %}
<p>Perpetuum prove; created {{ created }}; {{ seconds }} s.</p>
</body></html>
"""


def svg_bytes(figure) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    with plt.rc_context({"svg.hashsalt": "perpetuum", "svg.fonttype": "path"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    return buffer.getvalue()


def plot_axes(width=5.4, height=3.3):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(width, height))
    axis.tick_params(labelsize=7)
    axis.spines[["top", "right"]].set_visible(False)
    axis.grid(color="#e5e5e5", linewidth=0.6)
    return figure, axis


def curves_svg(result: dict, value: str, x_label: str, y_label: str) -> bytes:
    """Each run's curve (rows with "tokens" and `value`) by arm, one line per seed; runs without a curve skipped."""
    figure, axis = plot_axes()
    for index, (arm, data) in enumerate(result["arms"].items()):
        for number, run in enumerate(data["runs"]):
            curve = run["curve"]
            if curve:
                axis.plot([row["tokens"] for row in curve], [row[value] for row in curve],
                          color=COLOURS[index % len(COLOURS)], linewidth=1.2, alpha=0.8,
                          label=arm if number == 0 else None)
    axis.set_xlabel(x_label, fontsize=8)
    axis.set_ylabel(y_label, fontsize=8)
    axis.legend(fontsize=7, frameon=False)
    return svg_bytes(figure)


def learning_curves_svg(result: dict) -> bytes:
    """Validation loss of each arm's own validation split against tokens seen."""
    return curves_svg(result, "validation_loss", "tokens seen", "validation loss (own split, nats/token)")


def metric_by_arm_svg(result: dict, metric: str, label: str) -> bytes:
    """One metric by arm: the mean over seeds and its interval, and each seed as a dot."""
    figure, axis = plot_axes(4.6, 3.3)
    arms = [(arm, data) for arm, data in result["arms"].items() if data["summary"].get(metric, {}).get("mean")
            is not None]
    for index, (arm, data) in enumerate(arms):
        summary = data["summary"][metric]
        colour = COLOURS[index % len(COLOURS)]
        axis.errorbar([index], [summary["mean"]], yerr=[[summary["mean"] - summary["low"]],
                                                        [summary["high"] - summary["mean"]]],
                      fmt="s", color=colour, capsize=4)
        axis.scatter([index] * len(summary["values"]), summary["values"], color=colour, s=10, alpha=0.6)
    axis.set_xticks(range(len(arms)), [arm for arm, _ in arms], fontsize=7, rotation=15)
    axis.set_ylabel(label, fontsize=8)
    return svg_bytes(figure)


def perplexity_svg(result: dict) -> bytes:
    """Held-out real perplexity by arm."""
    return metric_by_arm_svg(result, "heldout_perplexity", "held-out real perplexity (lower is better)")


def interval_text(summary: dict) -> str:
    mean = summary["mean"]
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "-"
    digits = 1 if abs(mean) >= 10 else 3
    if summary["high"] == summary["low"]:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{summary['low']:.{digits}f}, {summary['high']:.{digits}f}]"


def json_ready(value):
    """NaN and infinities as null: strict JSON that any reader accepts."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    return value


def write_result(result: dict, out_dir: str | Path) -> tuple[dict, Path]:
    """The result stamped with its creation time, written as strict JSON to out_dir/result.json."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {**result, "created": result.get("created") or datetime.datetime.now(datetime.timezone.utc)
              .isoformat(timespec="seconds")}
    json_path = out_dir / "result.json"
    json_path.write_text(json.dumps(json_ready(result), indent=2, ensure_ascii=False, allow_nan=False),
                         encoding="utf-8")
    return result, json_path


def save_plots(figures: list[tuple[str, bytes]], plot_dir: Path) -> list[dict]:
    """Each (name, svg) written to plot_dir/name.svg; returns {name, uri} for embedding as a data URI."""
    plot_dir.mkdir(parents=True, exist_ok=True)
    plots = []
    for name, svg in figures:
        (plot_dir / f"{name}.svg").write_bytes(svg)
        plots.append({"name": name, "uri": "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")})
    return plots


def write_report(result: dict, out_dir: str | Path, title: str = "Does the data teach? Stories") -> dict[str, Path]:
    """Write result.json, report.html and plots/*.svg into `out_dir`; returns their paths."""
    result, json_path = write_result(result, out_dir)
    plots = save_plots([("learning_curves", learning_curves_svg(result)),
                        ("heldout_perplexity", perplexity_svg(result))], Path(out_dir) / "plots")
    metrics = [metric for metric in result["metrics"] if any(metric in data["summary"]
                                                               for data in result["arms"].values())]
    rows = [[arm, data["stories"], data["training_tokens"]]
            + [interval_text(data["summary"][metric]) for metric in metrics] for arm, data in result["arms"].items()]
    for name, scores in result["reference"].items():
        rows.append([f"reference: {name} texts", "", ""] + [
            "-" if scores.get(metric) is None or math.isnan(scores[metric]) else f"{scores[metric]:.3f}"
            if metric in scores else "-" for metric in metrics])
    model = result["model"]
    settings = [("model", f"TinyLM d_model={model['d_model']}, layers={model['layers']}, heads={model['heads']}, "
                          f"context={model['context']}; {model['parameters']:,} parameters"),
                ("budget", f"{model['steps']} steps x {model['batch']} x {model['context']} tokens"),
                ("tokenizer", f"byte-level BPE, {result['tokenizer']['vocabulary_size']} tokens, trained on "
                              f"{result['tokenizer']['stories']} real training stories only"),
                ("inputs", ", ".join(f"{key} {value}" for key, value in result["inputs"].items()))]
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    html = environment.from_string(TEMPLATE).render(
        title=title, seeds=result["seeds"], budget=f"{model['budget_tokens']:,}",
        sample_count=result["samples_per_model"],
        settings=settings, metrics=metrics, rows=rows,
        descriptions=[(metric, result["metrics"][metric]) for metric in metrics], plots=plots,
        samples=[(arm, data["runs"][0]["examples"]) for arm, data in result["arms"].items()],
        created=result["created"], seconds=result["seconds"])
    html_path = Path(out_dir) / "report.html"
    html_path.write_text(html, encoding="utf-8")
    return {"json": json_path, "html": html_path}
