"""How many synthetic rare-class rows help *this* classifier? `choose_ratio` answers by inner cross-validation on the
training rows alone: for each inner fold it learns the rare classes from the fold's training part, adds synthetic
rows at each candidate ratio (0 = none), trains a copy of the classifier and scores it on the fold's real held-out
part. The ratio with the best mean score wins; a tie goes to the smaller ratio, so "add nothing" wins unless rows
help.

Why: on real imbalanced tables (benchmarks/rare_events.py, README "Rare events") no single ratio is right. Topping
a class up to 1:1 helps gradient boosting on most tables, a linear model does better at 1:4, and on some tables
(flare-F) any extra rare-class weight costs precision. The classifier and the table decide, so they are asked.

    from perpetuum.tabular import Rebalancer, choose_ratio
    choice = choose_ratio(train, "Class", XGBClassifier())       # RatioChoice(ratio=0.25, scores={...})
    X, y = Rebalancer(ratio="auto", estimator=XGBClassifier()).fit_resample(X_train, y_train)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from perpetuum.errors import DataInputError, ParameterError
from perpetuum.tabular.oversample import MIN_CLASS_ROWS, oversample, parse_ratio, planned_counts

DEFAULT_CANDIDATES = (0.0, "1:4", "1:1")

__all__ = ["DEFAULT_CANDIDATES", "RatioChoice", "choose_ratio", "is_auto", "ratio_text"]


def is_auto(ratio) -> bool:
    """Whether `ratio` asks for the ratio to be chosen ("auto", any case) rather than given."""
    return isinstance(ratio, str) and ratio.strip().lower() == "auto"


def ratio_text(share: float) -> str:
    """0.25 -> "1:4", 1.0 -> "1:1", 0.0 -> "none" (no synthetic rows), 0.3 -> "0.3"."""
    if share == 0:
        return "none"
    common = 1.0 / share
    return f"1:{round(common)}" if abs(common - round(common)) < 1e-9 else f"{share:g}"


@dataclass(frozen=True)
class RatioChoice:
    """The chosen ratio (0.0: add no rows) and every candidate's mean inner-CV score."""

    ratio: float
    scores: dict[float, float]
    fold_scores: dict[float, list[float]] = field(repr=False)
    scoring: str
    folds: int


def candidate_ratios(candidates) -> list[float]:
    """Candidates as sorted unique shares; 0 (or "0", "none") means no synthetic rows."""
    shares = set()
    for candidate in candidates:
        if candidate in (0, 0.0, "0", "none", None):
            shares.add(0.0)
        else:
            shares.add(parse_ratio(candidate))
    if len(shares) < 2:
        raise ParameterError(
            f"ratio candidates {list(candidates)!r}: give at least two different ratios to choose from"
        )
    return sorted(shares)


def choose_ratio(
    frame: pd.DataFrame,
    target: str,
    estimator,
    candidates=DEFAULT_CANDIDATES,
    *,
    cv: int = 3,
    scoring: str | None = None,
    seed: int = 0,
    **oversample_options,
) -> RatioChoice:
    """The candidate ratio whose synthetic rows make `estimator` score best on real held-out rows of `frame`.

    estimator: an unfitted scikit-learn classifier (cloned for every fit) that takes the feature columns of `frame`
    as a DataFrame (use a Pipeline to encode them). scoring: None scores the average precision of the rarest class
    (PR-AUC: what matters when positives are rare); any scikit-learn scorer name is accepted too. cv: inner
    stratified folds. oversample_options: passed to `oversample` (model, fit_on, clean, params, schema).
    """
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    if not isinstance(frame, pd.DataFrame):
        raise DataInputError(f"choose_ratio expects a pandas DataFrame, got {type(frame).__name__}")
    if target not in frame.columns:
        raise DataInputError(f"the target column {target!r} is not in the table; its columns are {list(frame.columns)}")
    if not (isinstance(cv, int) and cv >= 2):
        raise ParameterError(f"cv must be an integer of at least 2 folds, got {cv!r}")
    if not hasattr(estimator, "fit"):
        raise ParameterError(f"estimator must be a scikit-learn classifier with fit/predict_proba, got {estimator!r}")
    shares = candidate_ratios(candidates)
    frame = frame[frame[target].notna()].reset_index(drop=True)
    plan = planned_counts(frame[target], shares[-1])
    rarest = plan[-1].value
    short = [count for count in plan if count.synthetic > 0 and count.real * (cv - 1) // cv < MIN_CLASS_ROWS]
    if short:
        described = "; ".join(f"class {count.value!r} has {count.real} row(s)" for count in short)
        raise DataInputError(
            f"too few rows to choose a ratio by {cv}-fold cross-validation: {described} of {target!r}, so an inner "
            f"training part would hold fewer than {MIN_CLASS_ROWS}. Use cv=2, or a fixed ratio such as '1:1'."
        )
    score = _scorer(scoring, rarest)
    features = [column for column in frame.columns if column != target]
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    per_ratio: dict[float, list[float]] = {share: [] for share in shares}
    for fold, (train_index, test_index) in enumerate(folds.split(frame, frame[target])):
        train, test = frame.iloc[train_index].reset_index(drop=True), frame.iloc[test_index]
        _, synthetic, _ = oversample(train, target, shares[-1], seed=seed + fold, **oversample_options)
        by_class = {value: rows for value, rows in synthetic.groupby(target, sort=False)}
        for share in shares:
            added = [by_class[count.value].iloc[: count.synthetic]
                     for count in (planned_counts(train[target], share) if share > 0 else [])
                     if count.synthetic > 0 and count.value in by_class]
            rows = pd.concat([train, *added], ignore_index=True) if added else train
            model = clone(estimator).fit(rows[features], rows[target].to_numpy())
            per_ratio[share].append(score(model, test[features], test[target].to_numpy()))
    means = {share: float(np.mean(values)) for share, values in per_ratio.items()}
    best = shares[0]
    for share in shares[1:]:  # ascending: a larger ratio must score strictly better to be chosen
        if means[share] > means[best]:
            best = share
    return RatioChoice(ratio=best, scores=means, fold_scores=per_ratio,
                       scoring=scoring or f"average precision of class {rarest!r}", folds=cv)


def _scorer(scoring: str | None, rarest):
    if scoring is not None:
        from sklearn.metrics import get_scorer

        try:
            return get_scorer(scoring)
        except ValueError as error:
            raise ParameterError(f"unknown scoring {scoring!r}: {error}") from None

    def rare_class_average_precision(model, features, labels) -> float:
        from sklearn.metrics import average_precision_score

        positive = np.asarray(labels) == rarest
        if not positive.any():
            return 0.0
        column = list(model.classes_).index(rarest)
        return float(average_precision_score(positive, model.predict_proba(features)[:, column]))

    return rare_class_average_precision
