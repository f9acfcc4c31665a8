"""How the demo shows its results: the terminal table and the Markdown report."""

from __future__ import annotations

import math

__all__ = ["summary_table", "markdown_report", "number_of"]

WEAKEST_PAIRS_SHOWN = 5


def number_of(result: dict, key: str) -> float | None:
    """One number of a metric's result as a float; None where the metric has none (NaN is kept for the JSON)."""
    if isinstance(result, dict) and result.get(key) is not None:
        return float(result[key])
    return None


LABELS = {
    "fidelity": "Fidelity (overall)",
    "utility": "Utility (overall)",
    "privacy": "Privacy (overall)",
    "column_shapes": "Column shapes",
    "column_pair_trends": "Column pair trends",
    "tstr_auc": "TSTR AUC",
    "trtr_auc": "Real-trained AUC",
    "exact_copies": "Exact copies",
    "copies_of_unique_rows": "Copies of unique rows",
    "dcr_share": "DCR share",
    "detection": "Detection",
    "conditional_match": "Conditional match",
    "rebalanced_share": "Rebalanced share",
    "save_load_identical": "Save and reload",
}


def _format(key: str, value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "same rows" if value else "DIFFERENT rows"
    if key in ("exact_copies", "copies_of_unique_rows"):
        return f"{int(value):,}"
    return f"{value:.3f}"


def summary_table(report: dict):
    """A rich table of the demo's scores, each with its one-line meaning and the time taken."""
    from rich.table import Table

    timings = report["timings_seconds"]
    table = Table(
        title=(
            f"Perpetuum demo: {report['settings']['model']} synthesizer on UCI Adult "
            f"({report['data']['train_rows']:,} train / {report['data']['holdout_rows']:,} holdout rows)"
        ),
        caption=(
            f"fit {timings.get('fit', 0):.1f} s, sample {timings.get('sample', 0):.1f} s, "
            f"total {timings.get('total', 0):.1f} s"
        ),
    )
    table.add_column("score", style="bold")
    table.add_column("value", justify="right", style="cyan")
    table.add_column("what it means")
    for key, value in report["scores"].items():
        table.add_row(LABELS[key], _format(key, value), report["meanings"][key])
    return table


def markdown_report(report: dict) -> str:
    data, settings, timings = report["data"], report["settings"], report["timings_seconds"]
    lines = [
        "# Perpetuum demo report",
        "",
        f"Synthesizer `{settings['model']}` ({settings['synthesizer']}), seed {settings['seed']}, "
        f"Perpetuum {report['perpetuum_version']}.",
        "",
        f"Data: {data['name']}, {data['rows_used']:,} rows, split 80/20 (stratified on `{data['target']}`) into "
        f"{data['train_rows']:,} training and {data['holdout_rows']:,} holdout rows. "
        f"The synthesizer saw only the training rows.",
        "",
        "## Scores",
        "",
        "| score | value | what it means |",
        "| --- | ---: | --- |",
    ]
    for key, value in report["scores"].items():
        lines.append(f"| {LABELS[key]} | {_format(key, value)} | {report['meanings'][key]} |")
    lines += ["", "## Time (seconds)", "", "| step | seconds |", "| --- | ---: |"]
    lines += [f"| {step} | {seconds:.1f} |" for step, seconds in timings.items()]
    per_column = report["metrics"]["column_shapes"].get("per_column") or {}
    if isinstance(per_column, dict) and per_column:
        lines += ["", "## Column shapes, per column", "", "| column | score |", "| --- | ---: |"]
        for column, score in sorted(per_column.items(), key=lambda item: _sort_key(item[1])):
            lines.append(f"| {column} | {_format('per_column', _scalar(score))} |")
    per_pair = report["metrics"]["column_pair_trends"].get("per_pair") or {}
    if isinstance(per_pair, dict) and per_pair:
        weakest = sorted(per_pair.items(), key=lambda item: _sort_key(item[1]))[:WEAKEST_PAIRS_SHOWN]
        lines += ["", f"## The {len(weakest)} least faithful column pairs", "", "| pair | score |", "| --- | ---: |"]
        lines += [f"| {pair} | {_format('per_pair', _scalar(score))} |" for pair, score in weakest]
    lines += ["", "## Files", ""]
    lines += [f"- {name}: `{path}`" for name, path in report["files"].items()]
    lines += ["", "## Data attribution", "", data["attribution"], ""]
    return "\n".join(lines)


def _scalar(value):
    if isinstance(value, dict):
        return number_of(value, "score")
    return value


def _sort_key(value) -> float:
    number = _scalar(value)
    return float(number) if number is not None else math.inf
