"""The demo's steps: load and split Adult, fit and sample, evaluate, sample under conditions, save and reload, and
the demo report that gathers them."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from perpetuum import __version__
from perpetuum.demo.summary import markdown_report, number_of, summary_table
from perpetuum.errors import ParameterError
from perpetuum.evaluate.evaluation import jsonable
from perpetuum.progress import progress_bar, progress_enabled

__all__ = ["run_demo", "MEANINGS"]

TARGET = "income"
RICH_CLASS = ">50K"
MIN_ROWS = 200
CONDITIONAL_ROWS = 1_000
REBALANCED_ROWS = 2_000
ROUND_TRIP_ROWS = 200
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
    output_dir = Path(output_dir)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    data, train, holdout = _load_and_split(rows, seed, output_dir, timings, verbose)
    synthesizer, synthetic = _fit_and_sample(model, train, seed, output_dir, timings, verbose)
    evaluation = _evaluate(train, synthetic, holdout, synthesizer, model, data, seed, output_dir, timings, verbose)
    conditional, rebalance = _conditional_sampling(synthesizer, train, seed, timings, verbose)
    save_load = _save_and_reload(synthesizer, output_dir, seed, timings, verbose)
    timings["total"] = time.perf_counter() - started

    metrics = _metrics(evaluation.results)
    scores = _headline_scores(evaluation.headline, metrics, conditional, rebalance, save_load)
    report = jsonable({
        "perpetuum_version": __version__,
        "data": _data_section(data, train, holdout),
        "settings": {"model": model, "synthesizer": type(synthesizer).__name__, "seed": seed, "rows": rows},
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "scores": scores,
        "meanings": {key: MEANINGS[key] for key in scores},
        "timings_seconds": {key: round(value, 2) for key, value in timings.items()},
        "conditional_sampling": conditional,
        "rebalance": rebalance,
        "save_load": save_load,
        "metrics": metrics,
        "files": _files(output_dir),
    })
    Path(report["files"]["report_json"]).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    Path(report["files"]["report_markdown"]).write_text(markdown_report(report), encoding="utf-8")
    if verbose:
        _print_summary(report)
    return report


# ---------------------------------------------------------------------------------------------- steps


def _load_and_split(rows, seed, output_dir: Path, timings: dict, verbose: bool):
    """(the Adult rows used, train, holdout): an 80/20 split stratified on income."""
    from sklearn.model_selection import train_test_split

    from perpetuum.datasets import load_adult

    with _step("Loading the shipped UCI Adult table", timings, "load", verbose):
        data = load_adult()
        if rows is not None:
            data = _stratified_subset(data, rows, seed)
        train, holdout = train_test_split(data, test_size=0.2, stratify=data[TARGET], random_state=seed)
        output_dir.mkdir(parents=True, exist_ok=True)
    return data, train.reset_index(drop=True), holdout.reset_index(drop=True)


def _fit_and_sample(model: str, train, seed: int, output_dir: Path, timings: dict, verbose: bool):
    """(the synthesizer fitted on train, as many synthetic rows, also written to synthetic.csv)."""
    from perpetuum.tabular import get_synthesizer

    synthesizer = get_synthesizer(model)(seed=seed, verbose=verbose)
    with _step(f"Fitting the {model!r} synthesizer on {len(train):,} training rows", timings, "fit", verbose):
        synthesizer.fit(train)
    with _step(f"Sampling {len(train):,} synthetic rows", timings, "sample", verbose):
        synthetic = synthesizer.sample(len(train), seed=seed)
        synthetic.to_csv(output_dir / "synthetic.csv", index=False)
    return synthesizer, synthetic


def _evaluate(train, synthetic, holdout, synthesizer, model, data, seed, output_dir: Path, timings, verbose):
    """The evaluation (`perpetuum.workflow.evaluate_synthetic`), written as report.html and report.json."""
    from perpetuum.datasets import ATTRIBUTION
    from perpetuum.workflow import evaluate_synthetic

    lineage = {
        "source": "perpetuum/datasets/adult.csv.gz (UCI Adult, shipped with Perpetuum)",
        "sha256": _adult_sha256(),
        "attribution": ATTRIBUTION,
        "rows_used": len(data),
        "split": "80/20 stratified on income (scikit-learn train_test_split, random_state=seed)",
        "train_rows": len(train),
        "holdout_rows": len(holdout),
        "seed": seed,
    }
    description = "Evaluating fidelity, utility and privacy (report.html)"
    with _step(description, timings, "evaluate", verbose, own_progress=True):
        evaluation = evaluate_synthetic(
            train, synthetic, holdout, synthesizer, model=model, fit_seconds=timings["fit"],
            sample_seconds=timings["sample"], lineage=lineage, target=TARGET, seed=seed,
            anonymeter_attacks=DEMO_ANONYMETER_ATTACKS, progress=verbose,
        )
        evaluation.to_html(output_dir / "report.html")
        evaluation.to_json(output_dir / "report.json")
    return evaluation


def _conditional_sampling(synthesizer, train, seed: int, timings: dict, verbose: bool) -> tuple[dict, dict]:
    """1,000 rows asked with income=">50K", and a set rebalanced to equal class shares: what came back."""
    with _step('Conditional sampling: income=">50K" and a 50/50 rebalance', timings, "conditional", verbose):
        conditional = synthesizer.sample(CONDITIONAL_ROWS, conditions={TARGET: RICH_CLASS}, seed=seed)
        classes = sorted(train[TARGET].dropna().unique().tolist())
        ratios = {label: 1.0 / len(classes) for label in classes}
        rebalanced = synthesizer.rebalance(TARGET, ratios, REBALANCED_ROWS, seed=seed)
    conditional_result = {
        "conditions": {TARGET: RICH_CLASS},
        "rows_asked": CONDITIONAL_ROWS,
        "rows_returned": int(len(conditional)),
        "match_share": float((conditional[TARGET] == RICH_CLASS).mean()) if len(conditional) else 0.0,
        "real_share": float((train[TARGET] == RICH_CLASS).mean()),
    }
    rebalance_result = {
        "ratios_asked": ratios,
        "rows_asked": REBALANCED_ROWS,
        "rows_returned": int(len(rebalanced)),
        "shares": {
            str(label): float(share)
            for label, share in rebalanced[TARGET].value_counts(normalize=True).sort_index().items()
        },
    }
    return conditional_result, rebalance_result


def _save_and_reload(synthesizer, output_dir: Path, seed: int, timings: dict, verbose: bool) -> dict:
    """Save the model to model/, reload it, and compare the rows both give for one seed."""
    from perpetuum.tabular import load_synthesizer

    with _step("Saving the model and checking a reloaded copy", timings, "save_load", verbose):
        synthesizer.save(output_dir / "model")
        reloaded = load_synthesizer(output_dir / "model")
        before = synthesizer.sample(ROUND_TRIP_ROWS, seed=seed + 1)
        after = reloaded.sample(ROUND_TRIP_ROWS, seed=seed + 1)
    return {"rows_compared": ROUND_TRIP_ROWS, "identical": _same_rows(before, after)}


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


# ---------------------------------------------------------------------------------------------- the report


def _metrics(results: dict) -> dict[str, dict]:
    """The full results of the metrics behind the demo's scores."""
    return {
        "column_shapes": results["fidelity"]["column_shapes"],
        "column_pair_trends": results["fidelity"]["column_pair_trends"],
        "tstr": results["utility"]["tstr"],
        "exact_copies": results["privacy"]["exact_copies"],
        "dcr_share": results["privacy"]["dcr"],
        "detection": results["fidelity"]["detection"],
    }


def _headline_scores(headline: dict, metrics: dict, conditional: dict, rebalance: dict, save_load: dict) -> dict:
    return {
        "fidelity": headline["fidelity"]["score"],
        "utility": headline["utility"]["score"],
        "privacy": headline["privacy"]["score"],
        "column_shapes": number_of(metrics["column_shapes"], "score"),
        "column_pair_trends": number_of(metrics["column_pair_trends"], "score"),
        "tstr_auc": number_of(metrics["tstr"], "auc"),
        "trtr_auc": number_of(metrics["tstr"], "real_auc"),
        "exact_copies": number_of(metrics["exact_copies"], "copies"),
        "copies_of_unique_rows": number_of(metrics["exact_copies"], "copies_of_unique_rows"),
        "dcr_share": number_of(metrics["dcr_share"], "share"),
        "detection": number_of(metrics["detection"], "score"),
        "conditional_match": conditional["match_share"],
        "rebalanced_share": rebalance["shares"].get(RICH_CLASS, 0.0),
        "save_load_identical": save_load["identical"],
    }


def _data_section(data, train, holdout) -> dict:
    from perpetuum.datasets import ATTRIBUTION

    return {
        "name": "UCI Adult",
        "attribution": ATTRIBUTION,
        "rows_used": int(len(data)),
        "train_rows": int(len(train)),
        "holdout_rows": int(len(holdout)),
        "target": TARGET,
    }


def _files(output_dir: Path) -> dict[str, str]:
    return {
        "synthetic": str(output_dir / "synthetic.csv"),
        "model": str(output_dir / "model"),
        "report_json": str(output_dir / "demo_report.json"),
        "report_markdown": str(output_dir / "demo_report.md"),
        "report_html": str(output_dir / "report.html"),
        "evaluation_json": str(output_dir / "report.json"),
    }


def _print_summary(report: dict) -> None:
    from rich.console import Console

    console = Console(soft_wrap=True)  # paths stay whole, for copying
    files = report["files"]
    console.print(summary_table(report))
    console.print(f"Report: [bold]{files['report_html']}[/bold] (open it in a browser; JSON: {files['evaluation_json']})")
    console.print(f"Demo summary: {files['report_markdown']} (JSON: {files['report_json']})")
    console.print(f"Synthetic rows: {files['synthetic']}   Model: {files['model']}")
