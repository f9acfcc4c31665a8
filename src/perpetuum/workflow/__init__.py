"""The table workflow as library calls: hold rows out, fit, sample, write the output, its card and its report.

`perpetuum synthesize` is `synthesize(...)`, `perpetuum sample` is `sample_saved_model(...)`, `perpetuum evaluate`
is `evaluate_files(...)`, `perpetuum rebalance` is `rebalance(...)`; the demo and the command line use the same
steps (`steps.py`) and output files (`files.py`).

    from perpetuum.workflow import synthesize
    run = synthesize("adult.csv", 50_000, "synthetic.csv", target="income", verbose=True)
    run.evaluation.headline["privacy"]["score"], run.files["report_html"], run.card["lineage"]["generation"]
"""

from perpetuum.workflow.files import OUTPUT_FORMATS, output_format, output_stem, report_paths, write_table
from perpetuum.workflow.steps import (
    check_row_count,
    evaluate_synthetic,
    fit_synthesizer,
    sample_rows,
    split_holdout,
    write_table_card_beside,
)
from perpetuum.workflow.rebalance import RebalanceRun, rebalance
from perpetuum.workflow.tables import TableRun, evaluate_files, read_source, sample_saved_model, synthesize

__all__ = [
    "OUTPUT_FORMATS",
    "RebalanceRun",
    "TableRun",
    "check_row_count",
    "evaluate_files",
    "evaluate_synthetic",
    "fit_synthesizer",
    "output_format",
    "output_stem",
    "read_source",
    "rebalance",
    "report_paths",
    "sample_rows",
    "sample_saved_model",
    "split_holdout",
    "synthesize",
    "write_table",
    "write_table_card_beside",
]
