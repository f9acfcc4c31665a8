"""The steps of the table workflow, each usable alone: hold rows out, fit, sample, evaluate, write the card."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from perpetuum.errors import DataInputError, ParameterError
from perpetuum.progress import progress_bar

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["check_row_count", "split_holdout", "fit_synthesizer", "sample_rows", "sample_private_rows",
           "evaluate_synthetic", "write_table_card_beside"]


def check_row_count(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ParameterError(
            f"-n/--rows must be a positive number of rows to generate; got {n}. Example: -n 50000."
        )


def split_holdout(frame: pd.DataFrame, share: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """A seeded random split into (rows to fit on, holdout rows); `share` 0 keeps every row for fitting."""
    import numpy as np

    if not 0.0 <= share < 1.0:
        raise ParameterError(
            f"--holdout-share must be at least 0 and below 1 (the share of rows kept out of training for the "
            f"report's privacy and utility tests); got {share}. Example: --holdout-share 0.2."
        )
    held = int(round(share * len(frame)))
    if share == 0.0 or held == 0:
        return frame, None
    if len(frame) - held < 2:
        raise ParameterError(
            f"--holdout-share {share} leaves {len(frame) - held} row(s) to fit on; use a smaller share or --no-report"
        )
    order = np.random.default_rng(seed).permutation(len(frame))
    holdout = frame.iloc[np.sort(order[:held])].reset_index(drop=True)
    return frame.iloc[np.sort(order[held:])].reset_index(drop=True), holdout


def fit_synthesizer(frame: pd.DataFrame, model: str, schema=None, seed: int = 0, verbose: bool = False,
                    params: dict | None = None):
    """(the fitted synthesizer registered as `model`, seconds taken). `schema`: a TableSchema or the path of one.
    `params`: further constructor parameters (the private synthesizers' `epsilon` and `delta`)."""
    from perpetuum.schema import TableSchema
    from perpetuum.tabular import get_synthesizer

    synthesizer_class = get_synthesizer(model)
    if isinstance(schema, (str, Path)):
        schema = TableSchema.from_json(schema)
    try:
        synthesizer = synthesizer_class(seed=seed, verbose=verbose, **(params or {}))
    except TypeError as error:
        raise ParameterError(f"the {model!r} synthesizer does not take these parameters: {error}") from None
    started = time.perf_counter()
    with progress_bar(f"Fitting {model} on {len(frame):,} rows", verbose=verbose):
        synthesizer.fit(frame, schema=schema)
    return synthesizer, time.perf_counter() - started


def sample_rows(synthesizer, n: int, conditions: dict | None = None, seed: int = 0, verbose: bool = False):
    """(`n` rows sampled under `conditions`, seconds taken)."""
    started = time.perf_counter()
    with progress_bar(f"Sampling {n:,} rows", verbose=verbose):
        frame = synthesizer.sample(n, conditions=conditions, seed=seed)
    return frame, time.perf_counter() - started


def sample_private_rows(synthesizer, train: pd.DataFrame, n: int, conditions: dict | None = None, seed: int = 0,
                        verbose: bool = False):
    """(`n` rows that pass the privacy filters, their summary, seconds taken): a `SimilarityFilter` and an
    `OutlierFilter` fitted on `train` over the columns the report compares (identifiers, free text and personal
    identifiers are fresh by construction), rows dropped and sampled again (`perpetuum.privacy.filters`).

    On a table so small or coarse that nearly every possible row is a real one, the filters cannot keep enough rows:
    the rows are then sampled unfiltered, with a UserWarning that says so, and the summary is None."""
    import warnings

    from perpetuum.privacy.filters import OutlierFilter, SimilarityFilter, sample_filtered

    started = time.perf_counter()
    columns = compared_columns(synthesizer, train)
    with progress_bar(f"Sampling {n:,} rows through the privacy filters", verbose=verbose):
        try:
            filters = [SimilarityFilter(columns=columns).fit(train), OutlierFilter(columns=columns).fit(train)]
            frame, summary = sample_filtered(synthesizer, n, filters, conditions=conditions, seed=seed)
        except (ParameterError, DataInputError) as error:
            warnings.warn(f"privacy filters not applied: {error}", UserWarning, stacklevel=2)
            frame, summary = synthesizer.sample(n, conditions=conditions, seed=seed), None
    return frame, summary, time.perf_counter() - started


def compared_columns(synthesizer, train: pd.DataFrame) -> list[str]:
    """The columns privacy metrics and filters compare: not identifiers, free text or personal identifiers."""
    schema = getattr(synthesizer, "schema_", None)
    if schema is None:
        return list(train.columns)
    return [spec.name for spec in schema.columns
            if spec.pii is None and spec.kind.value not in ("identifier", "text")]


def filter_effect(train: pd.DataFrame, holdout: pd.DataFrame, before: pd.DataFrame, after: pd.DataFrame,
                  columns: list[str], seed: int = 0) -> dict:
    """DCR share, membership-inference AUC and exact copies of the unfiltered and the filtered rows."""
    from perpetuum.evaluate.attacks import membership_inference
    from perpetuum.evaluate.privacy import dcr_share, exact_copies

    def measure(rows: pd.DataFrame) -> dict:
        return {"dcr_share": dcr_share(train[columns], rows[columns], holdout[columns], seed=seed)["share"],
                "membership_inference_auc": membership_inference(train[columns], rows[columns], holdout[columns],
                                                                 seed=seed)["auc"],
                "exact_copies": exact_copies(train[columns], rows[columns])["copies"]}

    return {"before": measure(before), "after": measure(after)}


def evaluate_synthetic(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None,
    synthesizer,
    *,
    model: str,
    fit_seconds: float,
    sample_seconds: float,
    lineage: dict,
    target: str | None = None,
    seed: int = 0,
    privacy_attacks: bool = True,
    anonymeter_attacks: int | None = None,
    progress: bool = True,
    privacy_metadata: dict | None = None,
):
    """`perpetuum.evaluate.evaluate` of rows a synthesizer made, with the synthesizer, its parameters, its timings
    and `lineage` recorded in the report's metadata, and `privacy_metadata` ({"pii": ..., "privacy_filters": ...})
    for the report's privacy section."""
    from perpetuum.evaluate import evaluate

    options = {} if anonymeter_attacks is None else {"anonymeter_attacks": anonymeter_attacks}
    return evaluate(
        train,
        synthetic,
        holdout=holdout,
        schema=getattr(synthesizer, "schema_", None),
        target=target,
        seed=seed,
        metadata={
            "synthesizer": f"{model} ({type(synthesizer).__name__})",
            "params": synthesizer.get_params(),
            "fit_seconds": fit_seconds,
            "sample_seconds": sample_seconds,
            "lineage": lineage,
            **(privacy_metadata or {}),
            **({"differential_privacy": synthesizer.privacy_ledger_.to_dict()}
               if getattr(synthesizer, "privacy_ledger_", None) is not None else {}),
        },
        privacy_attacks=privacy_attacks,
        progress=progress,
        **options,
    )


def write_table_card_beside(real, synthetic, output, synthesizer, *, seed, generation, source, conditions,
                            extra: dict | None = None):
    """The dataset card of a table output, written beside it (`perpetuum.card`); returns (card, paths). `extra`:
    more top-level fields of the card (`table_card`)."""
    from perpetuum.card import table_card, write_table_card
    from perpetuum.workflow.files import output_stem

    ledger = getattr(synthesizer, "privacy_ledger_", None)
    card = table_card(
        real, synthetic, synthesizer=getattr(synthesizer, "name", type(synthesizer).__name__),
        params=synthesizer.get_params(), seed=seed, generation=generation, source=source,
        name=output_stem(output), conditions=conditions,
        extra={**(extra or {}), **({"differential_privacy": ledger.to_dict()} if ledger is not None else {})} or None,
    )
    return card, write_table_card(card, output)
