"""A stand-in classifier for choosing how many rare-class rows to add when the caller has not given their own
(`perpetuum rebalance --ratio auto`): a scikit-learn pipeline that takes a table's feature columns as they are.

- "gradient-boosting": scikit-learn's HistGradientBoostingClassifier, categories as native categorical splits,
  missing values as they are. Stands in for XGBoost, LightGBM and other tree ensembles.
- "logistic": a standardised logistic regression on one-hot categories and median-imputed numbers. Stands in for
  linear models, which measured differently (they want fewer rows: README "Rare events").

Identifier and free-text columns (`perpetuum.schema` kinds) say nothing a classifier could learn, and are left out;
so are category columns with more levels than a histogram has bins. Datetimes become seconds since 1970.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from perpetuum.errors import DataInputError, ParameterError

PROBES = ("gradient-boosting", "logistic")
_MAX_CATEGORY_LEVELS = 250  # HistGradientBoosting's categorical splits take at most 255 bins

__all__ = ["PROBES", "probe_classifier"]


def probe_classifier(kind: str, features: pd.DataFrame, seed: int = 0):
    """An unfitted pipeline that trains on DataFrames with `features`' columns (see the module docstring)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

    if kind not in PROBES:
        raise ParameterError(f"--probe must be one of {', '.join(PROBES)}, got {kind!r}")
    categories, numbers, datetimes = _column_roles(features)
    if not (categories or numbers or datetimes):
        raise DataInputError(
            "no column a classifier could learn from: every feature column is an identifier or free text; "
            "choose a fixed --ratio instead of auto"
        )
    seconds = FunctionTransformer(_datetime_seconds, feature_names_out="one-to-one")
    if kind == "gradient-boosting":
        ordinal = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                 encoded_missing_value=np.nan)
        columns = ColumnTransformer([("categories", make_pipeline(FunctionTransformer(_as_text), ordinal), categories),
                                     ("numbers", "passthrough", numbers), ("datetimes", seconds, datetimes)])
        mask = [True] * len(categories) + [False] * (len(numbers) + len(datetimes))
        model = HistGradientBoostingClassifier(categorical_features=mask if categories else None, random_state=seed)
        return make_pipeline(columns, model)
    one_hot = make_pipeline(FunctionTransformer(_as_text), OneHotEncoder(handle_unknown="ignore"))
    numeric = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler())
    columns = ColumnTransformer([("categories", one_hot, categories), ("numbers", numeric, numbers),
                                 ("datetimes", make_pipeline(seconds, numeric), datetimes)])
    return make_pipeline(columns, LogisticRegression(max_iter=2000))


def _column_roles(features: pd.DataFrame) -> tuple[list, list, list]:
    from perpetuum.schema import infer_schema

    schema = infer_schema(features)
    kinds = {column.name: column.kind for column in schema.columns}
    categories, numbers, datetimes = [], [], []
    for name in features.columns:
        kind, series = kinds.get(name), features[name]
        if kind in ("identifier", "text"):
            continue
        if pd.api.types.is_datetime64_any_dtype(series):
            datetimes.append(name)
        elif pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            numbers.append(name)
        elif series.nunique(dropna=True) <= _MAX_CATEGORY_LEVELS:
            categories.append(name)
    return categories, numbers, datetimes


def _as_text(frame):
    """Categories as strings, missing ones as NaN, so mixed-type columns encode cleanly."""
    frame = pd.DataFrame(frame)
    return frame.astype(str).where(frame.notna(), np.nan)


def _datetime_seconds(frame):
    frame = pd.DataFrame(frame)
    return np.column_stack([
        pd.to_datetime(frame[column], errors="coerce").astype("int64").where(frame[column].notna()).to_numpy(float)
        / 1e9 for column in frame.columns]) if len(frame.columns) else np.empty((len(frame), 0))
