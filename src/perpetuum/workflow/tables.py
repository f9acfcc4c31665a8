"""The table workflows behind `perpetuum synthesize` and `perpetuum sample`, as library calls.

    from perpetuum.workflow import synthesize, sample_saved_model
    result = synthesize("adult.csv", 50_000, "synthetic.csv", target="income")
    result.files   # {"output", "card_json", "card_markdown", "report_html", "report_json"}
    result = sample_saved_model("models/adult", 1_000, "rich.csv", conditions={"income": ">50K"})
    evaluation = evaluate_files("train.csv", "synthetic.csv", "holdout.csv", target="income")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perpetuum.errors import ParameterError
from perpetuum.progress import progress_bar
from perpetuum.workflow.files import output_format, report_paths, write_table
from perpetuum.workflow.steps import (
    check_row_count,
    compared_columns,
    evaluate_synthetic,
    filter_effect,
    fit_synthesizer,
    sample_private_rows,
    sample_rows,
    split_holdout,
    write_table_card_beside,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TableRun", "evaluate_files", "read_source", "sample_saved_model", "synthesize"]


@dataclass
class TableRun:
    """What a table workflow made. `train`: the rows the model learned from (None for a saved model without a
    reference); `evaluation`: the report's `Evaluation`, None when no report was written (`no_report_reason`)."""

    synthetic: pd.DataFrame = field(repr=False)
    synthesizer: Any = field(repr=False)
    card: dict = field(repr=False)
    files: dict[str, str]
    sample_seconds: float
    fit_seconds: float | None = None
    train: pd.DataFrame | None = field(default=None, repr=False)
    holdout: pd.DataFrame | None = field(default=None, repr=False)
    evaluation: Any = field(default=None, repr=False)
    no_report_reason: str | None = None
    privacy_filters: dict | None = field(default=None, repr=False)


def _without_sample(summary: dict | None) -> dict | None:
    """The filter summary without the unfiltered rows it carries (those are only for measuring)."""
    return None if summary is None else {key: value for key, value in summary.items() if key != "first_sample"}


def read_source(data, table: str | None = None, query: str | None = None, encoding: str = "utf-8",
                verbose: bool = False) -> tuple[pd.DataFrame, dict]:
    """(the table, its lineage) for a file path or SQL URL (`perpetuum.schema.read_table`) or a DataFrame."""
    from perpetuum.card import source_lineage
    from perpetuum.schema import read_table

    if not isinstance(data, (str, Path)):
        return data, {"source": "in memory", "rows_read": len(data), "columns": data.shape[1]}
    data = str(data)
    with progress_bar(f"Reading {data}", verbose=verbose):
        frame = read_table(data, table=table, query=query, encoding=encoding)
    return frame, source_lineage(data, frame, table, query)


def synthesize(
    data,
    n: int,
    output: str | Path,
    *,
    model: str = "quality",
    conditions: dict | None = None,
    seed: int = 0,
    schema=None,
    holdout_share: float = 0.2,
    report: bool = True,
    target: str | None = None,
    privacy_attacks: bool = True,
    privacy_filters: bool = True,
    table: str | None = None,
    query: str | None = None,
    encoding: str = "utf-8",
    generation: int | None = None,
    params: dict | None = None,
    verbose: bool = False,
) -> TableRun:
    """Fit a synthesizer on a table and write `n` synthetic rows to `output`, with a dataset card and a report.

    data: a file path or SQL URL (with `table` or `query`), or a DataFrame. A seeded `holdout_share` of the rows is
    held out, the model is fitted on the rest, and the evaluation report (`target` adds utility) is written beside
    the output (OUTPUT_STEM.report.html / .json). With `conditions` (rows are then not comparable with the whole
    table) or `report=False`, no report is written and every row is used for fitting. The card
    (OUTPUT_STEM.card.json / .md) is always written: lineage and collapse signals against the fitted rows.
    `privacy_filters`: drop rows too close to a training row or singling out an outlier, and sample again
    (`perpetuum.privacy.filters`); the report then shows the rows removed and the privacy figures before and after.
    Personal-identifier columns (the schema's `pii`) are replaced by fakes in any case; the report lists them.
    `params`: further synthesizer parameters, e.g. {"epsilon": 1.0, "delta": 1e-6} for dp-aim and dp-mst (their
    privacy ledger then goes on the card and into the report); dp-aim also gets `target`, unless `params` names one.
    """
    check_row_count(n)
    output = Path(output)
    output_format(output)
    frame, source = read_source(data, table, query, encoding, verbose=verbose)
    with_report = report and not conditions
    if with_report:
        if target is not None and target not in frame.columns:
            raise ParameterError(
                f"--target {target!r} is not a column of {data if isinstance(data, (str, Path)) else 'the table'}; "
                f"its columns are {list(frame.columns)}"
            )
        train, holdout = split_holdout(frame, holdout_share, seed)
    else:
        train, holdout = frame, None
    if model == "dp-aim" and target is not None and "target" not in (params or {}):
        params = {**(params or {}), "target": target}  # AIM's workload weighs the target's marginals up (public)
    synthesizer, fit_seconds = fit_synthesizer(train, model, schema, seed, verbose=verbose, params=params)
    filter_summary = None
    # The filters read the training rows: filtering a differentially private sample would spend privacy that its
    # ledger does not count, so dp-aim and dp-mst samples are never filtered.
    if privacy_filters and getattr(synthesizer, "privacy_ledger_", None) is None:
        synthetic, filter_summary, sample_seconds = sample_private_rows(synthesizer, train, n, conditions, seed,
                                                                        verbose=verbose)
    else:
        synthetic, sample_seconds = sample_rows(synthesizer, n, conditions, seed, verbose=verbose)
    write_table(synthetic, output)
    card, files = write_table_card_beside(train, synthetic, output, synthesizer, seed=seed, generation=generation,
                                          source=source, conditions=conditions)
    run = TableRun(synthetic=synthetic, synthesizer=synthesizer, card=card, files={"output": str(output), **files},
                   sample_seconds=sample_seconds, fit_seconds=fit_seconds, train=train, holdout=holdout,
                   privacy_filters=_without_sample(filter_summary))
    if not with_report:
        run.no_report_reason = "not asked for" if not report else "conditions"
        return run
    lineage = {**source, "seed": seed, "holdout_share": holdout_share, "rows_fitted": len(train),
               "rows_held_out": len(holdout) if holdout is not None else 0, "output": str(output)}
    privacy_metadata: dict = {"pii": synthesizer.encoder_.personal_identifiers()}
    if filter_summary is not None:
        if holdout is not None:
            filter_summary.update(filter_effect(train, holdout, filter_summary["first_sample"], synthetic,
                                                compared_columns(synthesizer, train), seed=seed))
        privacy_metadata["privacy_filters"] = run.privacy_filters = _without_sample(filter_summary)
    run.evaluation = evaluate_synthetic(
        train, synthetic, holdout, synthesizer, model=model, fit_seconds=fit_seconds,
        sample_seconds=sample_seconds, lineage=lineage, target=target, seed=seed,
        privacy_attacks=privacy_attacks, progress=verbose, privacy_metadata=privacy_metadata,
    )
    html_path, json_path = report_paths(output)
    run.evaluation.to_html(html_path)
    run.evaluation.to_json(json_path)
    run.files.update(report_html=str(html_path), report_json=str(json_path))
    return run


def sample_saved_model(
    model_dir: str | Path,
    n: int,
    output: str | Path,
    *,
    conditions: dict | None = None,
    seed: int = 0,
    reference=None,
    generation: int | None = None,
    verbose: bool = False,
) -> TableRun:
    """Sample `n` rows from a model folder written by `Synthesizer.save` into `output`, with a dataset card beside it.

    reference: the table the model was fitted on (a path, SQL URL or DataFrame); the card then has collapse signals
    against it and its SHA-256 in the lineage.
    """
    from perpetuum.card import folder_sha256
    from perpetuum.tabular import load_synthesizer

    check_row_count(n)
    output = Path(output)
    output_format(output)
    synthesizer = load_synthesizer(model_dir)
    if hasattr(synthesizer, "verbose"):
        synthesizer.verbose = verbose
    synthetic, sample_seconds = sample_rows(synthesizer, n, conditions, seed, verbose=verbose)
    write_table(synthetic, output)
    if reference is not None:
        real, source = read_source(reference, verbose=verbose)
    else:
        real, source = None, {"source": str(model_dir)}
    source["model"] = str(model_dir)
    source["model_sha256"] = folder_sha256(model_dir)
    card, files = write_table_card_beside(real, synthetic, output, synthesizer, seed=seed, generation=generation,
                                          source=source, conditions=conditions)
    return TableRun(synthetic=synthetic, synthesizer=synthesizer, card=card, files={"output": str(output), **files},
                    sample_seconds=sample_seconds, train=real)


def evaluate_files(
    real,
    synthetic,
    holdout=None,
    *,
    target: str | None = None,
    schema=None,
    seed: int = 0,
    privacy_attacks: bool = True,
    encoding: str = "utf-8",
    verbose: bool = False,
):
    """`perpetuum.evaluate.evaluate` of tables read from files or SQL URLs (or given as DataFrames), with each
    table's lineage (path, SHA-256, rows) in the report's metadata. schema: a TableSchema or the path of one."""
    from perpetuum.evaluate import evaluate
    from perpetuum.schema import TableSchema

    tables, lineage = {}, {}
    for name, source in (("real", real), ("synthetic", synthetic), ("holdout", holdout)):
        if source is not None:
            tables[name], entry = read_source(source, encoding=encoding, verbose=verbose)
            lineage.update({f"{name}_{key}": value for key, value in entry.items()})
    lineage["seed"] = seed
    if isinstance(schema, (str, Path)):
        schema = TableSchema.from_json(schema)
    return evaluate(
        tables["real"], tables["synthetic"], holdout=tables.get("holdout"), schema=schema, target=target, seed=seed,
        metadata={"lineage": lineage}, privacy_attacks=privacy_attacks, progress=verbose,
    )
