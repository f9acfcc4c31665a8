"""Perpetuum's tabular synthesizers against SDV's on Adult and on tables with strongly correlated numeric columns.

Run it in the benchmark environment (built by benchmarks/setup_peers.sh), from the repository root:

    .venv-peers/bin/python benchmarks/tabular_vs_peers.py                      # all four models
    .venv-peers/bin/python benchmarks/tabular_vs_peers.py --models sdv-ctgan   # one model, merged into the JSON
    .venv-peers/bin/python benchmarks/tabular_vs_peers.py --quick              # smoke run: our models, 5k rows
    .venv-peers/bin/python benchmarks/tabular_vs_peers.py --table sp500        # another table (benchmark_tables.py)

Speed, memory, fidelity, utility and privacy. Protocol: the table (Adult by default; the others are described in
benchmarks/benchmark_tables.py) is split 80/20 (stratified on its class column, random_state=0). Each model is
fitted on the 80% and samples as many rows as it was trained on, in a fresh process (multiprocessing 'spawn'), so
its peak memory is its own: the peak resident set size of that process (VmHWM in /proc/self/status, read at
the end), which includes the interpreter and the model's libraries (torch for CTGAN); the peak right after imports
is reported too. Scores are computed afterwards, in this process:
- Column Shapes and Column Pair Trends: sdmetrics' own Quality Report, with column types from dtypes;
- TSTR AUC: XGBoost (same hyper-parameters for every model) trained on the synthetic rows, tested on the real 20%;
- DCR share, exact copies and detection: `perpetuum.evaluate` (see their docstrings).
The real 20% is also scored as if it were synthetic (Shapes, Trends, detection against the training rows): the
level a fresh real sample of that size reaches, which on small tables is well below 1. So are five resamples
(with replacement, as many rows) of the training rows themselves: what a model that had learned the training rows
exactly would score at the synthetic sample's size, the ceiling that sampling noise sets on Shapes and Trends.
Results go to benchmarks/results/tabular_vs_peers.json for Adult, tabular_vs_peers_<table>.json for the others
(with _quick before .json for --quick); a run with some models updates those models' entries and keeps the others.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import pickle
import platform
import resource
import sys
import tempfile
import time
import warnings
from datetime import datetime, timezone
from importlib import metadata as package_metadata
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark_tables import ADULT_CSV, TABLES, load_adult

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
SEED = 0
MODELS = ["perpetuum-copula", "perpetuum-quality", "sdv-gaussiancopula", "sdv-ctgan"]
# The quality synthesizer without its within-leaf copula (the original ARF), to measure what the copula brings.
ABLATIONS = {"perpetuum-quality-independent": ("quality", {"within_leaf_dependence": "independent"})}
CHOICES = MODELS + list(ABLATIONS)
QUICK_MODELS = ["perpetuum-copula", "perpetuum-quality"]
QUICK_ROWS = 5000
# One XGBoost set-up for every model, so TSTR differences come from the data alone.
XGBOOST_PARAMS = dict(
    n_estimators=300,
    learning_rate=0.05,
    max_depth=6,
    subsample=0.8,
    colsample_bytree=0.8,
    tree_method="hist",
    enable_categorical=True,
    n_jobs=2,
    random_state=SEED,
)
# What perpetuum-quality should reach; printed next to its row.
TARGETS = {
    "fit_plus_sample_s": "<= 120",
    "shapes": ">= 0.98",
    "trends": ">= 0.96",
    "tstr_auc": ">= 0.89",
    "dcr_share": "0.48-0.56",
    "copies": "0",
}


# --- one model, in its own process -----------------------------------------------------------------------------


def fit_and_sample(model: str, train_path: str, output_path: str, ctgan_epochs: int) -> dict:
    """Fit `model` on the pickled train frame and write as many sampled rows; runs in a spawned process."""
    warnings.filterwarnings("ignore")
    np.random.seed(SEED)
    if model.startswith("perpetuum-"):
        from perpetuum.tabular import get_synthesizer

        name, params = ABLATIONS.get(model, (model.removeprefix("perpetuum-"), {}))
        synthesizer = get_synthesizer(name)(seed=SEED, verbose=False, **params)
        fit, sample = synthesizer.fit, lambda rows: synthesizer.sample(rows)
    else:
        import torch
        from sdv.metadata import Metadata
        from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer

        torch.manual_seed(SEED)
        state: dict = {}

        def fit(frame: pd.DataFrame) -> None:
            detected = Metadata.detect_from_dataframes({"table": frame})
            if model == "sdv-ctgan":
                state["model"] = CTGANSynthesizer(detected, epochs=ctgan_epochs)
            else:
                state["model"] = GaussianCopulaSynthesizer(detected)
            state["model"].fit({"table": frame})

        def sample(rows: int) -> pd.DataFrame:
            output = state["model"].sample(num_rows=rows)
            return output["table"] if isinstance(output, dict) else output

    import_rss = _peak_rss_mib()
    with open(train_path, "rb") as handle:
        train = pickle.load(handle)
    started = time.perf_counter()
    fit(train)
    fitted = time.perf_counter()
    synthetic = sample(len(train))
    sampled = time.perf_counter()
    with open(output_path, "wb") as handle:
        pickle.dump(synthetic, handle)
    return {
        "fit_s": round(fitted - started, 2),
        "sample_s": round(sampled - fitted, 2),
        "peak_rss_mib": round(_peak_rss_mib(), 1),
        "import_rss_mib": round(import_rss, 1),
        "rows_sampled": len(synthetic),
    }


def _peak_rss_mib() -> float:
    """Peak resident memory of this process so far.

    On Linux this is VmHWM from /proc/self/status. Not getrusage's ru_maxrss: Linux carries the parent's peak
    over into a child started by fork + exec (which 'spawn' is), so a child of a 500 MiB parent would never
    report less than 500 MiB.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # elsewhere: may include the parent's peak
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def run_isolated(model: str, train: pd.DataFrame, ctgan_epochs: int) -> tuple[dict, pd.DataFrame]:
    with tempfile.TemporaryDirectory() as folder:
        train_path, output_path = os.path.join(folder, "train.pkl"), os.path.join(folder, "synthetic.pkl")
        with open(train_path, "wb") as handle:
            pickle.dump(train, handle)
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            measures = pool.apply(fit_and_sample, (model, train_path, output_path, ctgan_epochs))
        with open(output_path, "rb") as handle:
            return measures, pickle.load(handle)


# --- scores ----------------------------------------------------------------------------------------------------


def score(train: pd.DataFrame, test: pd.DataFrame, synthetic: pd.DataFrame, target: str) -> dict:
    from perpetuum.evaluate import (
        column_pair_trends,
        column_shapes,
        dcr_share,
        detection_score,
        exact_copies,
    )

    synthetic = synthetic[list(train.columns)]
    quality = sdmetrics_quality(train, synthetic)
    copies = exact_copies(train, synthetic, holdout=test)
    dcr = dcr_share(train, synthetic, test, seed=SEED)
    return {
        "shapes": quality["Column Shapes"],
        "trends": quality["Column Pair Trends"],
        "tstr_auc": xgboost_auc(synthetic, test, target),
        "dcr_share": dcr["share"],
        "dcr_p5_ratio": dcr["p5_ratio"],
        "copies": copies["copies"],
        "copies_of_unique_rows": copies["copies_of_unique_rows"],
        "train_self_duplicates": copies["train_self_duplicates"],
        "holdout_copy_share": copies["holdout_share"],
        "detection": detection_score(train, synthetic, seed=SEED)["score"],
        "perpetuum_shapes": column_shapes(train, synthetic)["score"],
        "perpetuum_trends": column_pair_trends(train, synthetic)["score"],
    }


def real_holdout_reference(train: pd.DataFrame, test: pd.DataFrame) -> dict:
    """Shapes, Trends and detection of the real holdout against the training rows: what a fresh real sample gets."""
    from perpetuum.evaluate import detection_score

    quality = sdmetrics_quality(train, test)
    return {
        "shapes": quality["Column Shapes"],
        "trends": quality["Column Pair Trends"],
        "detection": detection_score(train, test, seed=SEED)["score"],
    }


def resample_reference(train: pd.DataFrame, repeats: int = 5) -> dict:
    """Shapes and Trends of resamples (with replacement, as many rows) of the training rows themselves: what a model
    that had learned the training rows exactly would score at this sample size, the ceiling set by sampling noise."""
    scores = [sdmetrics_quality(train, train.sample(len(train), replace=True, random_state=SEED + repeat)
                                .reset_index(drop=True)) for repeat in range(repeats)]
    summary = {"repeats": repeats}
    for key, name in (("shapes", "Column Shapes"), ("trends", "Column Pair Trends")):
        values = [score[name] for score in scores]
        summary[key], summary[f"{key}_min"], summary[f"{key}_max"] = float(np.mean(values)), min(values), max(values)
    return summary


def column_types(frame: pd.DataFrame) -> dict:
    from perpetuum.evaluate.encoding import is_numeric

    return {column: "numerical" if is_numeric(frame[column]) else "categorical" for column in frame.columns}


def sdmetrics_quality(real: pd.DataFrame, synthetic: pd.DataFrame) -> dict:
    from sdmetrics.reports import QualityReport

    metadata = {"tables": {"table": {"columns": {c: {"sdtype": t} for c, t in column_types(real).items()}}}}
    report = QualityReport()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.generate({"table": real}, {"table": synthetic}, metadata, verbose=False)
    properties = report.get_properties()
    return {row["Property"]: float(row["Score"]) for _, row in properties.iterrows()}


def xgboost_auc(train: pd.DataFrame, test: pd.DataFrame, target: str) -> float:
    """ROC AUC on `test` of XGBoost trained on `train` to predict the `target` class that is rarer in `test`."""
    from sklearn.metrics import roc_auc_score
    from xgboost import XGBClassifier

    positive = test[target].value_counts().idxmin()
    labels = (train[target] == positive).astype(int)
    if labels.nunique() < 2:
        return float("nan")
    features = [column for column in test.columns if column != target]
    train_x, test_x = _xgboost_features(train[features], test[features])
    model = XGBClassifier(**XGBOOST_PARAMS).fit(train_x, labels)
    return float(roc_auc_score(test[target] == positive, model.predict_proba(test_x)[:, 1]))


def _xgboost_features(train: pd.DataFrame, test: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Numbers as floats; labels as pandas categories over the union of both tables, so codes agree."""
    types = column_types(test)
    train, test = train.copy(), test.copy()
    for column, kind in types.items():
        if kind == "numerical":
            train[column] = pd.to_numeric(train[column], errors="coerce").astype(float)
            test[column] = pd.to_numeric(test[column], errors="coerce").astype(float)
        else:
            train[column], test[column] = train[column].astype("string"), test[column].astype("string")
            dtype = pd.CategoricalDtype(sorted(pd.concat([train[column], test[column]]).dropna().unique()))
            train[column], test[column] = train[column].astype(dtype), test[column].astype(dtype)
    return train, test


# --- run, print, save ------------------------------------------------------------------------------------------


def load_split(data: pd.DataFrame, target: str, quick: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    if quick and len(data) > QUICK_ROWS:
        data, _ = train_test_split(data, train_size=QUICK_ROWS, stratify=data[target], random_state=SEED)
    train, test = train_test_split(data, test_size=0.2, stratify=data[target], random_state=SEED)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def machine_info() -> dict:
    versions = {}
    for package in ["perpetuum", "sdv", "sdmetrics", "xgboost", "torch", "scikit-learn", "pandas", "numpy"]:
        try:
            versions[package] = package_metadata.version(package)
        except package_metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "perpetuum_git": _git_state(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "packages": versions,
    }


def _git_state() -> dict | None:
    """The commit the Perpetuum source was at, and whether src/ had uncommitted changes (results then reflect them)."""
    import subprocess

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True)
        changes = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], cwd=REPO, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": commit.stdout.strip(), "uncommitted_changes_in_src": bool(changes.stdout.strip())}


def print_table(results: dict, real_auc: float, reference: dict) -> None:
    header = ["model", "fit s", "sample s", "peak MiB", "Shapes", "Trends", "TSTR AUC", "DCR", "copies", "detect"]
    rows = []
    for model, entry in results.items():
        if "error" in entry:
            rows.append([model, "failed: " + entry["error"][:60]] + [""] * 8)
            continue
        rows.append(
            [
                model,
                f"{entry['fit_s']:.1f}",
                f"{entry['sample_s']:.1f}",
                f"{entry['peak_rss_mib']:.0f}",
                f"{entry['shapes']:.3f}",
                f"{entry['trends']:.3f}",
                f"{entry['tstr_auc']:.3f}",
                f"{entry['dcr_share']:.3f}",
                f"{entry['copies']} ({entry['copies_of_unique_rows']})",
                f"{entry['detection']:.3f}",
            ]
        )
        if model == "perpetuum-quality":
            rows.append(
                ["  target", "fit+sample " + TARGETS["fit_plus_sample_s"], "", "", TARGETS["shapes"],
                 TARGETS["trends"], TARGETS["tstr_auc"], TARGETS["dcr_share"], TARGETS["copies"], ""]
            )
    widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(len(header))]
    for row in [header] + rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)))
    print(f"\ntrain-on-real XGBoost AUC (the ceiling for TSTR): {real_auc:.3f}")
    print(f"real holdout scored as if synthetic: Shapes {reference['shapes']:.3f}, Trends {reference['trends']:.3f}, "
          f"detect {reference['detection']:.3f}")
    print("copies: synthetic rows identical to a training row (in brackets: of a row that occurs once in train);")
    print("DCR: share of synthetic rows nearer to train than to holdout, 0.5 ideal; detect: 1 = indistinguishable")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", choices=list(TABLES), default="adult", help="table (default: %(default)s)")
    parser.add_argument("--data", type=Path, default=ADULT_CSV,
                        help="Adult CSV, for --table adult (default: %(default)s)")
    parser.add_argument("--models", nargs="+", choices=CHOICES, help="models to run (default: the four in MODELS; "
                        "--quick: ours)")
    parser.add_argument("--ctgan-epochs", type=int, default=300, help="CTGAN epochs (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help=f"our models on {QUICK_ROWS} rows, as a smoke run")
    parser.add_argument(
        "--output", type=Path, help="JSON file (default: benchmarks/results/tabular_vs_peers[_quick].json)"
    )
    parser.add_argument("--fresh", action="store_true", help="drop earlier results instead of updating them")
    args = parser.parse_args(argv)

    models = args.models or (QUICK_MODELS if args.quick else MODELS)
    table = TABLES[args.table]
    stem = "tabular_vs_peers" + ("" if args.table == "adult" else f"_{args.table}")
    output = args.output or RESULTS / (stem + ("_quick.json" if args.quick else ".json"))
    data = load_adult(args.data.resolve()) if args.table == "adult" else table.load()
    train, test = load_split(data, table.target, args.quick)
    print(f"{table.description}: {len(train)} train rows, {len(test)} holdout rows; models: {', '.join(models)}",
          flush=True)
    real_auc = xgboost_auc(train, test, table.target)
    reference = real_holdout_reference(train, test)
    resampled = resample_reference(train)

    config = {
        "data": str(args.data.resolve()) if args.table == "adult" else args.table,
        "n_train": len(train),
        "n_test": len(test),
        "split_seed": SEED,
        "quick": args.quick,
    }
    saved = json.loads(output.read_text()) if output.exists() and not args.fresh else {}
    results = saved.get("results", {}) if saved.get("config") == config else {}
    for model in models:
        print(f"- {model}: fitting and sampling in a fresh process ...", flush=True)
        try:
            measures, synthetic = run_isolated(model, train, args.ctgan_epochs)
        except Exception as error:  # one failing peer should not lose the others' results
            results[model] = {"error": f"{type(error).__name__}: {error}", "date": _now()}
            print(f"  failed: {results[model]['error']}", flush=True)
            continue
        print(f"  fit {measures['fit_s']} s, sample {measures['sample_s']} s; scoring ...", flush=True)
        entry = {**measures, **score(train, test, synthetic, table.target), "date": _now()}
        if model == "sdv-ctgan":
            entry["ctgan_epochs"] = args.ctgan_epochs
        results[model] = entry

    ordered = {model: results[model] for model in CHOICES if model in results}
    print()
    print_table(ordered, real_auc, reference)
    print(f"resamples of the training rows ({resampled['repeats']}, the sampling-noise ceiling at {len(train)} rows): "
          f"Shapes {resampled['shapes']:.3f}, Trends {resampled['trends']:.3f} "
          f"({resampled['trends_min']:.3f}-{resampled['trends_max']:.3f})")
    output.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "tabular_vs_peers",
        "config": config,
        "date": _now(),
        "machine": machine_info(),
        "xgboost_params": XGBOOST_PARAMS,
        "train_on_real_auc": real_auc,
        "real_holdout_reference": reference,
        "train_resample_reference": resampled,
        "targets_for_perpetuum_quality": TARGETS,
        "results": ordered,
    }
    output.write_text(json.dumps(report, indent=2, default=json_default) + "\n")
    print(f"\nwritten: {output}")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def json_default(value):
    """numpy scalars as plain numbers for json.dumps; anything else unknown is an error."""
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


if __name__ == "__main__":
    main()
