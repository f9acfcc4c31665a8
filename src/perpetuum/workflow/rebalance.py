"""`perpetuum rebalance` as a library call: a table whose rare classes are topped up with synthetic rows.

    from perpetuum.workflow import rebalance
    run = rebalance("transactions.csv", "Class", "balanced.csv", ratio="1:1")
    run.counts    # [ClassCount(value=0, real=28431, synthetic=0), ClassCount(value=1, real=49, synthetic=28382)]

The output holds every real row, then the new rows (`perpetuum.tabular.oversample` says how they are made), and a
dataset card beside it (OUTPUT_STEM.card.json / .md) recording how many rows of each class are real and synthetic.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from perpetuum.errors import ParameterError
from perpetuum.progress import progress_bar
from perpetuum.workflow.files import output_format, write_table
from perpetuum.workflow.steps import write_table_card_beside

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RebalanceRun", "rebalance"]


@dataclass
class RebalanceRun:
    """What `rebalance` made: the whole output table (real rows, then synthetic ones), the synthetic rows alone,
    each class's real and synthetic counts, the files written, and the seconds taken."""

    table: pd.DataFrame = field(repr=False)
    synthetic: pd.DataFrame = field(repr=False)
    counts: list
    files: dict[str, str]
    seconds: float
    card: dict = field(default_factory=dict, repr=False)
    ratio_choice: object = None  # with ratio="auto": the RatioChoice (chosen ratio, every candidate's score)


def rebalance(
    data,
    target: str,
    output: str | Path | None = None,
    *,
    ratio="1:1",
    model: str = "quality",
    fit_on: str = "class",
    clean: bool = True,
    seed: int = 0,
    schema=None,
    table: str | None = None,
    query: str | None = None,
    encoding: str = "utf-8",
    generation: int | None = None,
    probe: str = "gradient-boosting",
    verbose: bool = False,
) -> RebalanceRun:
    """Add synthetic rows of each class of `target` that has fewer rows than `ratio` asks, and write the table.

    data: a file path or SQL URL (with `table` or `query`), or a DataFrame. ratio: "RARE:COMMON" ("1:1", "1:4") or
    a number, the rows of each rarer class per row of the most common class. output: where to write (the format
    from its extension, a card beside it); None writes nothing. A class below the ratio with fewer than
    `perpetuum.tabular.MIN_CLASS_ROWS` real rows is refused with an error naming it. ratio="auto": no rows, 1:4 or
    1:1, whichever trains the best `probe` classifier ("gradient-boosting" or "logistic", `perpetuum.tabular.probe`)
    by 3-fold cross-validation on the real rows (`perpetuum.tabular.choose_ratio`). schema: a TableSchema or the
    path of one. The other parameters: `perpetuum.tabular.oversample`.
    """
    from perpetuum.schema import TableSchema
    from perpetuum.tabular import oversample
    from perpetuum.tabular.oversample import unchanged_counts
    from perpetuum.tabular.ratio_search import is_auto, ratio_text
    from perpetuum.workflow.tables import read_source

    if output is not None:
        output = Path(output)
        output_format(output)
    frame, source = read_source(data, table, query, encoding, verbose=verbose)
    if target not in frame.columns:
        raise ParameterError(f"--target {target!r} is not a column of the table; its columns are {list(frame.columns)}")
    if isinstance(schema, (str, Path)):
        schema = TableSchema.from_json(schema)
    started = time.perf_counter()
    choice = None
    if is_auto(ratio):
        from perpetuum.tabular import choose_ratio
        from perpetuum.tabular.probe import probe_classifier

        estimator = probe_classifier(probe, frame.drop(columns=[target]), seed=seed)
        with progress_bar(f"Choosing how many rows of {target!r} help a {probe} classifier (3-fold CV)",
                          verbose=verbose):
            choice = choose_ratio(frame, target, estimator, cv=3, seed=seed, model=model, fit_on=fit_on,
                                  clean=clean, schema=schema)
    if choice is not None and choice.ratio == 0.0:
        counts = unchanged_counts(frame[target])
        combined, synthetic = frame, frame.iloc[:0]
    else:
        with progress_bar(f"Making rare-class rows of {target!r} with {model}", verbose=verbose):
            combined, synthetic, counts = oversample(frame, target, choice.ratio if choice else ratio, model=model,
                                                     fit_on=fit_on, clean=clean, schema=schema, seed=seed)
    seconds = time.perf_counter() - started
    run = RebalanceRun(table=combined, synthetic=synthetic, counts=counts, files={}, seconds=seconds,
                       ratio_choice=choice)
    if output is None:
        return run
    write_table(combined, output)
    rare = [count.value for count in counts if count.synthetic > 0]
    details = {"rebalance": {
        "target": target, "ratio": str(ratio), "fit_on": fit_on, "clean": clean, "real_rows": len(frame),
        **({"chosen_ratio": ratio_text(choice.ratio), "probe": probe, "scoring": choice.scoring,
            "folds": choice.folds,
            "candidate_scores": {ratio_text(share): score for share, score in choice.scores.items()}}
           if choice else {}),
        "synthetic_rows": len(synthetic), "real_rows_first": True,
        "classes": [{"value": count.value if isinstance(count.value, (str, int, float)) else str(count.value),
                     "real": count.real, "synthetic": count.synthetic} for count in counts],
    }}
    run.card, files = write_table_card_beside(
        None, combined, output, _Named(model, {"ratio": str(ratio), "fit_on": fit_on, "clean": clean}), seed=seed,
        generation=generation, source=source, conditions={target: rare} if rare else None, extra=details)
    run.files = {"output": str(output), **files}
    return run


class _Named:
    """What the card needs of a synthesizer (its name and parameters) when several were fitted, one per class."""

    def __init__(self, name: str, params: dict):
        self.name = name
        self._params = params

    def get_params(self) -> dict:
        return self._params
