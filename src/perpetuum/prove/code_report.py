"""The `perpetuum prove code` report: result.json and report.html (pass rates by arm with intervals, training
loss curves, each model's answers to the first benchmark problems), plus each plot as SVG in `plots/`."""

from __future__ import annotations

import base64
import datetime
import json
from pathlib import Path

import jinja2

from perpetuum.collapse.report import COLOURS
from perpetuum.prove.report import interval_text, json_ready, metric_by_arm_svg, plot_axes, svg_bytes

__all__ = ["write_code_report"]

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>Does the data teach? Code</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em}.plots{display:flex;flex-wrap:wrap;gap:1.2em}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}.settings td{text-align:left}
pre{white-space:pre-wrap;background:#f6f6f6;padding:.6em;font-size:.8em}
</style></head><body>
<h1>Does the data teach? Code</h1>
<p>The student was fine-tuned in full on each arm's exercises, {{ seeds }} seed(s) per arm (the base model once:
its answers are greedy). Every model answered the same held-out tasks greedily, and each answer ran against the
task's tests in the sandbox. Values: mean over seeds [95 % t-interval]; a single run's 95 % Wilson interval over
problems is in the JSON.</p>
<table class="settings">{% for key, value in settings %}<tr><th>{{ key }}</th><td>{{ value }}</td></tr>
{% endfor %}</table>
<h2>Results</h2>
<table><tr><th>arm</th><th>exercises</th>{% for metric in metrics %}<th>{{ metric }}</th>{% endfor %}
<th>benchmark problems gained / lost against base, per seed</th></tr>
{% for row in rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</table>
<ul>{% for metric, text in descriptions %}<li><b>{{ metric }}</b>: {{ text }}</li>{% endfor %}</ul>
<h2>Plots</h2>
<div class="plots">{% for plot in plots %}<div><img src="{{ plot.uri }}" alt="{{ plot.name }}" width="500"></div>
{% endfor %}</div>
<h2>Answers to the first benchmark problems (first seed)</h2>
{% for arm, examples in examples %}<h3>{{ arm }}</h3>{% for task, verdict, text in examples %}
<p>{{ task }}: <b>{{ verdict }}</b></p><pre>{{ text }}</pre>{% endfor %}{% endfor %}
<p>Perpetuum prove code; created {{ created }}; {{ seconds }} s.</p>
</body></html>
"""


def loss_curves_svg(result: dict) -> bytes:
    """Training loss on the answers' tokens against tokens trained; one line per seed."""
    figure, axis = plot_axes()
    for index, (arm, data) in enumerate(result["arms"].items()):
        for number, run in enumerate(data["runs"]):
            if run["curve"]:
                axis.plot([row["tokens"] for row in run["curve"]], [row["loss"] for row in run["curve"]],
                          color=COLOURS[index % len(COLOURS)], linewidth=1, alpha=0.8,
                          label=arm if number == 0 else None)
    axis.set_xlabel("tokens trained", fontsize=8)
    axis.set_ylabel("training loss (answer tokens, nats/token)", fontsize=8)
    axis.legend(fontsize=7, frameon=False)
    return svg_bytes(figure)


def write_code_report(result: dict, out_dir: str | Path) -> dict[str, Path]:
    """Write result.json, report.html and plots/*.svg into `out_dir`; returns their paths."""
    out_dir = Path(out_dir)
    plot_dir = out_dir / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    result = {**result, "created": result.get("created") or datetime.datetime.now(datetime.timezone.utc)
              .isoformat(timespec="seconds")}
    json_path = out_dir / "result.json"
    json_path.write_text(json.dumps(json_ready(result), indent=2, ensure_ascii=False, allow_nan=False),
                         encoding="utf-8")
    figures = [("loss_curves", loss_curves_svg(result))]
    for metric, label in (("benchmark_pass_rate", "benchmark pass@1 (greedy)"),
                          ("heldout_pass_rate", "held-out exercises passed")):
        if any(metric in data["summary"] for data in result["arms"].values()):
            figures.append((metric, metric_by_arm_svg(result, metric, label)))
    plots = []
    for name, svg in figures:
        (plot_dir / f"{name}.svg").write_bytes(svg)
        plots.append({"name": name, "uri": "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")})
    metrics = [metric for metric in result["metrics"]
               if any(metric in data["summary"] for data in result["arms"].values())]
    rows = []
    for arm, data in result["arms"].items():
        changes = ", ".join(f"+{run['benchmark_vs_base']['gained']} / -{run['benchmark_vs_base']['lost']}"
                            for run in data["runs"] if "benchmark_vs_base" in run) or "-"
        rows.append([arm, data["exercises"]] + [interval_text(data["summary"][metric]) if metric in data["summary"]
                                                else "-" for metric in metrics] + [changes])
    student, training, inputs = result["student"], result["training"], result["inputs"]
    settings = [("student", f"{student['source']} ({student['parameters']:,} parameters) on {student['device']}"),
                ("fine-tune", f"{training['epochs']} epochs, learning rate {training['learning_rate']}, batch "
                              f"{training['batch']}, at most {training['max_length']} tokens, loss on "
                              f"{training['loss']}, {training['optimizer']}"),
                ("inputs", ", ".join(f"{key} {value}" for key, value in inputs.items())),
                ("answers", f"greedy, at most {result['answering']['max_new_tokens']} new tokens")]
    examples = []
    for arm, data in result["arms"].items():
        verdicts = data["runs"][0].get("benchmark", data["runs"][0].get("heldout", {})).get("verdicts", [])[:3]
        examples.append((arm, [(v["task_id"], "passed" if v["passed"] else f"{v['status']} {v['reason'][:80]}",
                                v["answer"]) for v in verdicts]))
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    html = environment.from_string(TEMPLATE).render(
        seeds=result["seeds"], settings=settings, metrics=metrics, rows=rows,
        descriptions=[(metric, result["metrics"][metric]) for metric in metrics], plots=plots, examples=examples,
        created=result["created"], seconds=result["seconds"])
    html_path = out_dir / "report.html"
    html_path.write_text(html, encoding="utf-8")
    return {"json": json_path, "html": html_path}
