"""`export_reviewed`: the accepted records, with the reviewers' corrections, in the generator's formats.

The exported folder holds data.jsonl / data.parquet / hf_dataset/ (the formats of the generated folder), rejected.jsonl
(like dropped.jsonl: index, reason, detail, record), review_log.jsonl (every action of the review, in order) and
card.json / card.md: the generator's card with a "review" section added.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perpetuum.errors import ParameterError
from perpetuum.pipeline.output import OUTPUT_FILES, write_jsonl, write_outputs
from perpetuum.review.store import ReviewStore, _utc_now

__all__ = ["export_reviewed", "ExportResult", "review_figures", "render_review_markdown"]


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
        "flagged": counts["flagged"],
        "edits": len(edits),
        "edits_by_column": dict(Counter(entry["path"][0] for entry in edits if entry["path"])),
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


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_review_markdown(review: dict[str, Any]) -> str:
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
    ]
    if review["edits_by_column"]:
        lines += ["| column | edits |", "| --- | ---: |"]
        lines += [f"| {_cell(name)} | {count} |" for name, count in review["edits_by_column"].items()]
        lines.append("")
    if review["rejection_reasons"]:
        lines += ["| why rejected | records |", "| --- | ---: |"]
        lines += [f"| {_cell(reason)} | {count} |" for reason, count in review["rejection_reasons"].items()]
        lines.append("")
    if review["actions_by_reviewer"]:
        who = ", ".join(f"{_cell(name)} ({count} actions)" for name, count in review["actions_by_reviewer"].items())
        lines += [f"Reviewers: {who}.", ""]
    span = (
        f" from {review['first_action_at']} to {review['last_action_at']}" if review["first_action_at"] else ""
    )
    lines += [
        f"Every action{span} is in `{review['log']}` (record, field, before, after, reviewer, time); rejected records "
        f"and their reasons are in `rejected.jsonl`. Exported {review['exported_at']} from `{review['source']}`.",
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
    accepted = [{name: record.current.get(name) for name in columns} for record in records if record.status == "accepted"]
    files, json_columns = write_outputs(accepted, output_dir, formats, columns)

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
    card["review"] = review
    card["files"] = dict(files)
    card["parquet_json_columns"] = json_columns
    json_path, markdown_path = output_dir / "card.json", output_dir / "card.md"
    files.update(card_json=str(json_path), card_markdown=str(markdown_path))
    json_path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    markdown_path.write_text(_card_markdown(card, source) + "\n" + render_review_markdown(review), encoding="utf-8")
    return ExportResult(output_dir, len(accepted), files, card)


def _card_markdown(card: dict[str, Any], source: Path) -> str:
    """The generator's Markdown card for this card (its files now the exported ones), or the source's card.md."""
    from perpetuum.pipeline.card import render_markdown

    try:
        return render_markdown(card)
    except (KeyError, TypeError, ValueError, AttributeError):
        # A card from another version of the generator: keep its own Markdown as it was.
        original = source / "card.md"
        return original.read_text(encoding="utf-8") if original.exists() else f"# {card.get('name', source.name)}\n"
