"""The end-to-end demo on the shipped UCI Adult table: split, fit, sample, score, condition, save and reload.

`run_demo` is what `perpetuum demo` calls; it is also a compact, runnable tour of the library's API.
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from perpetuum import __version__
from perpetuum.errors import ParameterError
from perpetuum.progress import progress_bar, progress_enabled

__all__ = ["run_demo", "summary_table"]

TARGET = "income"
RICH_CLASS = ">50K"
MIN_ROWS = 200
CONDITIONAL_ROWS = 1_000
REBALANCED_ROWS = 2_000
ROUND_TRIP_ROWS = 200
WEAKEST_PAIRS_SHOWN = 5
# Anonymeter attacks of each kind in the demo's evaluation: about 6 CPU-seconds on Adult instead of about 16 for the
# library's default 500; the report states the number, and the confidence intervals are wider for it.
DEMO_ANONYMETER_ATTACKS = 200


# What each headline number means, in one line (shown in the terminal and in the Markdown report).
MEANINGS = {
    "fidelity": "overall: mean of shapes, pair trends and detection (report.html says how)",
    "utility": "overall: share of the real model's skill above chance that TSTR keeps",
    "privacy": "overall: 1 - the largest risk any privacy attack shows",
    "column_shapes": "per-column distributions match (1 = identical)",
    "column_pair_trends": "relations between column pairs kept (1 = identical)",
    "tstr_auc": "income model trained on synthetic rows, tested on the real holdout",
    "trtr_auc": "the same model trained on the real rows: the ceiling",
    "exact_copies": "synthetic rows equal to a training row (lower is better)",
    "copies_of_unique_rows": "of those, copies of a row that occurs once in train",
    "dcr_share": "share closer to train than to holdout (0.5 = no memorising)",
    "detection": "1 - (2*AUC - 1) of a real-vs-synthetic classifier (1 = can't tell)",
    "conditional_match": f"share of {CONDITIONAL_ROWS:,} rows asked with income=\">50K\" that meet it",
    "rebalanced_share": f">50K share of {REBALANCED_ROWS:,} rows rebalanced to 50/50",
    "save_load_identical": "a reloaded model gives the same rows for a seed",
}


def run_demo(
    output_dir: str | Path = "perpetuum-demo",
    rows: int | None = None,
    model: str = "quality",
    seed: int = 0,
    verbose: bool = True,
) -> dict:
    """Synthesize the shipped Adult table and score the result; write the outputs to `output_dir`.

    Steps: load Adult (optionally a stratified subset of `rows` rows), split 80/20 into train and holdout
    (stratified on income), fit `model` on train, sample len(train) rows, evaluate them against train and the
    holdout with `perpetuum.evaluate.evaluate` (target income; Anonymeter with 200 attacks of each kind to stay
    quick), sample 1,000 rows with income=">50K" and a 50/50 rebalanced set, save the model and check a reloaded
    copy gives the same rows.

    Writes synthetic.csv, model/, report.html (the self-contained evaluation report), report.json (its numbers),
    demo_report.json and demo_report.md (the demo's own summary). Returns the demo report as a dict
    (`scores`, `timings`, `files`, `metrics` with the full metric outputs, ...). With `verbose`, shows progress
    and prints a summary table.
    """
    from sklearn.model_selection import train_test_split

    from perpetuum import evaluate
    from perpetuum.datasets import ATTRIBUTION, load_adult
    from perpetuum.tabular import get_synthesizer, load_synthesizer

    output_dir = Path(output_dir)
    timings: dict[str, float] = {}
    started_demo = time.perf_counter()

    with _step("Loading the shipped UCI Adult table", timings, "load", verbose):
        data = load_adult()
        if rows is not None:
            data = _stratified_subset(data, rows, seed)
        train, holdout = train_test_split(data, test_size=0.2, stratify=data[TARGET], random_state=seed)
        train = train.reset_index(drop=True)
        holdout = holdout.reset_index(drop=True)
        output_dir.mkdir(parents=True, exist_ok=True)

    synthesizer_class = get_synthesizer(model)
    synthesizer = synthesizer_class(seed=seed, verbose=verbose)
    with _step(f"Fitting the {model!r} synthesizer on {len(train):,} training rows", timings, "fit", verbose):
        synthesizer.fit(train)

    with _step(f"Sampling {len(train):,} synthetic rows", timings, "sample", verbose):
        synthetic = synthesizer.sample(len(train), seed=seed)
        synthetic_path = output_dir / "synthetic.csv"
        synthetic.to_csv(synthetic_path, index=False)

    with _step(
        "Evaluating fidelity, utility and privacy (report.html)", timings, "evaluate", verbose, own_progress=True
    ):
        evaluation = evaluate.evaluate(
            train,
            synthetic,
            holdout=holdout,
            schema=getattr(synthesizer, "schema_", None),
            target=TARGET,
            seed=seed,
            anonymeter_attacks=DEMO_ANONYMETER_ATTACKS,
            progress=verbose,
            metadata={
                "synthesizer": f"{model} ({synthesizer_class.__name__})",
                "params": synthesizer.get_params(),
                "fit_seconds": timings["fit"],
                "sample_seconds": timings["sample"],
                "lineage": {
                    "source": "perpetuum/datasets/adult.csv.gz (UCI Adult, shipped with Perpetuum)",
                    "sha256": _adult_sha256(),
                    "attribution": ATTRIBUTION,
                    "rows_used": len(data),
                    "split": "80/20 stratified on income (scikit-learn train_test_split, random_state=seed)",
                    "train_rows": len(train),
                    "holdout_rows": len(holdout),
                    "seed": seed,
                },
            },
        )
        html_path = evaluation.to_html(output_dir / "report.html")
        evaluation.to_json(output_dir / "report.json")
    results = evaluation.results
    metrics: dict[str, dict] = {
        "column_shapes": results["fidelity"]["column_shapes"],
        "column_pair_trends": results["fidelity"]["column_pair_trends"],
        "tstr": results["utility"]["tstr"],
        "exact_copies": results["privacy"]["exact_copies"],
        "dcr_share": results["privacy"]["dcr"],
        "detection": results["fidelity"]["detection"],
    }

    with _step('Conditional sampling: income=">50K" and a 50/50 rebalance', timings, "conditional", verbose):
        conditional = synthesizer.sample(CONDITIONAL_ROWS, conditions={TARGET: RICH_CLASS}, seed=seed)
        classes = sorted(train[TARGET].dropna().unique().tolist())
        rebalanced = synthesizer.rebalance(
            TARGET, {label: 1.0 / len(classes) for label in classes}, REBALANCED_ROWS, seed=seed
        )
        conditional_result = {
            "conditions": {TARGET: RICH_CLASS},
            "rows_asked": CONDITIONAL_ROWS,
            "rows_returned": int(len(conditional)),
            "match_share": float((conditional[TARGET] == RICH_CLASS).mean()) if len(conditional) else 0.0,
            "real_share": float((train[TARGET] == RICH_CLASS).mean()),
        }
        rebalance_result = {
            "ratios_asked": {label: 1.0 / len(classes) for label in classes},
            "rows_asked": REBALANCED_ROWS,
            "rows_returned": int(len(rebalanced)),
            "shares": {
                str(label): float(share)
                for label, share in rebalanced[TARGET].value_counts(normalize=True).sort_index().items()
            },
        }

    with _step("Saving the model and checking a reloaded copy", timings, "save_load", verbose):
        model_dir = output_dir / "model"
        synthesizer.save(model_dir)
        reloaded = load_synthesizer(model_dir)
        before = synthesizer.sample(ROUND_TRIP_ROWS, seed=seed + 1)
        after = reloaded.sample(ROUND_TRIP_ROWS, seed=seed + 1)
        save_load = {"rows_compared": ROUND_TRIP_ROWS, "identical": _same_rows(before, after)}

    timings["total"] = time.perf_counter() - started_demo
    scores = _headline_scores(evaluation.headline, metrics, conditional_result, rebalance_result, save_load)
    report = {
        "perpetuum_version": __version__,
        "data": {
            "name": "UCI Adult",
            "attribution": ATTRIBUTION,
            "rows_used": int(len(data)),
            "train_rows": int(len(train)),
            "holdout_rows": int(len(holdout)),
            "target": TARGET,
        },
        "settings": {"model": model, "synthesizer": synthesizer_class.__name__, "seed": seed, "rows": rows},
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "scores": scores,
        "meanings": {key: MEANINGS[key] for key in scores},
        "timings_seconds": {key: round(value, 2) for key, value in timings.items()},
        "conditional_sampling": conditional_result,
        "rebalance": rebalance_result,
        "save_load": save_load,
        "metrics": metrics,
        "files": {
            "synthetic": str(synthetic_path),
            "model": str(model_dir),
            "report_json": str(output_dir / "demo_report.json"),
            "report_markdown": str(output_dir / "demo_report.md"),
            "report_html": str(html_path),
            "evaluation_json": str(output_dir / "report.json"),
        },
    }
    report = _jsonable(report)
    Path(report["files"]["report_json"]).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    Path(report["files"]["report_markdown"]).write_text(_markdown(report), encoding="utf-8")

    if verbose:
        from rich.console import Console

        console = Console(soft_wrap=True)  # paths stay whole, for copying
        files = report["files"]
        console.print(summary_table(report))
        console.print(f"Report: [bold]{files['report_html']}[/bold] (open it in a browser; JSON: {files['evaluation_json']})")
        console.print(f"Demo summary: {files['report_markdown']} (JSON: {files['report_json']})")
        console.print(f"Synthetic rows: {files['synthetic']}   Model: {files['model']}")
    return report


# ---------------------------------------------------------------------------------------------- steps


@contextmanager
def _step(description: str, timings: dict, key: str, verbose: bool, own_progress: bool = False) -> Iterator[None]:
    """Time one demo step; show it as a bar on a terminal, or as a plain line on stderr otherwise.

    `own_progress`: the step draws its own bar (the evaluation does, one step per metric), so none is added.
    """
    started = time.perf_counter()
    if progress_enabled(verbose) and not own_progress:
        with progress_bar(description, verbose=verbose):
            yield
    else:
        yield
    timings[key] = time.perf_counter() - started
    if verbose and not progress_enabled(verbose):
        from rich.console import Console

        Console(stderr=True).print(f"[green]done[/green] {description} [dim]({timings[key]:.1f} s)[/dim]")


def _adult_sha256() -> str:
    import hashlib
    from importlib import resources

    return hashlib.sha256(resources.files("perpetuum.datasets").joinpath("adult.csv.gz").read_bytes()).hexdigest()


def _stratified_subset(data: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    from sklearn.model_selection import train_test_split

    if rows < MIN_ROWS or rows > len(data):
        raise ParameterError(
            f"rows must be between {MIN_ROWS} and {len(data):,} (the size of Adult) for the demo; got {rows}. "
            "Leave it out to use the whole table."
        )
    if rows == len(data):
        return data
    subset, _ = train_test_split(data, train_size=rows, stratify=data[TARGET], random_state=seed)
    return subset.reset_index(drop=True)


def _same_rows(first: pd.DataFrame, second: pd.DataFrame) -> bool:
    try:
        pd.testing.assert_frame_equal(first.reset_index(drop=True), second.reset_index(drop=True))
    except AssertionError:
        return False
    return True


# ---------------------------------------------------------------------------------------------- scores


def _number(result: dict, key: str) -> float | None:
    """One number of a metric's result as a float; None where the metric has none (NaN is kept for the JSON)."""
    if isinstance(result, dict) and result.get(key) is not None:
        return float(result[key])
    return None


def _headline_scores(headline: dict, metrics: dict, conditional: dict, rebalance: dict, save_load: dict) -> dict:
    return {
        "fidelity": headline["fidelity"]["score"],
        "utility": headline["utility"]["score"],
        "privacy": headline["privacy"]["score"],
        "column_shapes": _number(metrics["column_shapes"], "score"),
        "column_pair_trends": _number(metrics["column_pair_trends"], "score"),
        "tstr_auc": _number(metrics["tstr"], "auc"),
        "trtr_auc": _number(metrics["tstr"], "real_auc"),
        "exact_copies": _number(metrics["exact_copies"], "copies"),
        "copies_of_unique_rows": _number(metrics["exact_copies"], "copies_of_unique_rows"),
        "dcr_share": _number(metrics["dcr_share"], "share"),
        "detection": _number(metrics["detection"], "score"),
        "conditional_match": conditional["match_share"],
        "rebalanced_share": rebalance["shares"].get(RICH_CLASS, 0.0),
        "save_load_identical": save_load["identical"],
    }


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


def _markdown(report: dict) -> str:
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
        return _number(value, "score")
    return value


def _sort_key(value) -> float:
    number = _scalar(value)
    return float(number) if number is not None else math.inf


def _key(key) -> str:
    """A JSON object key; a pair of columns (a tuple) becomes "first × second"."""
    return " × ".join(map(str, key)) if isinstance(key, tuple) else str(key)


def _jsonable(value):
    """Plain JSON types for the report (numpy scalars, NaN, DataFrames and tuples included)."""
    if isinstance(value, dict):
        return {_key(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(item) for item in value]
    if isinstance(value, pd.DataFrame):
        return _jsonable(value.to_dict(orient="records"))
    if isinstance(value, pd.Series):
        return _jsonable(value.to_dict())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if value is None or isinstance(value, str):
        return value
    return str(value)
