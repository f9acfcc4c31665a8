"""How long `perpetuum.evaluate.evaluate` takes on Adult, end to end, metric by metric.

    .venv/bin/python benchmarks/evaluate_speed.py            # the full protocol (target: at most 60 s in all)
    .venv/bin/python benchmarks/evaluate_speed.py --rows 5000  # a quicker run on a stratified slice

Protocol: the shipped UCI Adult table split 80/20, stratified on income, random_state=0 (26,048 train rows,
6,513 holdout rows); the default `quality` synthesizer (seed 0) fitted on train samples as many rows as train has;
then `evaluate(train, synthetic, holdout, target="income", seed=0)` with every metric, privacy attacks included,
and the HTML report rendered. Fitting and sampling are timed but not counted in the evaluation's total. Prints a
table of wall-clock and CPU seconds per metric and writes benchmarks/results/evaluate_speed.json, with the
machine's load average before and after: other processes competing for the cores stretch wall-clock time, and
the CPU seconds (this process, all threads) show what the evaluation itself costs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib import metadata as package_metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "evaluate_speed.json"
TARGET_SECONDS = 60.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="use a stratified slice of Adult of this many rows")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"JSON file to write (default {RESULTS})")
    options = parser.parse_args(argv)

    from sklearn.model_selection import train_test_split

    from perpetuum.datasets import load_adult
    from perpetuum.evaluate import evaluate
    from perpetuum.evaluate.report import STEP_LABELS
    from perpetuum.tabular import get_synthesizer

    load_before = os.getloadavg()
    data = load_adult()
    if options.rows is not None:
        data, _ = train_test_split(data, train_size=options.rows, stratify=data["income"], random_state=0)
    train, holdout = train_test_split(data, test_size=0.2, stratify=data["income"], random_state=0)
    train, holdout = train.reset_index(drop=True), holdout.reset_index(drop=True)

    started = time.perf_counter()
    synthesizer = get_synthesizer("quality")(seed=0).fit(train)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    synthetic = synthesizer.sample(len(train), seed=0)
    sample_seconds = time.perf_counter() - started

    evaluation = evaluate(
        train,
        synthetic,
        holdout=holdout,
        target="income",
        seed=0,
        metadata={"synthesizer": "quality", "params": synthesizer.get_params()},
        progress=False,
    )
    with tempfile.TemporaryDirectory() as folder:
        started, cpu_started = time.perf_counter(), time.process_time()
        evaluation.to_html(Path(folder) / "report.html")
        html_seconds, html_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    load_after = os.getloadavg()

    timings, cpu = dict(evaluation.timings), dict(evaluation.cpu_seconds)
    total, cpu_total = timings.pop("total"), cpu.pop("total")
    rows = [(STEP_LABELS.get(key, key), seconds, cpu[key]) for key, seconds in timings.items()]
    rows += [("evaluate() total", total, cpu_total), ("HTML report rendering", html_seconds, html_cpu),
             ("evaluate() + HTML", total + html_seconds, cpu_total + html_cpu)]
    width = max(len(label) for label, *_ in rows)
    print(f"Adult: {len(train):,} train, {len(synthetic):,} synthetic, {len(holdout):,} holdout rows "
          f"(fit {fit_seconds:.1f} s, sample {sample_seconds:.1f} s, not counted)")
    print(f"{'step':<{width}}  wall s   CPU s")
    for label, seconds, cpu_seconds in rows:
        print(f"{label:<{width}}  {seconds:6.2f}  {cpu_seconds:6.2f}")
    verdict = "within" if total + html_seconds <= TARGET_SECONDS else "OVER"
    print(f"target {TARGET_SECONDS:.0f} s: {verdict} "
          f"(load average before {load_before[0]:.2f}, after {load_after[0]:.2f} on {os.cpu_count()} cores)")

    result = {
        "protocol": "Adult 80/20 stratified on income, random_state=0; quality synthesizer seed 0; "
                    "evaluate(train, synthetic, holdout, target='income', seed=0), privacy attacks on",
        "rows": evaluation.data["rows"],
        "fit_seconds": fit_seconds,
        "sample_seconds": sample_seconds,
        "seconds": timings,
        "cpu_seconds": cpu,
        "evaluate_total_seconds": total,
        "evaluate_total_cpu_seconds": cpu_total,
        "html_seconds": html_seconds,
        "html_cpu_seconds": html_cpu,
        "target_seconds": TARGET_SECONDS,
        "headline": {name: entry["score"] for name, entry in evaluation.headline.items()},
        "load_average_before": load_before,
        "load_average_after": load_after,
        "machine": machine_info(),
    }
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {options.output}")
    return 0


def machine_info() -> dict:
    versions = {}
    for package in ["perpetuum", "anonymeter", "scikit-learn", "pandas", "numpy", "matplotlib"]:
        try:
            versions[package] = package_metadata.version(package)
        except package_metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "perpetuum_git": _git_state(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
    }


def _git_state() -> dict | None:
    """The commit the source was at, and whether src/ had uncommitted changes (results then reflect them)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True)
        changes = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], cwd=REPO, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": commit.stdout.strip(), "uncommitted_changes_in_src": bool(changes.stdout.strip())}


if __name__ == "__main__":
    sys.exit(main())
