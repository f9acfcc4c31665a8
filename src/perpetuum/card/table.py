"""The card of a synthetic table: what it is, its lineage and its collapse signals against the training table.

    card = table_card(train, synthetic, synthesizer="quality", params=model.get_params(), seed=0,
                      source={"source": "adult.csv", "sha256": "..."}, generation=0)
    write_table_card(card, "synthetic.csv")      # synthetic.card.json + synthetic.card.md beside the output
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from perpetuum import __version__
from perpetuum.card.lineage import card_paths, check_generation, parent_generation
from perpetuum.card.signals import table_signals
from perpetuum.card.writer import finite, three_decimals, write_card_files
from perpetuum.markdown import markdown_text

__all__ = ["table_card", "render_table_card_markdown", "write_table_card"]


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
    card beside the source file (its generation + 1), else 0. source: `source_lineage`'s dict (path, sha256, rows)
    or anything describing the training data. Rows sampled under conditions are not comparable with
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
        "generator": {"kind": "tabular", "synthesizer": synthesizer, "params": finite(params or {})},
        "seed": seed,
        "source": finite(source or {}),
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
        card.update(finite(extra))
    return card


def render_table_card_markdown(card: dict) -> str:
    lineage, signals = card["lineage"], card["collapse_signals"]
    source = lineage.get("source") or {}
    lines = [
        f"# {markdown_text(card['name'])}",
        "",
        f"Synthetic table: {card['rows']:,} rows x {len(card['columns'])} columns, generation "
        f"{lineage['generation']} (0: learned from real data). Made by Perpetuum {card['perpetuum_version']} "
        f"on {card['created_at']}.",
        *_rebalance_lines(card.get("rebalance")),
        "",
        "## Lineage",
        "",
        "| field | value |",
        "| --- | --- |",
        "| synthetic | true |",
        f"| generation | {lineage['generation']} |",
        f"| synthesizer | {markdown_text(lineage['generator']['synthesizer'])} |",
        f"| seed | {lineage.get('seed')} |",
        f"| source | {markdown_text(source.get('source', 'not recorded'))} |",
        f"| source sha256 | {source.get('sha256', 'not recorded')} |",
    ]
    if lineage.get("parent_card"):
        lines.append(f"| parent card | {markdown_text(lineage['parent_card'])} |")
    lines += ["", "## Collapse signals against the training table", ""]
    if not signals.get("computed"):
        lines.append(f"Not computed: {signals.get('reason', '')}.")
    else:
        thresholds = signals["thresholds"]
        lines += [
            "| signal | value | warns below |",
            "| --- | ---: | ---: |",
            f"| tail coverage | {three_decimals(signals['tail_coverage'])} | {thresholds['tail_coverage']} |",
            f"| rare-category survival | {three_decimals(signals['rare_category_survival'])} | "
            f"{thresholds['rare_category_survival']} |",
            f"| variance ratio (lowest column) | {three_decimals(signals['variance_ratio_min'])} | "
            f"{thresholds['variance_ratio']} |",
            "",
        ]
        lines += [f"- **Warning:** {markdown_text(text)}" for text in signals["warnings"]] or ["No warning."]
    if card.get("differential_privacy"):
        from perpetuum.privacy.ledger import ledger_markdown

        lines += ["", "## Differential privacy ledger", "", ledger_markdown(card["differential_privacy"])]
    lines += ["", "## Synthesizer parameters", "", "```json",
              json.dumps(lineage["generator"]["params"], indent=2, ensure_ascii=False, default=str), "```", ""]
    return "\n".join(lines)


def _rebalance_lines(rebalance: dict | None) -> list[str]:
    """A rebalanced table (`perpetuum rebalance`) holds real rows then synthetic ones: say how many of each class."""
    if not rebalance:
        return []
    classes = ", ".join(f"{markdown_text(str(entry['value']))}: {entry['real']:,} real + {entry['synthetic']:,} synthetic"
                        for entry in rebalance["classes"])
    return ["", f"Rebalanced on `{markdown_text(rebalance['target'])}` to {markdown_text(rebalance['ratio'])}: the "
                f"first {rebalance['real_rows']:,} rows are the real table, the next {rebalance['synthetic_rows']:,} "
                f"are synthetic ({classes})."]


def write_table_card(card: dict, output: str | Path) -> dict[str, str]:
    """Write the card beside the table at `output` (OUTPUT_STEM.card.json and .card.md); returns both paths."""
    json_path, markdown_path = card_paths(output)
    return write_card_files(card, json_path, markdown_path, render_table_card_markdown)
