"""Keep-or-drop rules applied to finished records: judge scores, validator verdicts, Jinja conditions, and exact +
near-duplicate removal (`perpetuum.evaluate.text_diversity.NearDuplicateIndex`, the detector behind the
near-duplicate rate on the dataset card).

Records are visited in index order, so the first record of a duplicate group is the one kept and the result does
not depend on the order in which records finished. Every dropped record carries its reason.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from perpetuum.pipeline.spec import DatasetSpec, DedupConfig, ExpressionFilter, ScoreFilter, ValidatorFilter

__all__ = ["Dropped", "apply_filters", "deduplicate", "describe_filter", "keep_records"]


@dataclass
class Dropped:
    index: int
    reason: str  # a short category, counted on the dataset card
    detail: str  # what exactly failed, for dropped.jsonl
    record: dict[str, Any]


def describe_filter(position: int, rule) -> str:
    if isinstance(rule, ScoreFilter):
        target = f"{rule.column}.{rule.criterion}" if rule.criterion else f"mean of {rule.column}"
        bounds = []
        if rule.min is not None:
            bounds.append(f">= {rule.min:g}")
        if rule.max is not None:
            bounds.append(f"<= {rule.max:g}")
        return f"filters[{position}]: {target} {' and '.join(bounds)}"
    if isinstance(rule, ValidatorFilter):
        return f"filters[{position}]: {rule.column} passed"
    return f"filters[{position}]: {rule.template}"


def _score(rule: ScoreFilter, value: dict) -> float:
    scores = value["scores"]
    if rule.criterion is not None:
        return float(scores[rule.criterion])
    return sum(scores.values()) / len(scores)


def _keeps(rule, record: dict[str, Any]) -> tuple[bool, str]:
    if isinstance(rule, ScoreFilter):
        score = _score(rule, record[rule.column])
        low_ok = rule.min is None or score >= rule.min
        high_ok = rule.max is None or score <= rule.max
        return low_ok and high_ok, f"score {score:g}"
    if isinstance(rule, ValidatorFilter):
        verdict = record[rule.column]
        return bool(verdict["passed"]), verdict.get("message", "")
    from perpetuum.pipeline.columns.expression import is_true
    from perpetuum.pipeline.templates import render

    text = render(rule.template, record)
    return bool(is_true(text)), f"rendered {text.strip()[:60]!r}"


def apply_filters(
    spec: DatasetSpec, records: list[tuple[int, dict[str, Any]]]
) -> tuple[list[tuple[int, dict[str, Any]]], list[Dropped]]:
    """Records that pass every filter, and the dropped ones with the first filter each failed."""
    kept, dropped = [], []
    descriptions = [describe_filter(i, rule) for i, rule in enumerate(spec.filters)]
    for index, record in records:
        for description, rule in zip(descriptions, spec.filters):
            try:
                passed, detail = _keeps(rule, record)
            except Exception as error:  # a rule that cannot be judged on this record drops it, with the reason
                passed, detail = False, f"could not be checked: {type(error).__name__}: {error}"
            if not passed:
                dropped.append(Dropped(index, description, detail, record))
                break
        else:
            kept.append((index, record))
    return kept, dropped


def keep_records(
    spec: DatasetSpec, records: list[tuple[int, dict[str, Any]]]
) -> tuple[list[tuple[int, dict[str, Any]]], list[Dropped]]:
    """The spec's filters, then its dedup when it has one: the kept records and every dropped one, in index order."""
    kept, dropped = apply_filters(spec, records)
    if spec.dedup is not None:
        kept, duplicates = deduplicate(kept, spec.dedup)
        dropped = sorted(dropped + duplicates, key=lambda item: item.index)
    return kept, dropped


# ---------------------------------------------------------------------------------------------- duplicates

def dedup_text(record: dict[str, Any], columns: Iterable[str]) -> str:
    parts = []
    for name in columns:
        value = record.get(name)
        parts.append(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True))
    return "\n".join(parts)


def _normalised(text: str) -> str:
    return " ".join(text.casefold().split())


def deduplicate(
    records: list[tuple[int, dict[str, Any]]], config: DedupConfig
) -> tuple[list[tuple[int, dict[str, Any]]], list[Dropped]]:
    """Drop exact duplicates (same text after case folding and whitespace collapsing) and near duplicates
    (Jaccard similarity of word shingles >= threshold, `NearDuplicateIndex`) of an earlier kept record."""
    kept: list[tuple[int, dict[str, Any]]] = []
    dropped: list[Dropped] = []
    seen_exact: dict[str, int] = {}
    near = None
    if config.near:
        from perpetuum.evaluate.text_diversity import NearDuplicateIndex

        near = NearDuplicateIndex(config.threshold, config.shingle_size, config.num_perm)
    columns = ", ".join(config.columns)
    for index, record in records:
        text = dedup_text(record, config.columns)
        if config.exact:
            digest = hashlib.sha256(_normalised(text).encode("utf-8")).hexdigest()
            if digest in seen_exact:
                detail = f"same {columns} as record {seen_exact[digest]}"
                dropped.append(Dropped(index, "exact duplicate", detail, record))
                continue
            seen_exact[digest] = index
        if near is not None:
            match = near.closest(text)
            if match is not None:
                other, similarity = match
                detail = f"{columns} ~{similarity:.2f} similar to record {other}"
                dropped.append(Dropped(index, "near duplicate", detail, record))
                continue
            near.add(index, text)
        kept.append((index, record))
    return kept, dropped
