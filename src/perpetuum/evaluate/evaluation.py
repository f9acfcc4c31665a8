"""Evaluate a synthetic table against the real one it imitates: every metric, one result object.

    from perpetuum.evaluate import evaluate

    result = evaluate(train, synthetic, holdout=holdout, target="income")
    print(result.summary())
    result.to_html("report.html")
    result.to_json("report.json")

`real` is the data the synthesizer was fitted on; `holdout` is real data it never saw. Without a holdout the
privacy section holds no numbers (a privacy score needs unseen real rows to compare against), and the utility test
uses a slice of `real` that the synthesizer did see (so it is optimistic; the report says so).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from perpetuum import __version__
from perpetuum.errors import DataInputError, PerpetuumError
from perpetuum.evaluate.encoding import is_numeric
from perpetuum.evaluate.headlines import NO_HOLDOUT_MESSAGE, NO_TARGET_MESSAGE, headline_scores
from perpetuum.progress import progress_bar

__all__ = ["Evaluation", "evaluate", "NO_HOLDOUT_MESSAGE"]

NO_ATTACKS_MESSAGE = "Attack-based privacy measures were switched off (privacy_attacks=False / --no-privacy-attacks)."

# Rows of the real data kept aside to test models on when no holdout is given.
UTILITY_TEST_SHARE = 0.2
# Attacks per Anonymeter evaluator: about 3 s each on Adult with 2 cores; the confidence intervals widen as this
# shrinks (roughly +-0.04 at 500).
ANONYMETER_ATTACKS = 500
# Schema kinds that no metric looks at: generated fresh by design, so any comparison with the real values is noise.
SKIPPED_KINDS = {"identifier": "identifier: generated fresh by design", "text": "free text: not scored by table metrics"}


# ---------------------------------------------------------------------------------------------- the result


class Evaluation:
    """What `evaluate` returns: the metric results by section, the headline scores, timings and metadata.

    - `results`: {"fidelity", "utility", "privacy", "collapse"}, each {metric name: its result dict}; a section
      that could not be computed has {"available": False, "reason": ...} instead.
    - `headline`: {"fidelity", "utility", "privacy"}, each {"score" (None when not computed), "meaning", "formed",
      "left_out", "components"}; see `headline_scores` for how each is formed.
    - `timings`: wall-clock seconds per metric, plus "total"; `cpu_seconds`: the process's CPU seconds for the
      same steps (all threads; less than wall time when other programs compete for the cores).
    - `metadata`: what the caller passed (synthesizer, parameters, lineage, ...).
    - `data`, `settings`, `schema`, `distributions`, `associations`: what the report shows besides the metrics.
    """

    def __init__(
        self,
        *,
        results: dict,
        headline: dict,
        timings: dict,
        cpu_seconds: dict,
        metadata: dict,
        data: dict,
        settings: dict,
        schema: dict,
        distributions: dict,
        associations: dict,
    ) -> None:
        self.results = results
        self.headline = headline
        self.timings = timings
        self.cpu_seconds = cpu_seconds
        self.metadata = metadata
        self.data = data
        self.settings = settings
        self.schema = schema
        self.distributions = distributions
        self.associations = associations
        self.created = datetime.now(timezone.utc).isoformat(timespec="seconds")

    def to_dict(self) -> dict:
        """Every number as plain JSON types (NaN and infinities as None, column pairs as "a × b")."""
        return jsonable(
            {
                "perpetuum_version": __version__,
                "created": self.created,
                "headline": self.headline,
                "data": self.data,
                "settings": self.settings,
                "metadata": self.metadata,
                "results": self.results,
                "timings_seconds": self.timings,
                "cpu_seconds": self.cpu_seconds,
                "schema": self.schema,
                "distributions": self.distributions,
                "associations": self.associations,
            }
        )

    def to_json(self, path: str | Path | None = None) -> str:
        """The evaluation as JSON text (strict: NaN becomes null); also written to `path` when given."""
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False)
        if path is not None:
            _write(Path(path), text + "\n")
        return text

    def to_html(self, path: str | Path) -> Path:
        """Write the self-contained HTML report (no network needed to open it) to `path`; returns the path."""
        from perpetuum.evaluate.report.html import render_html

        path = Path(path)
        _write(path, render_html(self))
        return path

    def summary(self) -> str:
        """A plain-text table: the headline scores, then each metric's main numbers and timings."""
        from perpetuum.evaluate.report import summary_text

        return summary_text(self)

    def __repr__(self) -> str:
        scores = ", ".join(
            f"{name}={entry['score']:.3f}" if entry["score"] is not None else f"{name}=n/a"
            for name, entry in self.headline.items()
        )
        return f"<Evaluation {scores}>"


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise DataInputError(f"cannot write {str(path)!r}: {error.strerror or error}; choose a writable path") from None


# ---------------------------------------------------------------------------------------------- evaluate


def evaluate(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None = None,
    schema=None,
    target: str | None = None,
    *,
    seed: int = 0,
    metadata: dict | None = None,
    privacy_attacks: bool = True,
    anonymeter_attacks: int = ANONYMETER_ATTACKS,
    progress: bool = True,
) -> Evaluation:
    """Score `synthetic` against `real` (the rows it was trained on): fidelity, utility, privacy, collapse signals.

    - `holdout`: real rows the synthesizer never saw. Needed for privacy (without it that section says it cannot
      be computed) and used as the test set for utility.
    - `schema`: a `TableSchema` of the real data (inferred when None). Identifier and free-text columns are left
      out of every metric: they are generated fresh, so comparing their values says nothing.
    - `target`: a column to predict; utility is measured only when it is given. Without a holdout, models are
      tested on a seeded 20 % slice of `real` (which the synthesizer saw, so the test is optimistic).
    - `metadata`: anything to carry into the report: "synthesizer" (name), "params" (dict), "fit_seconds",
      "sample_seconds", "lineage" ({"source", "sha256", "rows", "seed", ...}).
    - `privacy_attacks`: run the membership-inference attack and Anonymeter's attacks (the slow part).
    - `anonymeter_attacks`: attacks per Anonymeter evaluator; fewer is faster with wider confidence intervals.

    Raises DataInputError (naming the column) for mismatched columns, numeric-vs-text dtypes, an empty table, or
    a target that is missing or constant. A metric that cannot run (for example Anonymeter not installed) is
    recorded with its reason and the rest goes on.
    """
    from perpetuum.evaluate.report.plots import association_data, distribution_data

    started, cpu_total_started = time.perf_counter(), time.process_time()
    _check_tables(real, synthetic, holdout)
    columns, left_out, schema = _evaluated_columns(real, schema)
    _check_target(real, holdout, target, columns)
    real = real[columns].reset_index(drop=True)
    synthetic = synthetic[columns].reset_index(drop=True)
    holdout = holdout[columns].reset_index(drop=True) if holdout is not None else None

    plan = _plan(real, synthetic, holdout, target, seed, privacy_attacks, anonymeter_attacks)
    results: dict = {
        "fidelity": {},
        "utility": {"available": target is not None, "reason": None if target is not None else NO_TARGET_MESSAGE},
        "privacy": {"available": holdout is not None, "reason": None if holdout is not None else NO_HOLDOUT_MESSAGE},
        "collapse": {},
    }
    if target is not None:
        results["utility"]["tested_on"] = "holdout" if holdout is not None else "slice of real"
        results["utility"]["test_rows"] = plan.utility_test_description
    if holdout is not None and not privacy_attacks:
        results["privacy"]["note"] = NO_ATTACKS_MESSAGE
    timings: dict[str, float] = {}
    cpu_seconds: dict[str, float] = {}
    steps = plan.steps + [
        ("report", "distributions", "Distributions for the report", lambda: distribution_data(real, synthetic)),
        ("report", "associations", "Pairwise associations", lambda: association_data(real, synthetic)),
    ]
    report_data: dict = {}
    with progress_bar("Evaluating", total=len(steps), verbose=progress) as bar:
        for section, key, label, run in steps:
            bar.update(f"Evaluating: {label}")
            step_started, cpu_started = time.perf_counter(), time.process_time()
            try:
                outcome = run()
            except PerpetuumError as error:
                outcome = {"error": str(error)}
            timings[key] = time.perf_counter() - step_started
            cpu_seconds[key] = time.process_time() - cpu_started
            (report_data if section == "report" else results[section])[key] = outcome
            bar.advance()
        bar.update("Evaluated")
    timings["total"] = time.perf_counter() - started
    cpu_seconds["total"] = time.process_time() - cpu_total_started

    rows = {"real": len(real), "synthetic": len(synthetic), "holdout": len(holdout) if holdout is not None else None}
    return Evaluation(
        results=results,
        headline=headline_scores(results),
        timings=timings,
        cpu_seconds=cpu_seconds,
        metadata=dict(metadata or {}),
        data={"rows": rows, "columns": columns, "left_out_columns": left_out, "target": target},
        settings={
            "seed": seed,
            "privacy_attacks": privacy_attacks,
            "anonymeter_attacks": anonymeter_attacks if privacy_attacks and holdout is not None else None,
            "utility_test_share": UTILITY_TEST_SHARE if holdout is None and target is not None else None,
        },
        schema=json.loads(schema.model_dump_json()),
        distributions=report_data.get("distributions", {}),
        associations=report_data.get("associations", {}),
    )


class _Plan:
    def __init__(self) -> None:
        self.steps: list[tuple[str, str, str, Callable[[], dict]]] = []
        self.utility_test_description = ""

    def add(self, section: str, key: str, label: str, run: Callable[[], dict]) -> None:
        self.steps.append((section, key, label, run))


def _plan(real, synthetic, holdout, target, seed, privacy_attacks, anonymeter_attacks) -> _Plan:
    """The metric calls, in order, as (section, key, label, call) steps."""
    from perpetuum.evaluate.anonymeter_attacks import anonymeter_risks
    from perpetuum.evaluate.attacks import membership_inference
    from perpetuum.evaluate.collapse_signals import collapse_signals
    from perpetuum.evaluate.coverage import category_coverage, missing_value_similarity, range_adherence
    from perpetuum.evaluate.fidelity import column_pair_trends, column_shapes, detection_score
    from perpetuum.evaluate.precision_recall import alpha_precision_beta_recall
    from perpetuum.evaluate.privacy import dcr_share, exact_copies
    from perpetuum.evaluate.utility import feature_importance_agreement, tstr

    plan = _Plan()
    plan.add("fidelity", "column_shapes", "column shapes", lambda: column_shapes(real, synthetic))
    plan.add("fidelity", "column_pair_trends", "pair trends", lambda: column_pair_trends(real, synthetic))
    plan.add(
        "fidelity", "missing_values", "missing values", lambda: missing_value_similarity(real, synthetic)
    )
    plan.add("fidelity", "category_coverage", "category coverage", lambda: category_coverage(real, synthetic))
    plan.add("fidelity", "range_adherence", "range adherence", lambda: range_adherence(real, synthetic))
    plan.add("fidelity", "detection", "detection", lambda: detection_score(real, synthetic, seed=seed))
    plan.add(
        "fidelity",
        "precision_recall",
        "alpha-precision / beta-recall",
        lambda: alpha_precision_beta_recall(real, synthetic, seed=seed),
    )

    if target is not None:
        if holdout is not None:
            train_real, test_real = real, holdout
            plan.utility_test_description = (
                f"models are tested on the holdout ({len(holdout):,} real rows the synthesizer never saw); the "
                f"real-trained model learns from all {len(real):,} real rows"
            )
        else:
            train_real, test_real = _utility_split(real, target, seed)
            plan.utility_test_description = (
                f"no holdout: models are tested on a seeded {UTILITY_TEST_SHARE:.0%} slice of the real rows "
                f"({len(test_real):,} rows) and the real-trained model learns from the other {len(train_real):,}. "
                "The synthesizer saw the test rows, so the synthetic-trained score is optimistic"
            )
        plan.add(
            "utility",
            "tstr",
            "train synthetic, test real",
            lambda: tstr(synthetic, test_real, target, train_real=train_real, seed=seed),
        )
        plan.add(
            "utility",
            "feature_importance",
            "feature-importance agreement",
            lambda: feature_importance_agreement(synthetic, train_real, target, seed=seed),
        )

    if holdout is not None:
        plan.add("privacy", "exact_copies", "exact copies", lambda: exact_copies(real, synthetic, holdout=holdout))
        plan.add("privacy", "dcr", "distance to closest record", lambda: dcr_share(real, synthetic, holdout, seed=seed))
        if privacy_attacks:
            plan.add(
                "privacy",
                "membership_inference",
                "membership inference",
                lambda: membership_inference(real, synthetic, holdout, seed=seed),
            )
            plan.add(
                "privacy",
                "anonymeter",
                "Anonymeter attacks",
                lambda: anonymeter_risks(
                    real, synthetic, holdout, n_attacks=anonymeter_attacks, target=target, seed=seed
                ),
            )

    plan.add("collapse", "collapse_signals", "collapse signals", lambda: collapse_signals(real, synthetic))
    return plan


def _utility_split(real: pd.DataFrame, target: str, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded split of `real` into model-training rows and test rows, stratified on a categorical target."""
    from sklearn.model_selection import train_test_split

    labels = real[target]
    stratify = None
    if not is_numeric(labels) or labels.nunique() <= 20:
        counts = labels.value_counts(dropna=False)
        if counts.min() >= 2:
            stratify = labels.astype(str)
    train, test = train_test_split(real, test_size=UTILITY_TEST_SHARE, random_state=seed, stratify=stratify)
    return train.reset_index(drop=True), test.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------- input checks


def _role(series: pd.Series) -> str | None:
    """"datetime", "numeric" or "text" (labels); None for a column with no values, which fits any role."""
    if series.isna().all():
        return None
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return "datetime"
    return "numeric" if is_numeric(series) else "text"


def _check_tables(real, synthetic, holdout) -> None:
    tables = {"real": real, "synthetic": synthetic}
    if holdout is not None:
        tables["holdout"] = holdout
    for name, frame in tables.items():
        if not isinstance(frame, pd.DataFrame):
            raise DataInputError(f"the {name} data must be a pandas DataFrame, got {type(frame).__name__}")
        duplicated = sorted({str(column) for column in frame.columns[frame.columns.duplicated()]})
        if duplicated:
            raise DataInputError(f"the {name} table has duplicated column name(s) {duplicated}; rename them")
    if real.shape[1] == 0:
        raise DataInputError("the real table has no columns; nothing to evaluate")
    for name, frame in tables.items():
        if len(frame) == 0:
            raise DataInputError(f"the {name} table is empty (0 rows); evaluation needs rows in every table it gets")
    for name, frame in tables.items():
        if name == "real":
            continue
        missing = [column for column in real.columns if column not in frame.columns]
        extra = [column for column in frame.columns if column not in real.columns]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"lacks column(s) {missing} of the real table")
            if extra:
                parts.append(f"has column(s) {extra} that the real table lacks")
            raise DataInputError(f"the {name} table " + " and ".join(parts) + "; pass tables with the same columns")
        for column in real.columns:
            real_role, other_role = _role(real[column]), _role(frame[column])
            if real_role and other_role and real_role != other_role:
                raise DataInputError(
                    f"column {column!r} is {real_role} in the real table (dtype {real[column].dtype}) but "
                    f"{other_role} in the {name} table (dtype {frame[column].dtype}); convert it so both tables "
                    "store it the same way (for example with pandas.to_numeric or pandas.to_datetime)"
                )


def _evaluated_columns(real: pd.DataFrame, schema) -> tuple[list[str], dict[str, str], object]:
    """The columns the metrics look at, the ones left out (with why), and the schema used."""
    from perpetuum.schema import TableSchema, infer_schema

    if schema is None:
        schema = infer_schema(real)
    elif not isinstance(schema, TableSchema):
        raise DataInputError(f"schema must be a perpetuum TableSchema, got {type(schema).__name__}")
    schema.check_matches(list(real.columns))
    left_out = {
        column.name: SKIPPED_KINDS[column.kind.value] for column in schema.columns if column.kind.value in SKIPPED_KINDS
    }
    left_out.update({column.name: f"personal identifier ({column.pii.kind.label}): replaced by fakes, never learned"
                     for column in schema.columns if column.pii is not None})
    columns = [column for column in real.columns if column not in left_out]
    if not columns:
        raise DataInputError(
            f"every column is an identifier or free text ({list(left_out)}), which table metrics do not score; "
            "correct the schema's kinds if some of them are categories or numbers"
        )
    return columns, left_out, schema


def _check_target(real, holdout, target, columns) -> None:
    if target is None:
        return
    if target not in real.columns:
        raise DataInputError(f"target column {target!r} is not in the real table; its columns are {list(real.columns)}")
    if target not in columns:
        raise DataInputError(
            f"target column {target!r} is an identifier or free-text column, which cannot be a prediction target"
        )
    for name, frame in (("real", real), ("holdout", holdout)):
        if frame is None:
            continue
        values = frame[target].dropna()
        if values.nunique() < 2:
            shown = repr(values.iloc[0]) if len(values) else "only missing values"
            raise DataInputError(
                f"target column {target!r} is constant in the {name} table ({shown}); a model cannot learn or be "
                "scored on it. Pick another target or leave it out"
            )


# ---------------------------------------------------------------------------------------------- JSON


def _key(key) -> str:
    """A JSON object key; a pair of columns (a tuple) becomes "first × second"."""
    return " × ".join(map(str, key)) if isinstance(key, tuple) else str(key)


def jsonable(value):
    """Plain JSON types: numpy scalars and arrays, NaN (None), tuples, DataFrames and Series included."""
    if isinstance(value, dict):
        return {_key(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(item) for item in value]
    if isinstance(value, pd.DataFrame):
        return jsonable(value.to_dict(orient="records"))
    if isinstance(value, pd.Series):
        return jsonable(value.to_dict())
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(float(value)) else None
    if value is None or isinstance(value, str):
        return value
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, (pd.Timestamp, datetime)):
        return value.isoformat()
    return str(value)
