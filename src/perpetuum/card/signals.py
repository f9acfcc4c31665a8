"""Collapse signals: the signs of model collapse a dataset card reports against the data it should resemble.

    table_signals(train, synthetic)                          # tail coverage, rare categories, variances
    text_signals({"story": stories}, reference=real_stories)  # diversity, and length/vocabulary vs a reference

No warning does not prove there is no collapse, only that these signs are absent.
"""

from __future__ import annotations

import math

import numpy as np

from perpetuum.card.writer import finite

__all__ = ["table_signals", "text_signals", "TEXT_THRESHOLDS"]

# Text warnings: below these shares of the reference's value (same amount of text), or above for duplicates.
TEXT_THRESHOLDS = {
    "vocabulary_ratio": 0.5,       # generated vocabulary / vocabulary of as many reference words
    "distinct_2_ratio": 0.5,       # generated distinct-2 / reference distinct-2 (same amount of text)
    "length_tail_coverage": 0.5,   # word-count tail mass kept beyond the reference's 1st/99th percentiles
    "length_variance_ratio": 0.5,  # variance of word counts / the reference's
    "near_duplicate_rate": 0.2,    # share of texts that nearly copy an earlier one
    "distinct_2": 0.2,             # without a reference: distinct-2 this low means the same phrases again and again
}


def table_signals(reference, synthetic) -> dict:
    """Collapse signals of a synthetic table against the table it learned from: tail coverage, rare-category
    survival and variance ratios with their warnings (`perpetuum.evaluate.collapse_signals`), in card form."""
    from perpetuum.evaluate.collapse_signals import (
        RARE_SURVIVAL_WARNING,
        TAIL_COVERAGE_WARNING,
        VARIANCE_RATIO_WARNING,
        collapse_signals,
    )

    signals = collapse_signals(reference, synthetic)
    tails, rare, variances = signals["tail_coverage"], signals["rare_category_survival"], signals["variance_ratio"]
    return finite({
        "computed": True,
        "reference_rows": len(reference),
        "tail_coverage": tails["score"],
        "rare_category_survival": rare["score"],
        "variance_ratio_median": variances["median"],
        "variance_ratio_min": variances["min"],
        "per_column": {
            "tail_coverage": {column: entry["coverage"] for column, entry in tails["per_column"].items()},
            "rare_category_survival": {column: entry["survival"] for column, entry in rare["per_column"].items()},
            "variance_ratio": variances["per_column"],
        },
        "thresholds": {"tail_coverage": TAIL_COVERAGE_WARNING, "rare_category_survival": RARE_SURVIVAL_WARNING,
                       "variance_ratio": VARIANCE_RATIO_WARNING},
        "warnings": signals["warnings"],
    })


def _matched_reference(reference: list[str], n_words: int, seed: int = 0) -> list[str]:
    """Reference texts in a seeded random order until they hold about `n_words` words (diversity measures grow
    with the amount of text, so they are compared at equal size)."""
    from perpetuum.evaluate.text_diversity import words

    order = np.random.default_rng(seed).permutation(len(reference))
    chosen, total = [], 0
    for index in order:
        if total >= n_words:
            break
        chosen.append(reference[index])
        total += len(words(reference[index]))
    return chosen


def _vs_reference(texts: list[str], reference: list[str]) -> dict:
    import pandas as pd

    from perpetuum.evaluate.collapse_signals import tail_coverage
    from perpetuum.evaluate.text_diversity import distinct_n, vocabulary_size, words

    lengths = [len(words(text)) for text in texts]
    reference_lengths = [len(words(text)) for text in reference]
    matched = _matched_reference(reference, sum(lengths))
    generated_vocabulary = {token for text in texts for token in words(text)}
    matched_vocabulary = {token for text in matched for token in words(text)}
    tails = tail_coverage(pd.DataFrame({"words": reference_lengths}), pd.DataFrame({"words": lengths}))
    reference_variance = float(np.var(reference_lengths, ddof=1)) if len(reference_lengths) > 1 else math.nan
    return finite({
        "reference_texts": len(reference),
        "matched_reference_texts": len(matched),
        "vocabulary_ratio": vocabulary_size(texts) / max(vocabulary_size(matched), 1),
        "vocabulary_survival": len(generated_vocabulary & matched_vocabulary) / max(len(matched_vocabulary), 1),
        "distinct_2_ratio": distinct_n(texts, 2) / distinct_n(matched, 2) if distinct_n(matched, 2) else math.nan,
        "length_tail_coverage": tails["score"],
        "length_variance_ratio": (float(np.var(lengths, ddof=1)) / reference_variance
                                  if len(lengths) > 1 and reference_variance > 0 else math.nan),
        "mean_words": float(np.mean(lengths)) if lengths else math.nan,
        "reference_mean_words": float(np.mean(reference_lengths)) if reference_lengths else math.nan,
    })


def text_signals(columns: dict[str, list[str]] | list[str], reference: list[str] | None = None,
                 *, reference_source: dict | None = None) -> dict:
    """Collapse signals of generated text columns: diversity (distinct-1/2/3, vocabulary size, near-duplicate
    rate) of each column and, with a `reference` corpus, length tail coverage and variance, vocabulary ratio and
    survival, and distinct-2 ratio against as many reference words; warnings when a `TEXT_THRESHOLDS` value is
    crossed. A plain list is one column named "text"."""
    from perpetuum.evaluate.text_diversity import text_diversity

    if isinstance(columns, list):
        columns = {"text": columns}
    per_column, warnings = {}, []
    for name, texts in columns.items():
        texts = [text for text in texts if isinstance(text, str) and text.strip()]
        if not texts:
            continue
        entry = {"diversity": finite(text_diversity(texts))}
        if reference:
            entry["vs_reference"] = _vs_reference(texts, reference)
        per_column[name] = entry
        warnings += _text_warnings(name, entry, has_reference=bool(reference))
    signals = {"computed": bool(per_column), "per_column": per_column, "thresholds": dict(TEXT_THRESHOLDS),
               "warnings": warnings}
    if not per_column:
        signals["reason"] = "no generated text to measure"
    if reference_source:
        signals["reference"] = reference_source
    elif not reference:
        signals["reference"] = None
        signals["note"] = "no reference corpus given: diversity only (length and vocabulary need a reference)"
    return signals


def _text_warnings(name: str, entry: dict, *, has_reference: bool) -> list[str]:
    warnings = []
    diversity = entry["diversity"]
    duplicates = diversity.get("near_duplicate_rate")
    if duplicates is not None and duplicates > TEXT_THRESHOLDS["near_duplicate_rate"]:
        warnings.append(f"{name}: {duplicates:.0%} of the texts nearly copy an earlier one "
                        f"(above {TEXT_THRESHOLDS['near_duplicate_rate']:.0%})")
    if not has_reference:
        distinct = diversity.get("distinct_2")
        if distinct is not None and distinct < TEXT_THRESHOLDS["distinct_2"]:
            warnings.append(f"{name}: distinct-2 is {distinct:.2f}, the same phrases again and again "
                            f"(below {TEXT_THRESHOLDS['distinct_2']})")
        return warnings
    compared = entry["vs_reference"]
    labels = {
        "vocabulary_ratio": "vocabulary shrinks: {value:.0%} of the words of as much reference text",
        "distinct_2_ratio": "phrasing narrows: distinct-2 is {value:.0%} of the reference's at equal size",
        "length_tail_coverage": "length tails lost: {value:.0%} of the reference's very short/long texts' share kept",
        "length_variance_ratio": "lengths narrow: word-count variance is {value:.0%} of the reference's",
    }
    for key, text in labels.items():
        value = compared.get(key)
        if value is not None and value < TEXT_THRESHOLDS[key]:
            warnings.append(f"{name}: " + text.format(value=value) + f" (below {TEXT_THRESHOLDS[key]:.0%})")
    return warnings
