"""The collapse guard: collapse signals and lineage for every dataset card Perpetuum writes.

    from perpetuum.collapse.guard import table_card, write_table_card
    card = table_card(train, synthetic, synthesizer="quality", params=model.get_params(), seed=0,
                      source={"source": "adult.csv", "sha256": "..."}, generation=0)
    write_table_card(card, "synthetic.csv")      # synthetic.card.json + synthetic.card.md beside the output

    from perpetuum.collapse.guard import text_signals
    text_signals({"story": stories}, reference=real_stories)   # diversity, and length/vocabulary vs a reference

A later training run can read `lineage` to filter or down-weight synthetic data: `synthetic` is always true,
`generation` counts how many synthetic steps lie between the data and real data (0: trained on real data), and
the hashes name the exact sources. No warning does not prove there is no collapse, only that these signs are absent.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from perpetuum import __version__
from perpetuum.errors import ParameterError

__all__ = ["table_signals", "text_signals", "table_card", "write_table_card", "render_table_card_markdown",
           "card_paths", "file_sha256", "folder_sha256", "parent_generation", "check_generation", "TEXT_THRESHOLDS"]

# Text warnings: below these shares of the reference's value (same amount of text), or above for duplicates.
TEXT_THRESHOLDS = {
    "vocabulary_ratio": 0.5,       # generated vocabulary / vocabulary of as many reference words
    "distinct_2_ratio": 0.5,       # generated distinct-2 / reference distinct-2 (same amount of text)
    "length_tail_coverage": 0.5,   # word-count tail mass kept beyond the reference's 1st/99th percentiles
    "length_variance_ratio": 0.5,  # variance of word counts / the reference's
    "near_duplicate_rate": 0.2,    # share of texts that nearly copy an earlier one
    "distinct_2": 0.2,             # without a reference: distinct-2 this low means the same phrases again and again
}


def _finite(value):
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_generation(generation) -> int | None:
    if generation is None:
        return None
    if isinstance(generation, bool) or not isinstance(generation, (int, np.integer)) or generation < 0:
        raise ParameterError(
            f"generation must be a whole number >= 0 (0: made from real data, 1: from data of generation 0, ...); "
            f"got {generation!r}"
        )
    return int(generation)


def card_paths(output: str | Path) -> tuple[Path, Path]:
    """Where the card of a table output goes: beside it, OUTPUT_STEM.card.json and OUTPUT_STEM.card.md."""
    output = Path(output)
    name = output.name
    for suffix in (".csv.gz", ".csv", ".parquet", ".jsonl", ".json", ".txt.gz", ".txt"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return output.parent / f"{name}.card.json", output.parent / f"{name}.card.md"


def parent_generation(source: str | Path | None) -> tuple[int | None, str | None]:
    """If `source` is itself Perpetuum output (a card beside it: SOURCE_STEM.card.json, or card.json in its
    folder), its generation and the card's path; else (None, None)."""
    if source is None or "://" in str(source):
        return None, None
    path = Path(source)
    candidates = [card_paths(path)[0], path / "card.json", path.parent / "card.json"] if path.exists() else []
    for candidate in candidates:
        if candidate.is_file():
            try:
                card = json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            generation = (card.get("lineage") or {}).get("generation")
            if isinstance(generation, int) and generation >= 0:
                return generation, str(candidate)
    return None, None


# ---------------------------------------------------------------------------------------------- tables


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
    return _finite({
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


def table_card(
    reference,
    synthetic,
    *,
    synthesizer: str,
    params: dict | None = None,
    seed: int | None = None,
    generation: int | None = None,
    source: dict | None = None,
    name: str | None = None,
    conditions: dict | None = None,
    extra: dict | None = None,
) -> dict:
    """The card of a synthetic table: what it is, its lineage and its collapse signals against `reference` (the
    table the synthesizer learned from; None: signals not computed, the card says why).

    generation: which step of a loop this is (0: the synthesizer learned from real data); None infers it from a
    card beside the source file (its generation + 1), else 0. source: `perpetuum.cli.source_lineage`'s dict (path,
    sha256, rows) or anything describing the training data. Rows sampled under conditions are not comparable with
    the whole table, so `conditions` turns the signals off (and says so)."""
    generation = check_generation(generation)
    parent, parent_card = parent_generation((source or {}).get("source"))
    if generation is None:
        generation = parent + 1 if parent is not None else 0
    if conditions:
        signals = {"computed": False, "warnings": [],
                   "reason": "rows were sampled under conditions, so they are not comparable with the whole table"}
    elif reference is None:
        signals = {"computed": False, "warnings": [],
                   "reason": "no reference table was given (perpetuum sample --reference TRAINING_TABLE computes them)"}
    else:
        signals = table_signals(reference, synthetic)
    lineage = {
        "synthetic": True,
        "generation": generation,
        "generator": {"kind": "tabular", "synthesizer": synthesizer, "params": _finite(params or {})},
        "seed": seed,
        "source": _finite(source or {}),
    }
    if parent_card:
        lineage["parent_card"] = parent_card
    if conditions:
        lineage["conditions"] = {key: value if isinstance(value, (str, int, float, list)) else str(value)
                                 for key, value in conditions.items()}
    card = {
        "name": name or "synthetic table",
        "kind": "table",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "perpetuum_version": __version__,
        "rows": int(len(synthetic)),
        "columns": [str(column) for column in synthetic.columns],
        "lineage": lineage,
        "collapse_signals": signals,
        "warnings": list(signals.get("warnings", [])),
    }
    if extra:
        card.update(_finite(extra))
    return card


def render_table_card_markdown(card: dict) -> str:
    lineage, signals = card["lineage"], card["collapse_signals"]
    source = lineage.get("source") or {}
    lines = [
        f"# {card['name']}",
        "",
        f"Synthetic table: {card['rows']:,} rows x {len(card['columns'])} columns, generation "
        f"{lineage['generation']} (0: learned from real data). Made by Perpetuum {card['perpetuum_version']} "
        f"on {card['created_at']}.",
        "",
        "## Lineage",
        "",
        "| field | value |",
        "| --- | --- |",
        "| synthetic | true |",
        f"| generation | {lineage['generation']} |",
        f"| synthesizer | {_cell(lineage['generator']['synthesizer'])} |",
        f"| seed | {lineage.get('seed')} |",
        f"| source | {_cell(source.get('source', 'not recorded'))} |",
        f"| source sha256 | {source.get('sha256', 'not recorded')} |",
    ]
    if lineage.get("parent_card"):
        lines.append(f"| parent card | {_cell(lineage['parent_card'])} |")
    lines += ["", "## Collapse signals against the training table", ""]
    if not signals.get("computed"):
        lines.append(f"Not computed: {signals.get('reason', '')}.")
    else:
        thresholds = signals["thresholds"]
        lines += [
            "| signal | value | warns below |",
            "| --- | ---: | ---: |",
            f"| tail coverage | {_number(signals['tail_coverage'])} | {thresholds['tail_coverage']} |",
            f"| rare-category survival | {_number(signals['rare_category_survival'])} | "
            f"{thresholds['rare_category_survival']} |",
            f"| variance ratio (lowest column) | {_number(signals['variance_ratio_min'])} | "
            f"{thresholds['variance_ratio']} |",
            "",
        ]
        lines += [f"- **Warning:** {_cell(text)}" for text in signals["warnings"]] or ["No warning."]
    lines += ["", "## Synthesizer parameters", "", "```json",
              json.dumps(lineage["generator"]["params"], indent=2, ensure_ascii=False, default=str), "```", ""]
    return "\n".join(lines)


def write_table_card(card: dict, output: str | Path) -> dict[str, str]:
    """Write the card beside the table at `output` (OUTPUT_STEM.card.json and .card.md); returns both paths."""
    json_path, markdown_path = card_paths(output)
    try:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(card, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        markdown_path.write_text(render_table_card_markdown(card), encoding="utf-8")
    except OSError as error:
        raise ParameterError(f"cannot write the dataset card {str(json_path)!r}: {error.strerror or error}") from None
    return {"card_json": str(json_path), "card_markdown": str(markdown_path)}


def _cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _number(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


# ---------------------------------------------------------------------------------------------- text


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
    return _finite({
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
        entry = {"diversity": _finite(text_diversity(texts))}
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


def folder_sha256(folder: str | Path) -> str:
    """One SHA-256 over every file of a folder (names and contents, in sorted order): a saved model's identity."""
    digest = hashlib.sha256()
    folder = Path(folder)
    for path in sorted(item for item in folder.rglob("*") if item.is_file()):
        digest.update(str(path.relative_to(folder)).encode("utf-8") + b"\0")
        digest.update(file_sha256(path).encode("ascii"))
    return digest.hexdigest()
