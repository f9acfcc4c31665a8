"""Privacy against fidelity and utility on Adult: the default synthesizer, the default with privacy filters, and the
differentially private dp-aim and dp-mst at several epsilons next to the peer library's AIM and MST.

Run from the repository root with an environment holding Perpetuum with its `dp` extra:

    python benchmarks/privacy.py                                   # every model, epsilon 0.5, 1, 3, 10
    python benchmarks/privacy.py --epsilons 3 --models dp-mst peer-mst
    python benchmarks/privacy.py --rows 5000 --epsilons 1 3        # a quicker run on a stratified slice
    python benchmarks/privacy.py --models dp-aim-plain --epsilons 3 1 --output benchmarks/results/privacy_aim_plain.json
                                       # dp-aim with the peer's plain workload (no target), like for like
    python benchmarks/privacy.py --models dp-aim --epsilons 3 --aim-target-weight 3 --output OUT.json
                                       # dp-aim with a lighter weight on the target's marginals

Protocol: Adult is split 80/20 (stratified on income, random_state=0), as in tabular_vs_peers.py. Every model is
fitted on the same 80% in this run and samples as many rows; the scores are Perpetuum's own metrics on the same
rows: column shapes and pair trends (which agree with SDMetrics' Quality Report), TSTR AUC (HistGradientBoosting
trained on synthetic rows, tested on the real 20%), the DCR share (share of synthetic rows nearer to train than to
the holdout; 0.5 ideal), the distance-based membership-inference AUC (0.5 = chance) and exact copies. Fit seconds
are wall-clock time (each entry records the load average it ran under).

dp-aim is told the target (`target="income"`: which column is predicted is public, no budget), so AIM's workload
weighs the income marginals up; the peer's AIM gets the plain all-pairs workload (smartnoise has no such option).

The peer is smartnoise-synth's AIM and MST. It cannot share an environment with OpenDP 0.16 (it pins opendp < 0.15),
so it runs in its own (benchmarks/setup_privacy_peer.sh builds .venv-privacy-peer), as a child process given the
same training rows (`--peer-python` points at another interpreter). Both private pipelines get the same settings:
delta 1e-6, 10 % of epsilon for numeric bounds, AIM limited to 24 rounds and 10 MB models. Perpetuum's pipeline
also discovers every category set privately; smartnoise takes them from the data without charging the budget.

The "default+filters" row samples the default synthesizer through the privacy filters of issue 16 part 3
(`privacy_filters_hook`), as `synthesize` does by default.
Results: one table printed, and benchmarks/results/privacy.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tabular_vs_peers import json_default  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / ".." / "shared" / "datasets" / "adult" / "adult.csv"
DEFAULT_PEER_PYTHON = REPO / ".venv-privacy-peer" / "bin" / "python"
RESULTS = REPO / "benchmarks" / "results" / "privacy.json"
TARGET = "income"
SEED = 0
DELTA = 1e-6
EPSILONS = [0.5, 1.0, 3.0, 10.0]
MODELS = ["default", "default+filters", "dp-aim", "peer-aim", "dp-mst", "peer-mst"]
# dp-aim-plain: dp-aim with the peer's plain all-pairs workload (no target), to set against peer-aim like for like.
OPTIONAL_MODELS = ["dp-aim-plain"]
TARGETS_AT_EPSILON_3 = {"shapes": ">= 0.95", "tstr_auc": ">= 0.85", "versus peer": "no worse than noise"}


def privacy_filters_hook(train: pd.DataFrame, synthetic: pd.DataFrame, synthesizer, seed: int):
    """The default synthesizer's rows after the privacy filters (issue 16 part 3): as many rows as `synthetic`, each
    passing the similarity and outlier filters fitted on `train` (rows dropped are sampled again), as `synthesize`
    does by default; (rows, None)."""
    from perpetuum.privacy.filters import OutlierFilter, SimilarityFilter, sample_filtered

    filters = [SimilarityFilter().fit(train), OutlierFilter().fit(train)]
    rows, _ = sample_filtered(synthesizer, len(synthetic), filters, seed=seed)
    return rows, None


def load_split(path: Path, rows: int | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    data = pd.read_csv(path)
    if rows:
        data, _ = train_test_split(data, train_size=rows, stratify=data[TARGET], random_state=SEED)
    train, test = train_test_split(data, test_size=0.2, stratify=data[TARGET], random_state=SEED)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def score(train: pd.DataFrame, test: pd.DataFrame, synthetic: pd.DataFrame) -> dict:
    from perpetuum.evaluate import column_pair_trends, column_shapes, dcr_share, exact_copies, tstr
    from perpetuum.evaluate.attacks import membership_inference

    synthetic = synthetic[list(train.columns)]
    for column in train.columns:  # the peer returns numbers as floats; compare like with like
        if pd.api.types.is_integer_dtype(train[column]) and not pd.api.types.is_integer_dtype(synthetic[column]):
            synthetic[column] = pd.to_numeric(synthetic[column], errors="coerce").round().astype("Int64")
    utility = tstr(synthetic, test, TARGET, seed=SEED)
    shapes = column_shapes(train, synthetic)
    return {
        "shapes": shapes["score"],
        "shapes_per_column": shapes["per_column"],  # to find the column when a fit's Shapes falls
        "trends": column_pair_trends(train, synthetic)["score"],
        "tstr_auc": utility.get("auc", float("nan")),
        "dcr_share": dcr_share(train, synthetic, test, seed=SEED)["share"],
        "copies": exact_copies(train, synthetic, holdout=test)["copies"],
        "mia_auc": membership_inference(train, synthetic, test, seed=SEED)["auc"],
    }


def run_ours(model: str, epsilon: float | None, train: pd.DataFrame, verbose: bool,
             target_weight: float | None = None):
    from perpetuum.schema import infer_schema
    from perpetuum.tabular import get_synthesizer

    # Adult's column kinds are public (its documentation lists them); categories and bounds are left out of the
    # schema so the private pipeline releases them itself.
    schema = infer_schema(train)
    if model in ("default", "default+filters"):
        synthesizer = get_synthesizer("quality")(seed=SEED)
    elif model == "dp-aim":  # which column is predicted is public: AIM's workload weighs its marginals up
        synthesizer = get_synthesizer(model)(epsilon=epsilon, delta=DELTA, target=TARGET, target_weight=target_weight,
                                             seed=SEED, verbose=verbose)
    else:
        synthesizer = get_synthesizer(model.removesuffix("-plain"))(epsilon=epsilon, delta=DELTA, seed=SEED,
                                                                     verbose=verbose)
    started = time.perf_counter()
    synthesizer.fit(train, schema=schema)
    fit_seconds = time.perf_counter() - started
    synthetic = synthesizer.sample(len(train), seed=SEED)
    extra = {}
    ledger = getattr(synthesizer, "privacy_ledger_", None)
    if ledger is not None:
        extra["epsilon_spent"] = ledger.epsilon_spent
        extra["ledger_by_stage"] = ledger.by_stage()
        extra["measured_marginals"] = [list(clique) for clique in synthesizer.measured_marginals_]
    return synthesizer, synthetic, fit_seconds, extra


def run_peer(mechanism: str, epsilon: float, train: pd.DataFrame, peer_python: Path):
    script = Path(__file__).with_name("privacy_peer_smartnoise.py")
    with tempfile.TemporaryDirectory() as folder:
        train_path, output_path, info_path = (os.path.join(folder, name) for name in
                                              ("train.parquet", "synthetic.parquet", "info.json"))
        train.to_parquet(train_path)
        completed = subprocess.run([str(peer_python), str(script), mechanism, str(epsilon), str(DELTA), train_path,
                                    output_path, info_path], capture_output=True, text=True)
        if completed.returncode != 0:
            raise RuntimeError(completed.stderr.strip().splitlines()[-1] if completed.stderr.strip() else
                               f"exit code {completed.returncode}")
        info = json.loads(Path(info_path).read_text())
        return pd.read_parquet(output_path), info


def print_table(results: list[dict], real_auc: float) -> None:
    header = ["model", "epsilon", "fit s", "Shapes", "Trends", "TSTR AUC", "DCR share", "MIA AUC", "copies"]
    rows = []
    for entry in results:
        epsilon = "-" if entry["epsilon"] is None else f"{entry['epsilon']:g}"
        if "error" in entry or "skipped" in entry:
            rows.append([entry["model"], epsilon, (entry.get("error") or entry.get("skipped"))[:70]] + [""] * 6)
            continue
        rows.append([entry["model"], epsilon, f"{entry['fit_s']:.1f}", f"{entry['shapes']:.3f}",
                     f"{entry['trends']:.3f}", f"{entry['tstr_auc']:.3f}", f"{entry['dcr_share']:.3f}",
                     f"{entry['mia_auc']:.3f}", str(entry["copies"])])
    widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(len(header))]
    for row in [header] + rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)))
    print(f"\nTSTR AUC of the same classifier trained on the real rows: {real_auc:.3f}")
    print("Targets at epsilon 3: Shapes >= 0.95, TSTR AUC >= 0.85, no worse than the peer's same mechanism "
          "by more than noise.")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--epsilons", type=float, nargs="+", default=EPSILONS)
    parser.add_argument("--models", nargs="+", choices=MODELS + OPTIONAL_MODELS, default=MODELS)
    parser.add_argument("--rows", type=int, help="a stratified slice of this many rows instead of all of Adult")
    parser.add_argument("--peer-python", type=Path, default=Path(os.environ.get("PRIVACY_PEER_PYTHON",
                                                                                 DEFAULT_PEER_PYTHON)))
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--verbose", action="store_true", help="show the private fits' progress")
    parser.add_argument("--aim-target-weight", type=float, default=None,
                        help="dp-aim's target_weight (default: the synthesizer's, at which the target's marginals "
                             "together weigh as much as the rest)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")

    from perpetuum.evaluate import tstr

    train, test = load_split(args.data.resolve(), args.rows)
    real_auc = tstr(train, test, TARGET, seed=SEED)["auc"]
    print(f"Adult: {len(train)} train rows, {len(test)} holdout rows; load average {os.getloadavg()[0]:.1f}",
          flush=True)
    plan = [(model, None) for model in args.models if model.startswith("default")]
    plan += [(model, epsilon) for epsilon in args.epsilons for model in args.models
             if not model.startswith("default")]
    results: list[dict] = []
    default_fit = None
    for model, epsilon in plan:
        label = model if epsilon is None else f"{model} at epsilon {epsilon:g}"
        print(f"- {label} ...", flush=True)
        entry = {"model": model, "epsilon": epsilon, "load_average": os.getloadavg()[0]}
        try:
            if model.startswith("peer-"):
                synthetic, info = run_peer(model.removeprefix("peer-"), epsilon, train, args.peer_python)
                entry.update(fit_s=info["fit_s"], library=info["library"], peer_settings=info)
            elif model == "default+filters":
                if default_fit is None:
                    default_fit = run_ours("default", None, train, args.verbose)
                synthesizer, unfiltered, fit_seconds, _ = default_fit
                synthetic, reason = privacy_filters_hook(train, unfiltered, synthesizer, SEED)
                if synthetic is None:
                    entry["skipped"] = reason
                    results.append(entry)
                    print(f"  skipped: {reason}", flush=True)
                    continue
                entry["fit_s"] = fit_seconds
            else:
                synthesizer, synthetic, fit_seconds, extra = run_ours(model, epsilon, train, args.verbose,
                                                                       args.aim_target_weight)
                if model == "default":
                    default_fit = (synthesizer, synthetic, fit_seconds, extra)
                entry.update(fit_s=fit_seconds, library="perpetuum (OpenDP)" if epsilon else "perpetuum", **extra)
            entry.update(score(train, test, synthetic))
            print(f"  fit {entry['fit_s']:.1f} s; shapes {entry['shapes']:.3f}, trends {entry['trends']:.3f}, "
                  f"TSTR AUC {entry['tstr_auc']:.3f}, DCR share {entry['dcr_share']:.3f}", flush=True)
        except Exception as error:  # one failing model should not lose the others' results
            entry["error"] = f"{type(error).__name__}: {error}"
            print(f"  failed: {entry['error']}", flush=True)
        results.append(entry)
        _write(args, train, test, real_auc, results)
    print()
    print_table(results, real_auc)
    print(f"\nwritten: {args.output}")


def _write(args, train, test, real_auc, results) -> None:
    from importlib import metadata

    versions = {}
    for package in ("perpetuum", "opendp", "mbi", "numpy", "pandas", "scikit-learn"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    report = {
        "benchmark": "privacy",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": {"data": str(args.data.resolve()), "rows": args.rows, "n_train": len(train), "n_test": len(test),
                   "split_seed": SEED, "delta": DELTA, "epsilons": args.epsilons,
                   "aim_target_weight": args.aim_target_weight},
        "machine": {"cpu_count": os.cpu_count(), "python": sys.version.split()[0], "packages": versions},
        "train_on_real_tstr_auc": real_auc,
        "targets_at_epsilon_3": TARGETS_AT_EPSILON_3,
        "results": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=json_default) + "\n")


if __name__ == "__main__":
    main()
