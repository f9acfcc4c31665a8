"""Rare classes topped up inside a scikit-learn / imbalanced-learn workflow:

    from perpetuum.tabular import Rebalancer
    X_resampled, y_resampled = Rebalancer(ratio="1:1").fit_resample(X, y)            # where SMOTE would go
    X_resampled, y_resampled = Rebalancer(ratio="auto", estimator=clf).fit_resample(X, y)  # clf decides how many

How the rows are made: `perpetuum.tabular.oversample`; how "auto" chooses: `perpetuum.tabular.ratio_search`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from perpetuum.errors import DataInputError, ParameterError
from perpetuum.tabular.oversample import oversample, unchanged_counts
from perpetuum.tabular.ratio_search import DEFAULT_CANDIDATES, choose_ratio, is_auto

__all__ = ["Rebalancer"]


class Rebalancer:
    """`fit_resample(X, y)` as imbalanced-learn's samplers have it: (X with synthetic rare-class rows appended,
    y likewise), so it drops into an `imblearn.pipeline.Pipeline` where SMOTE would go. Parameters as `oversample`.
    X: a DataFrame (its columns and dtypes are kept) or a 2-D array (returned as an array).

    ratio="auto" asks `estimator` (an unfitted classifier that takes X) which of `candidates` (0 = no rows) helps it
    most, by `cv`-fold cross-validation on X alone (`perpetuum.tabular.ratio_search`); the answer is kept in
    `ratio_choice_`, and X comes back unchanged when adding no rows scored best."""

    def __init__(self, ratio="1:1", model: str = "quality", fit_on: str = "class", clean: bool = True,
                 params: dict | None = None, seed: int = 0, verbose: bool = False, *, estimator=None,
                 candidates=None, cv: int = 3, scoring: str | None = None):
        self.ratio = ratio
        self.model = model
        self.fit_on = fit_on
        self.clean = clean
        self.params = params
        self.seed = seed
        self.verbose = verbose
        self.estimator = estimator
        self.candidates = candidates
        self.cv = cv
        self.scoring = scoring

    def get_params(self, deep: bool = True) -> dict:
        return {"ratio": self.ratio, "model": self.model, "fit_on": self.fit_on, "clean": self.clean,
                "params": self.params, "seed": self.seed, "verbose": self.verbose, "estimator": self.estimator,
                "candidates": self.candidates, "cv": self.cv, "scoring": self.scoring}

    def set_params(self, **params) -> "Rebalancer":
        for name, value in params.items():
            if name not in self.get_params():
                raise ParameterError(f"Rebalancer has no parameter {name!r}; it has {', '.join(self.get_params())}")
            setattr(self, name, value)
        return self

    def fit(self, X, y) -> "Rebalancer":
        return self

    def fit_resample(self, X, y):
        as_array = not isinstance(X, pd.DataFrame)
        features = pd.DataFrame(np.asarray(X)) if as_array else X.reset_index(drop=True)
        if as_array:
            features.columns = [f"x{index}" for index in range(features.shape[1])]
        labels = pd.Series(np.asarray(y), name="__target__")
        if len(labels) != len(features):
            raise DataInputError(f"X has {len(features)} rows but y has {len(labels)}")
        name = labels.name
        while name in features.columns:
            name = f"_{name}"
        table = features.assign(**{name: labels.to_numpy()})
        options = {"model": self.model, "fit_on": self.fit_on, "clean": self.clean, "params": self.params}
        ratio = self.ratio
        if is_auto(ratio):
            ratio = self._choose(table, name, options)
            if ratio == 0.0:
                self.counts_ = unchanged_counts(labels)
                return (np.asarray(X) if as_array else X), np.asarray(y)
        combined, _, self.counts_ = oversample(table, name, ratio, **options, seed=self.seed, verbose=self.verbose)
        new_y = combined.pop(name).to_numpy()
        if as_array:
            return combined.to_numpy(), new_y.astype(np.asarray(y).dtype, copy=False)
        return combined, new_y

    def _choose(self, table: pd.DataFrame, target: str, options: dict) -> float:
        if self.estimator is None:
            raise ParameterError(
                'ratio="auto" needs the classifier the rows are for: Rebalancer(ratio="auto", estimator=...) with an '
                "unfitted scikit-learn classifier that takes X; or give a fixed ratio such as '1:1'"
            )
        self.ratio_choice_ = choose_ratio(table, target, self.estimator, self.candidates or DEFAULT_CANDIDATES,
                                          cv=self.cv, scoring=self.scoring, seed=self.seed, **options)
        return self.ratio_choice_.ratio
