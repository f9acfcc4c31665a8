"""Anonymeter's privacy attacks (Giomi et al. 2023): singling out, linkability and attribute inference, each
scored against a holdout, seeded, and with anonymeter's known baseline problems worked around."""

from __future__ import annotations

import logging
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd

from perpetuum.errors import DataInputError, ParameterError, PerpetuumError
from perpetuum.evaluate.attacks import attack_columns
from perpetuum.evaluate.encoding import as_float, as_labels, is_numeric
from perpetuum.evaluate.utility import MAX_CLASSES_FOR_NUMERIC_TARGET

__all__ = ["anonymeter_risks", "ANONYMETER_MAX_ROWS"]

# Rows of each table the Anonymeter attacks work on, at most (see `anonymeter_risks`).
ANONYMETER_MAX_ROWS = 5000
# Secret columns the inference attack tries when none are named.
DEFAULT_SECRETS = 3
# Candidate queries the multivariate singling-out attack may draw per query asked for. Adult (5000 rows) needs
# about 70; a table with few distinct rows may never yield enough, and anonymeter's own cap (10 million) would run
# for hours. When the cap is reached, fewer queries are tried and a note says so: the risk is then a lower bound.
SINGLING_OUT_ATTEMPTS_PER_QUERY = 100


def anonymeter_risks(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None,
    *,
    n_attacks: int = 500,
    secrets: list[str] | None = None,
    target: str | None = None,
    seed: int = 0,
    max_rows: int = ANONYMETER_MAX_ROWS,
) -> dict:
    """Singling-out, linkability and attribute-inference risks, measured by the `anonymeter` package.

    Anonymeter (Giomi et al. 2023) runs each attack three times: against the training rows using the synthetic
    data ("attack_rate"), against the holdout rows using the synthetic data ("control_rate"), and as a random
    guess ("baseline_rate"). The risk is the attack's success beyond what it achieves on the holdout, as a
    share of what it could still achieve: (attack - control) / (1 - control). Range [0, 1], lower is better
    (0: the synthetic data reveal nothing about the training rows that they do not reveal about anyone);
    each risk comes with its 95 % confidence interval ("ci"). Rates are {"value", "error"} at 95 %.

    - "singling_out_univariate" / "singling_out_multivariate": can a query on one attribute (rare values,
      extremes) / on three attributes, built from the synthetic data, isolate exactly one training row?
    - "linkability": with the columns split into two halves (first half, second half, in column order), can
      the synthetic data link the two halves of a training row (both halves have the same nearest synthetic
      row)? The baseline reported here is the exact chance rate 1 / synthetic rows, since anonymeter draws its
      random baseline unseeded.
    - "inference": {secret: ...} for each secret column: knowing every other column, guess the secret from the
      nearest synthetic row (exact match for categories, within 5 % for numbers with more than 20 values).
      Default secrets: `target` if given, else the last column, plus two more spread evenly over the columns.
      The baseline is drawn here (the secret of a random synthetic row), because anonymeter 1.1 misaligns its
      own random guesses with their targets.

    Cost: every table is de-duplicated (singling out counts distinct rows) and capped at the same number of rows,
    min(rows of each, `max_rows`), drawn at random (seeded); `n_attacks` caps the attacks of each kind (500:
    confidence intervals of about ±0.04 on a rate); the multivariate singling-out attack draws at most 100
    candidate queries per attack (`SINGLING_OUT_ATTEMPTS_PER_QUERY`). Anonymeter's nearest-neighbour search is
    compiled by numba on first use; the compiled code is cached on disk, so only the first run on a machine
    pays for it (5 to 20 s).

    Seeded (its own generator and numpy's global one, restored afterwards), with one gap anonymeter leaves: it
    reads distinct values through polars, whose order is not fixed, so the random-guess baselines of singling
    out, and the univariate singling-out risk where the data offer more one-attribute queries than `n_attacks`,
    vary a little from run to run (within their confidence intervals).

    Returns {"singling_out_univariate", "singling_out_multivariate", "linkability", "inference", "n_rows",
    "n_attacks", "notes" (anonymeter's warnings, such as fewer queries than asked for), "seconds" (per attack)}.
    Raises PerpetuumError when anonymeter is not installed, ParameterError without a holdout.
    """
    tables = _attack_tables(train, synthetic, holdout, n_attacks=n_attacks, target=target, seed=seed,
                            max_rows=max_rows)
    secrets = _secrets(tables.columns, secrets, target)
    evaluators = _import_anonymeter()
    _cache_compiled_search()
    result: dict = {"n_rows": tables.rows, "n_attacks": tables.attacks, "inference": {}, "seconds": {}}
    notes: list[str] = []

    def attack(name: str, run) -> None:
        started = time.perf_counter()
        with _collected_warnings(notes, prefix=name):
            summary = run()
        result["seconds"][name] = round(time.perf_counter() - started, 2)
        if name.startswith("inference:"):
            result["inference"][name.split(":", 1)[1]] = summary
        else:
            result[name] = summary

    with _seeded_global_rng(seed):
        attack("singling_out_univariate", lambda: _singling_out(evaluators, tables, "univariate"))
        attack("singling_out_multivariate", lambda: _singling_out(evaluators, tables, "multivariate"))
        if all(tables.halves):
            attack("linkability", lambda: _linkability(evaluators, tables, notes))
        else:
            result["linkability"] = None
            notes.append("linkability: needs at least two columns; not measured")
        for secret in secrets:
            if len(tables.columns) > 1:
                attack(f"inference:{secret}", lambda secret=secret: _inference(evaluators, tables, secret, notes))
            else:
                notes.append(f"inference: {secret!r} needs at least one other column to guess from; not measured")
    result["notes"] = list(dict.fromkeys(notes))
    return result


@dataclass
class _AttackTables:
    """The three tables as every attack reads them: de-duplicated, sampled to `rows` each, in attack form."""

    train: pd.DataFrame
    synthetic: pd.DataFrame
    holdout: pd.DataFrame
    columns: list[str]
    rows: int
    attacks: int
    seed: int
    rng: np.random.Generator

    @property
    def halves(self) -> tuple[list[str], list[str]]:
        """The columns split in two (first half, second half, in column order), for the linkability attack."""
        middle = len(self.columns) // 2
        return self.columns[:middle], self.columns[middle:]


def _attack_tables(train, synthetic, holdout, *, n_attacks: int, target: str | None, seed: int,
                   max_rows: int) -> _AttackTables:
    columns = attack_columns(train, synthetic, holdout)
    if n_attacks < 1:
        raise ParameterError(f"n_attacks must be at least 1, got {n_attacks}")
    if target is not None and target not in columns:
        raise DataInputError(f"target column {target!r} is not in the data; its columns are {columns}")
    rng = np.random.default_rng(seed)
    tables = [_attack_frame(frame[columns]).drop_duplicates(ignore_index=True) for frame in (train, synthetic, holdout)]
    rows = min(len(table) for table in tables)
    if rows < 2:
        raise DataInputError("the anonymeter attacks need at least two distinct rows in train, synthetic and holdout")
    rows = min(rows, max_rows)
    train_part, synthetic_part, holdout_part = (_sample(table, rows, rng) for table in tables)
    return _AttackTables(train_part, synthetic_part, holdout_part, columns, rows, min(n_attacks, rows), seed, rng)


def _singling_out(evaluators, tables: _AttackTables, mode: str) -> dict:
    evaluator = evaluators.SinglingOutEvaluator(
        ori=tables.train,
        syn=tables.synthetic,
        control=tables.holdout,
        n_attacks=tables.attacks,
        max_attempts=SINGLING_OUT_ATTEMPTS_PER_QUERY * tables.attacks,
        seed=tables.seed,
    )
    return _risk_summary(evaluator.evaluate(mode=mode).results())


def _linkability(evaluators, tables: _AttackTables, notes: list[str]) -> dict:
    halves = tables.halves
    evaluator = evaluators.LinkabilityEvaluator(
        ori=tables.train, syn=tables.synthetic, control=tables.holdout, aux_cols=halves, n_attacks=tables.attacks
    ).evaluate(n_jobs=-1)
    # Anonymeter's random baseline for this attack is drawn unseeded; its warning about it would vary from
    # run to run, so it is dropped here and the same check made against the exact chance rate.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = evaluator.results()
    summary = _risk_summary(results, baseline_rate=1.0 / tables.rows)
    if summary["attack_rate"]["value"] <= summary["baseline_rate"]["value"]:
        notes.append("linkability: the attack does no better than linking at random")
    summary["aux_columns"] = [list(halves[0]), list(halves[1])]
    return summary


def _inference(evaluators, tables: _AttackTables, secret: str, notes: list[str]) -> dict:
    regression = _is_regression(tables.train[secret])
    evaluator = evaluators.InferenceEvaluator(
        ori=tables.train,
        syn=tables.synthetic,
        control=tables.holdout,
        aux_cols=[column for column in tables.columns if column != secret],
        secret=secret,
        regression=regression,
        n_attacks=tables.attacks,
    ).evaluate(n_jobs=-1)
    # Anonymeter 1.1's random-guess baseline for inference keeps the sampled synthetic rows' index and then
    # re-indexes to the targets, so most guesses become missing and the baseline is far too low. Its warning
    # compares against that baseline, so it is dropped, and the baseline is drawn again here, row by row.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = evaluator.results()
    chance = _guessing_rate(tables.train[secret], tables.synthetic[secret], tables.attacks, regression, tables.rng)
    summary = _risk_summary(results, baseline_rate=chance)
    if summary["attack_rate"]["value"] <= summary["baseline_rate"]["value"]:
        notes.append(f"inference:{secret}: the attack does no better than guessing from a random synthetic row")
    return summary


def _import_anonymeter():
    try:
        import anonymeter.evaluators as evaluators
    except ImportError as error:
        raise PerpetuumError(
            f"the Anonymeter privacy attacks need the anonymeter package, a dependency of Perpetuum ({error}); "
            "reinstall Perpetuum, or: pip install anonymeter==1.1.0"
        ) from error
    return evaluators


def _cache_compiled_search() -> None:
    """Keep anonymeter's numba-compiled nearest-neighbour search on disk between processes.

    Anonymeter compiles it on first use in every process (10 to 20 s on a busy 2-core machine, more than all its
    attacks take on Adult) and does not ask numba to cache it. Caching changes nothing in what is computed; numba
    recompiles when anonymeter's source changes. Where the cache cannot be written, it simply compiles as before.
    """
    try:
        from anonymeter.neighbors import mixed_types_kneighbors
    except ImportError:
        return
    for name in ("gower_distance", "_nearest_neighbors"):
        function = getattr(mixed_types_kneighbors, name, None)
        if function is None or getattr(function, "_cache", None) is None or not hasattr(function, "enable_caching"):
            continue
        try:
            if type(function._cache).__name__ == "NullCache":
                function.enable_caching()
        except Exception:  # noqa: BLE001 - a cache is an optimisation; without it the search only compiles again
            pass


def _secrets(columns: list[str], secrets: list[str] | None, target: str | None) -> list[str]:
    if secrets is not None:
        if isinstance(secrets, str):
            secrets = [secrets]
        unknown = [secret for secret in secrets if secret not in columns]
        if unknown:
            raise DataInputError(f"secret column(s) {unknown} are not in the data; its columns are {columns}")
        return list(dict.fromkeys(secrets))
    first = target if target is not None else columns[-1]
    others = [column for column in columns if column != first]
    if len(others) <= DEFAULT_SECRETS - 1:
        return [first, *others]
    # Spread evenly over the remaining columns: deterministic, and not all from one end of the table.
    picks = np.linspace(0, len(others) - 1, DEFAULT_SECRETS - 1).round().astype(int)
    return [first, *(others[position] for position in picks)]


def _attack_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The table as anonymeter reads it: numbers (datetimes too) as float, categories as text, missing as NaN."""
    out = {}
    for column in frame.columns:
        series = frame[column]
        if is_numeric(series):
            out[column] = as_float(series)
        else:
            texts = [np.nan if label is None else str(label) for label in as_labels(series)]
            out[column] = np.array(texts, dtype=object)
    return pd.DataFrame(out, index=frame.index)


def _is_regression(secret: pd.Series) -> bool:
    return is_numeric(secret) and secret.nunique() > MAX_CLASSES_FOR_NUMERIC_TARGET


def _guessing_rate(
    secrets: pd.Series, synthetic: pd.Series, attacks: int, regression: bool, rng: np.random.Generator
) -> dict:
    """Success rate of guessing each target's secret as the secret of a random synthetic row (anonymeter's
    baseline attack, with guesses and targets paired by position), scored by anonymeter's own rule."""
    from anonymeter.evaluators.inference_evaluator import evaluate_inference_guesses
    from anonymeter.stats.confidence import success_rate

    targets = secrets.iloc[rng.choice(len(secrets), attacks, replace=False)].reset_index(drop=True)
    guesses = synthetic.iloc[rng.choice(len(synthetic), attacks, replace=False)].reset_index(drop=True)
    successes = int(evaluate_inference_guesses(guesses=guesses, secrets=targets, regression=regression).sum())
    rate = success_rate(n_total=attacks, n_success=successes, confidence_level=0.95)
    return {"value": float(rate.value), "error": float(rate.error)}


def _risk_summary(results, baseline_rate: dict | float | None = None) -> dict:
    risk = results.risk()
    summary = {
        "risk": float(risk.value),
        "ci": [float(risk.ci[0]), float(risk.ci[1])],
        "attack_rate": _rate(results.attack_rate),
        "control_rate": _rate(results.control_rate),
        "baseline_rate": _rate(results.baseline_rate),
    }
    if isinstance(baseline_rate, dict):
        summary["baseline_rate"] = baseline_rate
    elif baseline_rate is not None:
        summary["baseline_rate"] = {"value": float(baseline_rate), "error": 0.0}
    return summary


def _rate(rate) -> dict:
    return {"value": float(rate.value), "error": float(rate.error)}


def _sample(frame: pd.DataFrame, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    if rows >= len(frame):
        return frame.reset_index(drop=True)
    return frame.iloc[np.sort(rng.choice(len(frame), rows, replace=False))].reset_index(drop=True)


@contextmanager
def _seeded_global_rng(seed: int):
    """Seed numpy's global generator (anonymeter samples targets with it) and restore it afterwards."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


class _NoteHandler(logging.Handler):
    def __init__(self, notes: list[str], prefix: str):
        super().__init__(level=logging.WARNING)
        self.notes, self.prefix = notes, prefix

    def emit(self, record: logging.LogRecord) -> None:
        self.notes.append(f"{self.prefix}: {record.getMessage()}")


@contextmanager
def _collected_warnings(notes: list[str], prefix: str):
    """Anonymeter's warnings (Python warnings and log records) as notes in the result instead of console noise."""
    logger = logging.getLogger("anonymeter")
    handler = _NoteHandler(notes, prefix)
    logger.addHandler(handler)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            logger.removeHandler(handler)
            notes.extend(f"{prefix}: {warning.message}" for warning in caught)
