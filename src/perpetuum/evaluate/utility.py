"""Utility: is synthetic data good enough to train a model that works on real data?"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import f1_score, r2_score, roc_auc_score
from threadpoolctl import threadpool_limits

from perpetuum.errors import DataInputError, ParameterError
from perpetuum.evaluate.encoding import (
    as_float,
    check_same_columns,
    fillable_for_fit,
    is_numeric,
    joint_codes,
    model_matrices,
)

# A numeric target with more distinct values than this is predicted as a number, not as classes.
MAX_CLASSES_FOR_NUMERIC_TARGET = 20


def tstr(
    train_synthetic: pd.DataFrame,
    test_real: pd.DataFrame,
    target: str,
    *,
    train_real: pd.DataFrame | None = None,
    seed: int = 0,
) -> dict:
    """Train on synthetic, test on real: the score a model learned from synthetic rows gets on real rows.

    A gradient-boosting model (scikit-learn's HistGradientBoosting, native categorical support, default
    hyper-parameters) learns `target` from the other columns of `train_synthetic` and is scored on `test_real`.
    Classification when the target is categorical, boolean, or numeric with at most 20 distinct real values:
    "auc" (ROC AUC; for more than two classes the macro mean of one-vs-rest AUCs; range [0, 1], higher is better,
    0.5 is chance) and "f1" (macro F1, [0, 1], higher is better). Regression otherwise: "r2" (coefficient of
    determination, at most 1, higher is better). Rows with a missing target are dropped.

    With `train_real` (real rows not in the test set), the same model is also trained on real data: "real_auc" /
    "real_f1" / "real_r2", and "<score>_ratio" = synthetic score / real score (1 means no loss of utility).

    Returns {"task": "classification" | "regression", scores..., "n_train", "n_test"}.
    """
    frames = {"train_synthetic": train_synthetic, "test_real": test_real}
    if train_real is not None:
        frames["train_real"] = train_real
    for name, frame in frames.items():
        if not isinstance(frame, pd.DataFrame):
            raise DataInputError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
        if target not in frame.columns:
            raise DataInputError(f"target column {target!r} is not in {name}; its columns are {list(frame.columns)}")
    features = [column for column in test_real.columns if column != target]
    for name, frame in frames.items():
        check_same_columns(test_real, frame, what=name)
    frames = {name: frame[frame[target].notna()] for name, frame in frames.items()}
    _require_two_target_values(frames, target)

    task = _task(test_real[target])
    matrices, categorical, labels = _encoded(frames, features, target, task)
    data = {name: (matrix, label) for name, matrix, label in zip(frames, matrices, labels)}

    test_features, test_labels = data["test_real"]
    result: dict = {"task": task, "n_train": len(frames["train_synthetic"]), "n_test": len(test_labels)}
    for prefix, source in (("", "train_synthetic"), ("real_", "train_real")):
        if source not in data:
            continue
        # One thread: on a shared small machine OpenMP threads that wait on each other are ten times slower.
        with threadpool_limits(limits=1, user_api="openmp"):
            train_features, train_labels = data[source]
            model = _model(task, categorical, seed).fit(fillable_for_fit(train_features), train_labels)
            scores = _scores(task, model, test_features, test_labels)
        for name, value in scores.items():
            result[prefix + name] = value
    if train_real is not None:
        for name in ("auc", "f1", "r2"):
            if name in result:
                result[f"{name}_ratio"] = result[name] / result["real_" + name] if result["real_" + name] else np.nan
    return result


def _task(target: pd.Series) -> str:
    if is_numeric(target) and target.nunique() > MAX_CLASSES_FOR_NUMERIC_TARGET:
        return "regression"
    return "classification"


def _model(task: str, categorical: np.ndarray, seed: int):
    model_class = HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor
    return model_class(categorical_features=categorical, random_state=seed)


def _scores(task: str, model, features: np.ndarray, labels: np.ndarray) -> dict:
    if task == "regression":
        return {"r2": float(r2_score(labels, model.predict(features)))}
    probabilities = model.predict_proba(features)
    classes = list(model.classes_)
    test_classes = np.unique(labels)
    aucs = []
    for label in test_classes:
        # A class the model never saw gets probability 0 for every row (AUC 0.5).
        scores = probabilities[:, classes.index(label)] if label in classes else np.zeros(len(labels))
        aucs.append(roc_auc_score(labels == label, scores))
    auc = aucs[-1] if len(test_classes) == 2 else float(np.mean(aucs))
    f1 = f1_score(labels, model.predict(features), average="macro")
    return {"auc": float(auc), "f1": float(f1)}


def feature_importance_agreement(
    train_synthetic: pd.DataFrame,
    train_real: pd.DataFrame,
    target: str,
    *,
    seed: int = 0,
    max_rows: int = 10_000,
    test_share: float = 0.25,
    n_repeats: int = 3,
) -> dict:
    """Do models trained on synthetic and on real data rely on the same features?

    A random share `test_share` of `train_real` (of at most `max_rows` of its rows: 2,500 by default) is held
    out; the same gradient-boosting model as in `tstr` is trained on the other real rows and on
    `train_synthetic`, each capped at `max_rows` random rows (seeded). Each feature's permutation importance
    (scikit-learn's `permutation_importance`, `n_repeats` shuffles) is measured for both models on the same
    held-out real rows: the drop in ROC AUC (binary targets), accuracy (more classes) or R² (numeric targets)
    when that feature is shuffled. Measured on real rows, a feature the synthetic model relies on but that
    predicts nothing in the real data gets no importance. Rows with a missing target are dropped.

    "score": Spearman rank correlation of the two importance vectors. Range [-1, 1], higher is better (1: the
    features rank the same; 0: unrelated rankings). NaN when either model finds no feature important at all.
    Importance of features that matter to neither model is noise, so a table with few informative features
    scores lower than its utility suggests; "top_features" shows the agreement at the head of the ranking.

    Returns {"score", "task", "scoring", "importance_real": {feature: mean drop}, "importance_synthetic": {...},
    "top_features": {"real": [5 most important], "synthetic": [...]}, "n_train_real", "n_train_synthetic",
    "n_test"}.
    """
    from scipy.stats import spearmanr
    from sklearn.inspection import permutation_importance

    if not 0.0 < test_share < 1.0:
        raise ParameterError(f"test_share must be between 0 and 1 (exclusive), got {test_share}")
    for name, frame in (("train_synthetic", train_synthetic), ("train_real", train_real)):
        if not isinstance(frame, pd.DataFrame):
            raise DataInputError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
        if target not in frame.columns:
            raise DataInputError(f"target column {target!r} is not in {name}; its columns are {list(frame.columns)}")
    check_same_columns(train_real, train_synthetic, what="train_synthetic")
    features = [column for column in train_real.columns if column != target]
    if not features:
        raise DataInputError(f"feature importance needs at least one column besides the target {target!r}")

    rng = np.random.default_rng(seed)
    real = train_real[train_real[target].notna()]
    synthetic = train_synthetic[train_synthetic[target].notna()]
    order = rng.permutation(len(real))
    n_test = max(1, int(round(test_share * min(len(real), max_rows))))
    test, real_fit = real.iloc[order[:n_test]], real.iloc[order[n_test:]]
    real_fit = real_fit.iloc[np.sort(rng.permutation(len(real_fit))[:max_rows])]
    synthetic = synthetic.iloc[np.sort(rng.permutation(len(synthetic))[:max_rows])]
    frames = {"train_synthetic": synthetic, "train_real": real_fit, "held-out real rows": test}
    _require_two_target_values(frames, target)

    task = _task(train_real[target])
    matrices, categorical, labels = _encoded(frames, features, target, task)
    if task == "classification":
        scoring = "roc_auc" if len(np.unique(np.concatenate(labels))) == 2 else "accuracy"
    else:
        scoring = "r2"
    test_features, test_labels = matrices[2], labels[2]

    importances = {}
    # One thread: on a shared small machine OpenMP threads that wait on each other are ten times slower.
    with threadpool_limits(limits=1, user_api="openmp"):
        for name, train_features, train_labels in (
            ("synthetic", matrices[0], labels[0]),
            ("real", matrices[1], labels[1]),
        ):
            model = _model(task, categorical, seed).fit(fillable_for_fit(train_features), train_labels)
            permuted = permutation_importance(
                model, test_features, test_labels, scoring=scoring, n_repeats=n_repeats, random_state=seed
            )
            importances[name] = permuted.importances_mean
    if np.ptp(importances["real"]) == 0 or np.ptp(importances["synthetic"]) == 0:
        score = np.nan
    else:
        score = float(spearmanr(importances["real"], importances["synthetic"]).statistic)

    def ranked(values: np.ndarray) -> list[str]:
        return [features[position] for position in np.argsort(-values, kind="stable")[:5]]

    return {
        "score": score,
        "task": task,
        "scoring": scoring,
        "importance_real": dict(zip(features, map(float, importances["real"]))),
        "importance_synthetic": dict(zip(features, map(float, importances["synthetic"]))),
        "top_features": {"real": ranked(importances["real"]), "synthetic": ranked(importances["synthetic"])},
        "n_train_real": len(real_fit),
        "n_train_synthetic": len(synthetic),
        "n_test": len(test),
    }


def _require_two_target_values(frames: dict[str, pd.DataFrame], target: str) -> None:
    for name, frame in frames.items():
        if frame[target].nunique() < 2:
            raise DataInputError(
                f"target column {target!r} in {name} has fewer than two distinct values; "
                "a model cannot learn or be scored on a constant target"
            )


def _encoded(frames: dict[str, pd.DataFrame], features: list[str], target: str, task: str):
    """Feature matrices (one shared encoding), the categorical mask, and labels for every frame, in order."""
    matrices, categorical = model_matrices(*(frame[features] for frame in frames.values()))
    if task == "classification":
        labels = joint_codes(*(frame[target] for frame in frames.values()))
    else:
        labels = [as_float(frame[target]) for frame in frames.values()]
    return matrices, categorical, labels
