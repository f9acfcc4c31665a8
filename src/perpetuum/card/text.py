"""The dataset card of a generation run, as JSON (for machines) and Markdown (for people): the spec, the backends
and models, how many records were kept and why the others were dropped, tokens in and out, wall time, and the cost
from the price table (US dollars per million tokens, keyed by backend name or model name).

Every card also carries `lineage` (synthetic: true, the backends and models, the spec's SHA-256, the SHA-256 of
each word-list file and of the reference corpus, and `generation`: 0 for data made from real seeds, one more than a
parent card found beside a source file, or as given) and `collapse_signals` for the generated text columns
(llm_text, dialogue): diversity, and with a reference corpus length tails, vocabulary and phrasing against it, with
warnings when a threshold is crossed."""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from typing import TYPE_CHECKING

from perpetuum import __version__
from perpetuum.card.economics import economics_markdown
from perpetuum.card.judges import judge_agreement, judges_markdown
from perpetuum.card.lineage import check_generation, file_sha256, parent_generation
from perpetuum.card.repairs import repair_section, repairs_markdown
from perpetuum.card.signals import text_signals
from perpetuum.card.writer import three_decimals, write_card_files
from perpetuum.markdown import markdown_text

if TYPE_CHECKING:
    from perpetuum.pipeline.spec import DatasetSpec, Price

__all__ = ["build_card", "render_markdown", "write_card", "usage_totals", "cost", "validator_summary",
           "spec_sha256", "lineage_section", "collapse_section", "TEXT_COLUMN_KINDS", "text_value"]

# Columns whose values are generated text, measured by the collapse guard.
TEXT_COLUMN_KINDS = ("llm_text", "dialogue")


def usage_totals(entries: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Tokens and calls per backend name, summed over every record entry (kept, dropped or failed)."""
    totals: dict[str, Counter] = {}
    for entry in entries:
        for backend, usage in (entry.get("usage") or {}).items():
            totals.setdefault(backend, Counter()).update(
                {key: value for key, value in usage.items() if isinstance(value, (int, float))}
            )
    return {backend: dict(counter) for backend, counter in sorted(totals.items())}


def validator_summary(spec: DatasetSpec, entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per validator column, over every generated record: how many passed, the pass rate, and the failures grouped
    by the first clause of their message (the text before ": ", e.g. "failed (AssertionError)" or "timeout")."""
    generated = [entry["record"] for entry in entries if entry["status"] == "ok"]
    summary = {}
    for column in spec.columns:
        if column.kind != "validator":
            continue
        verdicts = [record[column.name] for record in generated if isinstance(record.get(column.name), dict)]
        passed = sum(bool(verdict.get("passed")) for verdict in verdicts)
        reasons = Counter(
            str(verdict.get("message", "")).partition(": ")[0][:80] or "failed"
            for verdict in verdicts
            if not verdict.get("passed")
        )
        summary[column.name] = {
            "validator": column.validator,
            "checked": len(verdicts),
            "passed": passed,
            "pass_rate": round(passed / len(verdicts), 4) if verdicts else None,
            "failure_reasons": dict(reasons.most_common(10)),
        }
    return summary


def cost(
    usage: dict[str, dict[str, int]], backends: dict[str, dict], prices: dict[str, Price]
) -> tuple[dict[str, float | None], float | None]:
    """Dollars per backend (None where no price is known) and in total (None if any backend lacks a price).
    A backend's price is looked up by its name first, then by its model name; embedded models cost nothing."""
    per_backend: dict[str, float | None] = {}
    for backend, counts in usage.items():
        info = backends.get(backend, {})
        price = prices.get(backend) or prices.get(info.get("model", ""))
        if price is None and info.get("kind") == "embedded":
            per_backend[backend] = 0.0  # an embedded model runs here: no bill
            continue
        if price is None:
            per_backend[backend] = None
            continue
        per_backend[backend] = round(
            counts.get("prompt_tokens", 0) / 1e6 * price.input_per_million
            + counts.get("completion_tokens", 0) / 1e6 * price.output_per_million,
            6,
        )
    known = [value for value in per_backend.values() if value is not None]
    total = round(sum(known), 6) if len(known) == len(per_backend) else None
    return per_backend, total


def build_card(
    spec: DatasetSpec,
    *,
    n_requested: int,
    entries: list[dict[str, Any]],
    n_kept: int,
    dropped: list,
    backends: dict[str, dict],
    wall_seconds: float,
    sessions: int,
    files: dict[str, str],
    json_columns: list[str],
    prices: dict[str, Price],
    records: list[dict[str, Any]] | None = None,
    reference: list[str] | str | Path | None = None,
    generation: int | None = None,
    economics: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The card as a dict. economics: tokens per column, cache, budget and monitors (`card.economics`).
    records: the kept records (default: read back from the data file in `files`);
    reference: a real text corpus (a list of texts, or a .txt/.txt.gz file of documents) to measure collapse
    against; generation: which step of a synthetic-data loop this is (default: inferred, see the module)."""
    failed = [entry for entry in entries if entry["status"] != "ok"]
    usage = usage_totals(entries)
    per_backend_cost, total_cost = cost(usage, backends, prices)
    prompt_tokens = sum(counts.get("prompt_tokens", 0) for counts in usage.values())
    completion_tokens = sum(counts.get("completion_tokens", 0) for counts in usage.values())
    drop_reasons = Counter(item.reason for item in dropped)
    failure_reasons = Counter(entry.get("error_type", "error") + f" in column {entry.get('column')!r}" for entry in failed)
    columns = [
        {"name": column.name, "kind": column.kind, **({"sampler": column.sampler} if column.kind == "sampler" else {})}
        | ({"dropped_from_output": True} if column.drop else {})
        for column in spec.columns
    ]
    if records is None:
        records = _kept_records(files)
    reference_texts, reference_source = _reference(reference)
    signals = collapse_section(spec, records, reference_texts, reference_source)
    return {
        "name": spec.name,
        "description": spec.description,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "perpetuum_version": __version__,
        "seed": spec.seed,
        "records": {
            "requested": n_requested,
            "generated": len(entries) - len(failed),
            "failed": len(failed),
            **({"not_made": n_requested - len(entries)} if len(entries) < n_requested else {}),
            "kept": n_kept,
            "dropped": sum(drop_reasons.values()),
            "dropped_by_reason": dict(drop_reasons),
            "failed_by_reason": dict(failure_reasons),
        },
        "validators": validator_summary(spec, entries),
        "repairs": repair_section(spec, entries, n_requested, lambda usage: cost(usage, backends, prices)[1]),
        "judges": judge_agreement(spec, entries),
        "columns": columns,
        "column_order": spec.column_order(),
        "backends": backends,
        "tokens": {
            "prompt": prompt_tokens,
            "completion": completion_tokens,
            "by_backend": usage,
        },
        "wall_seconds": round(wall_seconds, 3),
        "sessions": sessions,
        "completion_tokens_per_second": round(completion_tokens / wall_seconds, 2) if wall_seconds > 0 else None,
        "cost_usd": {"total": total_cost, "by_backend": per_backend_cost},
        "prices": {name: price.model_dump() for name, price in prices.items()},
        "files": files,
        "parquet_json_columns": json_columns,
        "lineage": lineage_section(spec, backends, generation, reference_source),
        "collapse_signals": signals,
        "warnings": list(signals["warnings"]) + list(((economics or {}).get("monitors") or {}).get("warnings", [])),
        **({"economics": economics} if economics is not None else {}),
        "spec": spec.model_dump(mode="json", exclude_none=True),
    }


def spec_sha256(spec: DatasetSpec) -> str:
    """SHA-256 of the spec's canonical JSON (sorted keys): two runs of the same spec share it."""
    payload = json.dumps(spec.model_dump(mode="json", exclude_none=True), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def lineage_section(spec: DatasetSpec, backends: dict[str, dict], generation: int | None,
                    reference_source: dict | None = None) -> dict[str, Any]:
    """synthetic, generator (backends and models), spec hash, source files with their SHA-256, and generation:
    as given, else one more than the highest generation of a card found beside a source file, else 0."""
    sources = []
    for column in spec.columns:
        path = getattr(column, "file", None)
        if column.kind == "sampler" and path and Path(path).is_file():
            sources.append({"column": column.name, "path": str(path), "sha256": file_sha256(path)})
    generation = check_generation(generation)
    parents = [parent_generation(source["path"]) for source in sources]
    parents = [(level, card) for level, card in parents if level is not None]
    lineage: dict[str, Any] = {
        "synthetic": True,
        "generation": generation if generation is not None else (max(p[0] for p in parents) + 1 if parents else 0),
        "generator": {
            "kind": "llm",
            "backends": {name: {"kind": info.get("kind"), "model": info.get("model")} for name, info in backends.items()},
        },
        "spec_sha256": spec_sha256(spec),
        "seed": spec.seed,
        "sources": sources,
    }
    if parents and generation is None:
        lineage["parent_cards"] = sorted({card for _, card in parents})
    if reference_source:
        lineage["reference"] = reference_source
    return lineage


def collapse_section(spec: DatasetSpec, records: list[dict[str, Any]], reference: list[str] | None = None,
                     reference_source: dict | None = None) -> dict[str, Any]:
    """Collapse signals of the generated text columns (`perpetuum.card.signals.text_signals`)."""
    texts: dict[str, list[str]] = {}
    for column in spec.columns:
        if column.kind in TEXT_COLUMN_KINDS and not column.drop:
            values = [text_value(record.get(column.name)) for record in records]
            texts[column.name] = [value for value in values if value]
    return text_signals(texts, reference or None, reference_source=reference_source)


def text_value(value) -> str | None:
    """A text column's value as one string (a dialogue's turns joined by newlines)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        turns = [turn.get("content") for turn in value if isinstance(turn, dict) and isinstance(turn.get("content"), str)]
        return "\n".join(turns) or None
    return None


def _kept_records(files: dict[str, str]) -> list[dict[str, Any]]:
    """The kept records, read back from data.jsonl (or data.parquet) when the caller did not pass them."""
    jsonl = files.get("jsonl")
    if jsonl and Path(jsonl).is_file():
        with open(jsonl, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    parquet = files.get("parquet")
    if parquet and Path(parquet).is_file():
        import pandas as pd

        return pd.read_parquet(parquet).to_dict(orient="records")
    return []


def _reference(reference) -> tuple[list[str] | None, dict | None]:
    if reference is None:
        return None, None
    if isinstance(reference, (str, Path)):
        from perpetuum.schema.corpus import read_corpus

        texts = read_corpus(reference)
        return texts, {"path": str(reference), "sha256": file_sha256(reference), "texts": len(texts)}
    texts = [text for text in reference if isinstance(text, str)]
    return texts, {"texts": len(texts), "given": "in memory"}


def _money(value: float | None) -> str:
    return "unknown (no price in the table)" if value is None else f"${value:,.4f}"


def render_markdown(card: dict[str, Any]) -> str:
    records = card["records"]
    lines = [
        f"# {markdown_text(card['name'])}",
        "",
        markdown_text(card["description"]) if card["description"] else "_Synthetic dataset generated by Perpetuum._",
        "",
        "## Records",
        "",
        "| requested | generated | failed | dropped | kept |",
        "| ---: | ---: | ---: | ---: | ---: |",
        f"| {records['requested']} | {records['generated']} | {records['failed']} | {records['dropped']} "
        f"| {records['kept']} |",
        "",
    ]
    if records["dropped_by_reason"] or records["failed_by_reason"]:
        lines += ["| why not kept | records |", "| --- | ---: |"]
        lines += [f"| dropped: {markdown_text(reason)} | {count} |"
                  for reason, count in records["dropped_by_reason"].items()]
        lines += [f"| failed: {markdown_text(reason)} | {count} |"
                  for reason, count in records["failed_by_reason"].items()]
        lines.append("")
    if card.get("validators"):
        lines += ["## Checks", "", "| check | kind | passed | pass rate | why the others failed |",
                  "| --- | --- | ---: | ---: | --- |"]
        for name, check in card["validators"].items():
            rate = "n/a" if check["pass_rate"] is None else f"{check['pass_rate']:.1%}"
            why = "; ".join(f"{markdown_text(reason)} ({count})" for reason, count in check["failure_reasons"].items())
            lines.append(f"| {markdown_text(name)} | {check['validator']} | {check['passed']} of {check['checked']} "
                         f"| {rate} | {why or 'none'} |")
        lines.append("")
    lines += repairs_markdown(card.get("repairs"))
    lines += judges_markdown(card.get("judges"))
    lines += ["## Columns", "", "| column | kind |", "| --- | --- |"]
    for column in card["columns"]:
        kind = column["kind"] + (f" ({column['sampler']})" if "sampler" in column else "")
        hidden = " (not in output)" if column.get("dropped_from_output") else ""
        lines.append(f"| {column['name']}{hidden} | {kind} |")
    lines += ["", f"Execution order: {', '.join(card['column_order'])}.", "", "## Models and cost", ""]
    lines += ["| backend | kind | model | calls | tokens in | tokens out | cost |", "| --- | --- | --- | ---: | ---: | ---: | ---: |"]
    usage = card["tokens"]["by_backend"]
    for name, info in card["backends"].items():
        counts = usage.get(name, {})
        lines.append(
            f"| {name} | {info.get('kind', '')} | {info.get('model', '')} | {counts.get('calls', 0)} "
            f"| {counts.get('prompt_tokens', 0)} | {counts.get('completion_tokens', 0)} "
            f"| {_money(card['cost_usd']['by_backend'].get(name, 0.0))} |"
        )
    speed = card["completion_tokens_per_second"]
    lines += [
        "",
        f"Tokens: {card['tokens']['prompt']:,} in, {card['tokens']['completion']:,} out. "
        f"Wall time {card['wall_seconds']:.1f} s over {card['sessions']} session(s)"
        + (f", {speed:,.1f} output tokens/s." if speed else ".")
        + f" Total cost: {_money(card['cost_usd']['total'])}.",
        "",
        *economics_markdown(card.get("economics")),
        "## Files",
        "",
    ]
    lines += [f"- {kind}: `{Path(path).name}`" for kind, path in card["files"].items()]
    if "lineage" in card:
        lines += ["", *_lineage_markdown(card["lineage"]), "", *_collapse_markdown(card["collapse_signals"])]
    lines += [
        "",
        "## Spec",
        "",
        "```json",
        json.dumps(card["spec"], indent=2, ensure_ascii=False),
        "```",
        "",
        f"_Seed {card['seed']}; Perpetuum {card['perpetuum_version']}; created {card['created_at']}._",
        "",
    ]
    return "\n".join(lines)


def _lineage_markdown(lineage: dict[str, Any]) -> list[str]:
    models = ", ".join(f"{name} ({info.get('kind')}{', ' + str(info['model']) if info.get('model') else ''})"
                       for name, info in lineage["generator"]["backends"].items())
    lines = [
        "## Lineage",
        "",
        "| field | value |",
        "| --- | --- |",
        "| synthetic | true |",
        f"| generation | {lineage['generation']} (0: made from real seeds, not from synthetic data) |",
        f"| generator | {models or 'none'} |",
        f"| spec sha256 | {lineage['spec_sha256']} |",
    ]
    lines += [f"| source ({source['column']}) | `{Path(source['path']).name}` sha256 {source['sha256']} |"
              for source in lineage["sources"]]
    if lineage.get("reference", {}).get("sha256"):
        lines.append(f"| reference corpus | `{Path(lineage['reference']['path']).name}` sha256 "
                     f"{lineage['reference']['sha256']} |")
    return lines


def _collapse_markdown(signals: dict[str, Any]) -> list[str]:
    lines = ["## Collapse signals", ""]
    if not signals.get("computed"):
        return lines + [f"Not computed: {signals.get('reason', 'no generated text')}."]
    lines += ["| column | texts | distinct-2 | vocabulary | near duplicates | vocabulary ratio | length tail coverage |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, entry in signals["per_column"].items():
        diversity, compared = entry["diversity"], entry.get("vs_reference", {})
        cells = [name, diversity["texts"], three_decimals(diversity.get("distinct_2")), diversity["vocabulary_size"],
                 three_decimals(diversity.get("near_duplicate_rate")), three_decimals(compared.get("vocabulary_ratio")),
                 three_decimals(compared.get("length_tail_coverage"))]
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    if signals.get("note"):
        lines += ["", markdown_text(signals["note"]) + "."]
    lines += [""] + ([f"- **Warning:** {markdown_text(warning)}" for warning in signals["warnings"]] or ["No warning."])
    return lines


def write_card(card: dict[str, Any], output_dir: Path) -> dict[str, str]:
    """Write card.json and card.md into a generated dataset's folder; returns both paths."""
    return write_card_files(card, output_dir / "card.json", output_dir / "card.md", render_markdown)
