"""The `perpetuum prove code` report: result.json and report.html (pass rates by arm with intervals, training
loss curves, each model's answers to the first benchmark problems), plus each plot as SVG in `plots/`."""

from __future__ import annotations

from pathlib import Path

import jinja2

from perpetuum.prove.report import PAGE_HEAD, curves_svg, interval_text, metric_by_arm_svg, save_plots, write_result

__all__ = ["write_code_report"]

TEMPLATE = PAGE_HEAD + """<h1>{{ title }}</h1>
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


def write_code_report(result: dict, out_dir: str | Path) -> dict[str, Path]:
    """Write result.json, report.html and plots/*.svg into `out_dir`; returns their paths."""
    result, json_path = write_result(result, out_dir)
    figures = [("loss_curves", curves_svg(result, "loss", "tokens trained",
                                          "training loss (answer tokens, nats/token)"))]
    for metric, label in (("benchmark_pass_rate", "benchmark pass@1 (greedy)"),
                          ("heldout_pass_rate", "held-out exercises passed")):
        if any(metric in data["summary"] for data in result["arms"].values()):
            figures.append((metric, metric_by_arm_svg(result, metric, label)))
    plots = save_plots(figures, Path(out_dir) / "plots")
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
        title="Does the data teach? Code", seeds=result["seeds"], settings=settings, metrics=metrics, rows=rows,
        descriptions=[(metric, result["metrics"][metric]) for metric in metrics], plots=plots, examples=examples,
        created=result["created"], seconds=result["seconds"])
    html_path = Path(out_dir) / "report.html"
    html_path.write_text(html, encoding="utf-8")
    return {"json": json_path, "html": html_path}
