"""Rare classes topped up with synthetic rows: "give me thousands of fraud rows from the few I have".

    from perpetuum.tabular import oversample
    table, synthetic, counts = oversample(frame, "Class", ratio="1:1")     # real rows + new rare-class rows

`perpetuum.tabular.rebalancer.Rebalancer` wraps it in imbalanced-learn's interface.

The ratio `R:C` (or the number R/C) is how many rows each rarer class should have per row of the most common class:
`1:1` tops every class up to the most common one's count, `1:4` to a quarter of it. Real rows are all kept; only
synthetic rows of the classes below the ratio are added, never rows of the common class, and nothing is dropped.

How the rows are made. `fit_on="class"` (the default) fits one synthesizer per rare class, on that class's real
rows alone, and samples from it; `fit_on="table"` fits one synthesizer on the whole table and samples each rare
class with a condition on the target. `clean=True` (the default) then drops every new row whose nearest real row
(the record distance of `perpetuum.privacy.record_distance`, over the other columns) is of another class, and
samples again: the synthesizer draws columns independently within a leaf, so some rows asked for the rare class
land among the common class's rows; as training rows they teach the classifier that such rows are rare-class ones,
which costs precision. benchmarks/rare_events.py measured the choices (README, "Rare events",
benchmarks/results/rare_events_dev.json): cleaning raised the mean PR-AUC of both classifiers for both `fit_on`
modes; `class` and `table` were even once cleaned, and `class` is the simpler model (its leaves hold only the
class) and faster; `quality` beat `fast` with logistic regression and tied with XGBoost.

A class needs `MIN_CLASS_ROWS` real rows to learn from; fewer is refused with an error that names the class.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from perpetuum.errors import DataInputError, ParameterError

# Below this many real rows a class is a handful of points, not a distribution: refused rather than copied.
MIN_CLASS_ROWS = 10
FIT_ON = ("class", "table")

__all__ = ["FIT_ON", "MIN_CLASS_ROWS", "ClassCount", "oversample", "parse_ratio", "planned_counts",
           "unchanged_counts"]


@dataclass(frozen=True)
class ClassCount:
    """One class of the target: its real rows and the synthetic rows added."""

    value: object
    real: int
    synthetic: int

    @property
    def total(self) -> int:
        return self.real + self.synthetic


def parse_ratio(ratio) -> float:
    """How many rows a rarer class should have per row of the most common class: "1:1" -> 1.0, "1:4" -> 0.25,
    0.25 -> 0.25. Between 0 (exclusive) and 1 (inclusive)."""
    value = None
    if isinstance(ratio, str):
        text = ratio.strip()
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*:\s*([0-9]*\.?[0-9]+)\s*", text)
        if match:
            rare, common = float(match.group(1)), float(match.group(2))
            value = rare / common if common > 0 else None
        else:
            try:
                value = float(text)
            except ValueError:
                value = None
    elif isinstance(ratio, (int, float, np.integer, np.floating)) and not isinstance(ratio, bool):
        value = float(ratio)
    if value is None or not 0.0 < value <= 1.0 or not np.isfinite(value):
        raise ParameterError(
            f"--ratio {ratio!r} is not a ratio of rare-class rows to common-class rows between 0 and 1:1; write it "
            "as RARE:COMMON, e.g. 1:1 (as many rows of each rare class as of the most common one) or 1:4 (one "
            "rare row per four common rows), or as a number such as 0.25."
        )
    return value


def planned_counts(labels: pd.Series, ratio) -> list[ClassCount]:
    """For each class of `labels` (most common first): its real rows and how many synthetic rows the ratio asks."""
    share = parse_ratio(ratio)
    counts = labels.value_counts(dropna=True)
    if len(counts) < 2:
        raise DataInputError(
            f"the target column {labels.name!r} holds {len(counts)} class(es); rebalancing needs at least two"
        )
    wanted = int(np.ceil(share * int(counts.iloc[0]) - 1e-9))
    return [ClassCount(value, int(count), max(0, wanted - int(count))) for value, count in counts.items()]


def unchanged_counts(labels: pd.Series) -> list[ClassCount]:
    """Each class of `labels` (most common first) with its real rows and no synthetic ones."""
    return [ClassCount(value, int(count), 0) for value, count in labels.value_counts(dropna=True).items()]


def oversample(
    frame: pd.DataFrame,
    target: str,
    ratio="1:1",
    *,
    model: str = "quality",
    fit_on: str = "class",
    clean: bool = True,
    params: dict | None = None,
    schema=None,
    seed: int = 0,
    verbose: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame, list[ClassCount]]:
    """(`frame` with the synthetic rows appended, the synthetic rows alone, the count of each class).

    model: a synthesizer name (`perpetuum models`); fit_on: "class" (one synthesizer per rare class, on its rows) or
    "table" (one on the whole table, each rare class sampled with a condition on `target`); clean: drop new rows
    whose nearest real row is of another class and sample again (rows still missing after a few rounds are the
    rejected ones nearest to their class); see the module docstring. params: synthesizer parameters. schema: a TableSchema for `frame` (inferred from the whole table otherwise, so that a rare class's
    few rows are read with the same column kinds as the rest). Rows with a missing target are kept, never sampled.
    """
    from perpetuum.schema import infer_schema
    from perpetuum.tabular.registry import get_synthesizer

    if not isinstance(frame, pd.DataFrame):
        raise DataInputError(f"oversample expects a pandas DataFrame, got {type(frame).__name__}")
    if target not in frame.columns:
        raise DataInputError(f"the target column {target!r} is not in the table; its columns are {list(frame.columns)}")
    if fit_on not in FIT_ON:
        raise ParameterError(f"fit_on must be one of {', '.join(FIT_ON)}, got {fit_on!r}")
    frame = frame.reset_index(drop=True)
    plan = planned_counts(frame[target], ratio)
    short = [count for count in plan if count.synthetic > 0]
    too_few = [count for count in short if count.real < MIN_CLASS_ROWS]
    if too_few:
        described = "; ".join(f"class {count.value!r} of {target!r} has {count.real} row(s)" for count in too_few)
        raise DataInputError(
            f"too few rows to learn from: {described}. At least {MIN_CLASS_ROWS} real rows of a class are needed to "
            "make new ones (with fewer, new rows would be near-copies of those few); collect more rows of that "
            "class, or merge it with a related class."
        )
    synthesizer_class = get_synthesizer(model)
    if schema is None:
        schema = infer_schema(frame)
    parts = []
    rng = np.random.default_rng(seed)
    params = dict(params or {})
    samplers = {}
    if fit_on == "table" and short:
        synthesizer = synthesizer_class(seed=seed, verbose=verbose, **params).fit(frame, schema=schema)
        for count in short:
            samplers[count.value] = (lambda n, s, value=count.value:
                                     synthesizer.sample(n, conditions={target: value}, seed=s))
    else:
        for count in short:
            rows = frame[frame[target] == count.value].reset_index(drop=True)
            fitted = synthesizer_class(seed=seed, verbose=verbose, **params).fit(rows, schema=schema)

            def draw(n, s, fitted=fitted, value=rows[target].iloc[0]):
                sampled = fitted.sample(n, seed=s)
                sampled[target] = value
                return sampled

            samplers[count.value] = draw
    cleaner = _NearestClass(frame, target) if clean else None
    for count in short:
        draw = samplers[count.value]
        if cleaner is None:
            parts.append(draw(count.synthetic, int(rng.integers(2**31))))
        else:
            parts.append(cleaner.keep(draw, count.value, count.synthetic, rng))
    columns = list(frame.columns)
    if parts:
        synthetic = pd.concat(parts, ignore_index=True)[columns]
        synthetic = synthetic.astype(frame.dtypes.to_dict(), errors="ignore")
    else:
        synthetic = frame.iloc[:0].copy()
    return pd.concat([frame, synthetic], ignore_index=True), synthetic, plan


class _NearestClass:
    """Keeps new rows whose nearest real row (record distance over the other columns) is of the class asked."""

    ROUNDS = 4

    def __init__(self, frame: pd.DataFrame, target: str):
        from perpetuum.privacy.record_distance import DistanceEncoder

        self.target = target
        self.features = [column for column in frame.columns if column != target]
        known = frame[target].notna().to_numpy()
        self.labels = frame[target].to_numpy()[known]
        self.encoder = DistanceEncoder().fit(frame[self.features])
        self.points = self.encoder.transform(frame.loc[known, self.features])

    def margins(self, rows: pd.DataFrame, value) -> np.ndarray:
        """Distance to the nearest real row of another class minus that to the nearest of `value`'s class."""
        from perpetuum.privacy.record_distance import nearest_distances

        queries = self.encoder.transform(rows[self.features])
        same = self.labels == value
        return nearest_distances(self.points[~same], queries) - nearest_distances(self.points[same], queries)

    def keep(self, draw, value, n: int, rng) -> pd.DataFrame:
        kept, rejected, rejected_margins, have = [], [], [], 0
        for _ in range(self.ROUNDS):
            candidates = draw(max(2 * (n - have), 16), int(rng.integers(2**31)))
            margins = self.margins(candidates, value)
            good = margins > 0
            kept.append(candidates[good])
            rejected.append(candidates[~good])
            rejected_margins.append(margins[~good])
            have += int(good.sum())
            if have >= n:
                break
        rows = pd.concat(kept, ignore_index=True)
        if len(rows) < n:
            spare = pd.concat(rejected, ignore_index=True)
            order = np.argsort(-np.concatenate(rejected_margins), kind="stable")[: n - len(rows)]
            rows = pd.concat([rows, spare.iloc[order]], ignore_index=True)
        return rows.iloc[:n].reset_index(drop=True)
