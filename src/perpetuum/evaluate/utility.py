"""Utility: is synthetic data good enough to train a model that works on real data?"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import f1_score, r2_score, roc_auc_score
from threadpoolctl import threadpool_limits

from perpetuum.errors import DataInputError
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
    for name, frame in frames.items():
        if frame[target].nunique() < 2:
            raise DataInputError(
                f"target column {target!r} in {name} has fewer than two distinct values; "
                "a model cannot learn or be scored on a constant target"
            )

    task = _task(test_real[target])
    matrices, categorical = model_matrices(*(frame[features] for frame in frames.values()))
    if task == "classification":
        labels = joint_codes(*(frame[target] for frame in frames.values()))
    else:
        labels = [as_float(frame[target]) for frame in frames.values()]
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
