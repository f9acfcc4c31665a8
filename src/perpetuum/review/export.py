"""`export_reviewed`: the accepted records, with the reviewers' corrections, in the generator's formats.

The exported folder holds data.jsonl / data.parquet / hf_dataset/ (the formats of the generated folder; each record
also carries `source_index`, its row in the generated data, and `review`, the decision), rejected.jsonl (like
dropped.jsonl: index, reason, detail, record), review_log.jsonl (every action of the review, in order) and
card.json / card.md. The card describes the exported records: its counts, validator summaries and collapse signals
are computed on them; the generation's own figures move to its "generation" section, and a "review" section says
what the reviewers did (accepted while flagged, verdicts overridden, repairs kept or reverted included).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perpetuum.errors import ParameterError
from perpetuum.markdown import markdown_text
from perpetuum.pipeline.output import OUTPUT_FILES, write_jsonl, write_outputs
from perpetuum.review.dataset import ColumnInfo
from perpetuum.review.store import ReviewRecord, ReviewStore, _utc_now

__all__ = ["export_reviewed", "ExportResult", "review_figures", "render_review_markdown", "GENERATION_KEYS"]

# The card's figures that describe a set of records: recomputed on the exported ones, kept as generated apart.
GENERATION_KEYS = ("records", "validators", "collapse_signals", "warnings")


@dataclass
class ExportResult:
    output_dir: Path
    n_exported: int
    files: dict[str, str]
    card: dict[str, Any]


def review_figures(store: ReviewStore) -> dict[str, Any]:
    """The numbers a card's "review" section holds."""
    counts = store.counts()
    log = store.log()
    actions = [entry for entry in log if entry["action"] not in ("conflict", "recheck")]
    edits = [entry for entry in actions if entry["action"] == "edit"]
    overrides = [entry for entry in log if entry["action"] == "override"]
    records = store.all()
    rejected = [record for record in records if record.status == "rejected"]
    return {
        "records": counts["records"],
        "reviewed": counts["reviewed"],
        "accepted": counts["accepted"],
        "rejected": counts["rejected"],
        "pending": counts["pending"],
        "edited": counts["edited"],
        "accepted_edited": sum(1 for record in records if record.status == "accepted" and record.edited),
        "accepted_while_flagged": sum(1 for record in records if record.status == "accepted" and record.flagged),
        "flagged": counts["flagged"],
        "edits": len(edits),
        "edits_by_column": dict(Counter(entry["path"][0] for entry in edits if entry["path"])),
        "verdicts_overridden": len(overrides),
        "overrides_by_column": dict(Counter(entry["path"][0] for entry in overrides if entry["path"])),
        "repairs_kept": sum(entry["action"] == "repair accept" for entry in log),
        "repairs_reverted": sum(entry["action"] == "repair revert" for entry in log),
        "rejection_reasons": dict(Counter(record.reason for record in rejected)),
        "actions_by_reviewer": dict(Counter(entry["reviewer"] for entry in actions)),
        "conflicts": sum(entry["action"] == "conflict" for entry in log),
        "verdicts_changed_by_recheck": sum(entry["action"] == "recheck" for entry in log),
        "first_action_at": actions[0]["at"] if actions else None,
        "last_action_at": actions[-1]["at"] if actions else None,
        "source": str(store.dataset.folder),
        "source_data_sha256": store.dataset.fingerprint,
        "exported_at": _utc_now(),
        "log": "review_log.jsonl",
    }


def _count_table(title: str, counts: dict[str, int]) -> list[str]:
    if not counts:
        return []
    return [f"| {title} | records |", "| --- | ---: |",
            *[f"| {markdown_text(name)} | {count} |" for name, count in counts.items()], ""]


def render_review_markdown(review: dict[str, Any]) -> str:
    """The card's "Review" section; every reviewer-written value (reasons, names) is escaped."""
    lines = [
        "## Review",
        "",
        f"Reviewed by hand with `perpetuum review`: this folder holds the {review['accepted']:,} accepted records "
        f"({review['accepted_edited']:,} of them corrected), with every correction applied.",
        "",
        "| records | reviewed | accepted | rejected | edited | pending | flagged by a validator |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {review['records']} | {review['reviewed']} | {review['accepted']} | {review['rejected']} "
        f"| {review['edited']} | {review['pending']} | {review['flagged']} |",
        "",
        "| accepted while a validator flagged them | verdicts overridden by hand | repairs kept | repairs reverted |",
        "| ---: | ---: | ---: | ---: |",
        f"| {review.get('accepted_while_flagged', 0)} | {review.get('verdicts_overridden', 0)} "
        f"| {review.get('repairs_kept', 0)} | {review.get('repairs_reverted', 0)} |",
        "",
    ]
    lines += _count_table("column edited", review["edits_by_column"])
    lines += _count_table("verdict overridden", review.get("overrides_by_column", {}))
    lines += _count_table("why rejected", review["rejection_reasons"])
    if review["actions_by_reviewer"]:
        who = ", ".join(f"{markdown_text(name)} ({count} actions)"
                        for name, count in review["actions_by_reviewer"].items())
        lines += [f"Reviewers: {who}.", ""]
    span = (
        f" from {review['first_action_at']} to {review['last_action_at']}" if review["first_action_at"] else ""
    )
    lines += [
        f"Every action{span} is in `{review['log']}` (record, field, before, after, reviewer, time); rejected records "
        f"and their reasons are in `rejected.jsonl`. Exported {review['exported_at']} from "
        f"{markdown_text(review['source'])}.",
        "",
    ]
    return "\n".join(lines)


def _formats(card: dict[str, Any] | None, dataset_folder: Path) -> list[str]:
    formats = ((card or {}).get("spec") or {}).get("output", {}).get("formats")
    if not formats:
        formats = [kind for kind in OUTPUT_FILES if kind in (card or {}).get("files", {})]
    if not formats:
        formats = [kind for kind, name in OUTPUT_FILES.items() if (dataset_folder / name).exists()]
    return [kind for kind in formats if kind in OUTPUT_FILES] or ["jsonl"]


def _decision(record: ReviewRecord, overridden: dict[int, list[str]]) -> dict[str, Any]:
    return {
        "decision": record.status,
        "reviewer": record.reviewer,
        "at": record.updated_at,
        "edited": record.edited,
        "accepted_while_flagged": list(record.flagged),
        "verdicts_overridden": overridden.get(record.id, []),
    }


def _field_names(columns: list[str]) -> tuple[str, str]:
    """The names of the two fields an exported record gains: "source_index" and "review", each with a leading
    underscore where the data has a column of that name already."""
    index_field = "_source_index" if "source_index" in columns else "source_index"
    review_field = "_review" if "review" in columns else "review"
    return index_field, review_field


@dataclass
class _SpecColumn:
    """What the card's summaries read of a spec column (perpetuum.pipeline.card)."""

    name: str
    kind: str
    validator: str | None
    drop: bool = False


@dataclass
class _ColumnsOnly:
    columns: list[_SpecColumn]


def exported_figures(card: dict[str, Any], columns: list[ColumnInfo], exported: list[dict[str, Any]],
                     review: dict[str, Any]) -> dict[str, Any]:
    """records, validators, collapse_signals and warnings of the exported records, in the card's own shapes."""
    from perpetuum.pipeline.card import collapse_section, validator_summary

    spec = _ColumnsOnly([_SpecColumn(column.name, column.kind, column.spec.get("validator")) for column in columns])
    reference_texts, reference_source = None, None
    reference = ((card.get("lineage") or {}).get("reference") or {})
    if reference.get("path") and Path(reference["path"]).is_file():
        from perpetuum.collapse.text_generator import read_corpus

        reference_texts, reference_source = read_corpus(reference["path"]), reference
    signals = collapse_section(spec, exported, reference_texts, reference_source)
    not_kept = {"rejected by a reviewer": review["rejected"], "not reviewed": review["pending"]}
    return {
        "records": {
            "requested": review["records"], "generated": review["records"], "failed": 0, "kept": len(exported),
            "dropped": review["records"] - len(exported),
            "dropped_by_reason": {reason: count for reason, count in not_kept.items() if count},
            "failed_by_reason": {},
        },
        "validators": validator_summary(spec, [{"status": "ok", "record": record} for record in exported]),
        "collapse_signals": signals,
        "warnings": list(signals["warnings"]),
    }


def export_reviewed(
    folder: str | Path, output_dir: str | Path, *, formats: list[str] | None = None, store: ReviewStore | None = None
) -> ExportResult:
    """Write the accepted records of the review of `folder` (corrections applied) into `output_dir`.

    formats: jsonl, parquet, hf; default: those of the generated folder. The generated folder is never written."""
    store = store or ReviewStore.open(folder)
    source = store.dataset.folder
    output_dir = Path(output_dir)
    if output_dir.resolve() == source.resolve():
        raise ParameterError(
            f"export into a new folder, not the generated one ({source}); e.g. -o "
            f"{source.with_name(source.name + '-reviewed') if source.name else 'reviewed'}"
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    card = json.loads(json.dumps(store.dataset.card)) if store.dataset.card else {"name": source.name}
    formats = formats or _formats(store.dataset.card, source)
    unknown = [kind for kind in formats if kind not in OUTPUT_FILES]
    if unknown:
        raise ParameterError(f"unknown format {unknown[0]!r}; use {', '.join(OUTPUT_FILES)}")

    records = store.all()
    columns = [column.name for column in store.columns]
    index_field, review_field = _field_names(columns)
    overridden: dict[int, list[str]] = {}
    for entry in store.log():
        if entry["action"] == "override" and entry["path"]:
            overridden.setdefault(entry["record"], []).append(entry["path"][0])
    accepted = [record for record in records if record.status == "accepted"]
    exported = [{name: record.current.get(name) for name in columns} for record in accepted]
    rows = [{**row, index_field: record.id, review_field: _decision(record, overridden)}
            for row, record in zip(exported, accepted)]
    files, json_columns = write_outputs(rows, output_dir, formats, [*columns, index_field, review_field])

    rejected_path = output_dir / "rejected.jsonl"
    write_jsonl(
        [
            {"index": record.id, "reason": "rejected by a reviewer", "detail": record.reason,
             "reviewer": record.reviewer, "record": record.current}
            for record in records
            if record.status == "rejected"
        ],
        rejected_path,
    )
    log_path = output_dir / "review_log.jsonl"
    write_jsonl(store.log(), log_path)
    files.update(rejected=str(rejected_path), review_log=str(log_path))

    review = review_figures(store)
    review["record_fields"] = {"source_index": index_field, "decision": review_field}
    card["generation"] = {key: card[key] for key in GENERATION_KEYS if key in card}
    card.update(exported_figures(card, store.columns, exported, review))
    card["review"] = review
    card["files"] = dict(files)
    card["parquet_json_columns"] = json_columns
    json_path, markdown_path = output_dir / "card.json", output_dir / "card.md"
    files.update(card_json=str(json_path), card_markdown=str(markdown_path))
    json_path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    markdown_path.write_text(
        _card_markdown(card, source) + "\n" + render_review_markdown(review) + "\n" + _generation_markdown(card),
        encoding="utf-8",
    )
    return ExportResult(output_dir, len(exported), files, card)


def _generation_markdown(card: dict[str, Any]) -> str:
    """The generation's own figures (before review), so that both sets can be compared."""
    generation = card.get("generation") or {}
    lines = ["## As generated, before review", "",
             "The figures above describe the exported records; these describe the generated set the review began from.",
             ""]
    records = generation.get("records")
    if records:
        lines += ["| requested | generated | failed | dropped | kept |", "| ---: | ---: | ---: | ---: | ---: |",
                  f"| {records.get('requested')} | {records.get('generated')} | {records.get('failed')} "
                  f"| {records.get('dropped')} | {records.get('kept')} |", ""]
    if generation.get("validators"):
        lines += ["| check | passed |", "| --- | ---: |"]
        lines += [f"| {markdown_text(name)} | {check.get('passed')} of {check.get('checked')} |"
                  for name, check in generation["validators"].items()]
        lines.append("")
    lines += [f"- **Warning (as generated):** {markdown_text(warning)}" for warning in generation.get("warnings", [])]
    return "\n".join(lines) + "\n"


def _card_markdown(card: dict[str, Any], source: Path) -> str:
    """The generator's Markdown card for this card (its files now the exported ones), or the source's card.md."""
    from perpetuum.pipeline.card import render_markdown

    try:
        return render_markdown(card)
    except (KeyError, TypeError, ValueError, AttributeError):
        # A card from another version of the generator: keep its own Markdown as it was.
        original = source / "card.md"
        if original.exists():
            return (original.read_text(encoding="utf-8") + "\n_The figures above, from an older card, describe the "
                    "generated set; card.json has those of the exported records._\n")
        return f"# {markdown_text(card.get('name', source.name))}\n"
