"""The dataset card's `repairs` section: for each repaired column or dialogue role (a `repair` key in the spec),
how often the first answer passed its validator and how often the final one does, over the records requested and
over the records made, the repair attempts used, and the tokens and cost they took.

A column's first answer passed when its validator passed it; a role's, when the validator flagged none of its
turns. After repair, a column passes when its validator passes the final value, a role when none of its turns is
still flagged."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from perpetuum.markdown import markdown_text

if TYPE_CHECKING:
    from perpetuum.pipeline.spec import DatasetSpec

__all__ = ["repair_section", "repairs_markdown"]


def _rate(count: int, total: int) -> float | None:
    return round(count / total, 4) if total else None


def _repaired(spec: DatasetSpec) -> list[tuple[str, str | None, Any, str]]:
    """(column, role name or None, its repair config, its backend name) for every `repair` key of the spec."""
    found = []
    for column in spec.columns:
        if getattr(column, "repair", None) is not None:
            found.append((column.name, None, column.repair, spec.backend_for(column.backend)))
        for role in getattr(column, "roles", None) or []:
            if role.repair is not None:
                found.append((column.name, role.name, role.repair, spec.backend_for(role.backend or column.backend)))
    return found


def repair_section(spec: DatasetSpec, entries: list[dict[str, Any]], n_requested: int,
                   dollars_for: Callable[[dict[str, dict]], float | None] | None = None) -> dict[str, Any]:
    """{label: figures} for every repaired column ("story") or dialogue role ("lesson.teacher") of `spec`, from the
    run's entries (their "repairs"). dollars_for: {backend: {prompt_tokens, completion_tokens}} -> US dollars
    (None: unknown), for the repairs' cost."""
    made = [entry for entry in entries if entry["status"] == "ok"]
    section: dict[str, Any] = {}
    for column, role, config, backend in _repaired(spec):

        def summaries(of: list[dict]) -> list[dict]:
            return [summary for entry in of for summary in entry.get("repairs") or []
                    if summary.get("column") == column and summary.get("role") == role]

        checked = summaries(made)
        spent = summaries(entries)  # failed records spent tokens too
        first = sum(bool(summary["first_passed"]) for summary in checked)
        final = sum(bool(summary["passed"]) for summary in checked)
        needed = [summary for summary in checked if not summary["first_passed"]]
        tokens = {"prompt": sum(s.get("prompt_tokens", 0) for s in spent),
                  "completion": sum(s.get("completion_tokens", 0) for s in spent)}
        usage = {backend: {"prompt_tokens": tokens["prompt"], "completion_tokens": tokens["completion"]}}
        dollars = dollars_for(usage) if dollars_for is not None else None
        figures: dict[str, Any] = {
            "column": column,
            **({"role": role} if role is not None else {}),
            "validator": config.validator,
            "attempts_allowed": config.attempts,
            "records_checked": len(checked),
            "first_try_passed": first,
            "after_repair_passed": final,
            "first_try_pass_rate": {"of_requested": _rate(first, n_requested), "of_made": _rate(first, len(made))},
            "after_repair_pass_rate": {"of_requested": _rate(final, n_requested), "of_made": _rate(final, len(made))},
            "records_repaired": len(needed),
            "records_fixed": sum(bool(summary["passed"]) for summary in needed),
            "attempts_used": sum(summary["attempts"] for summary in spent),
            "mean_attempts_per_repaired_record": _rate(sum(s["attempts"] for s in needed), len(needed)),
            "tokens": tokens,
            "backend": backend,
            "cost_usd": dollars,
        }
        if role is not None:
            figures["turns_checked"] = sum(summary.get("turns_checked", 0) for summary in checked)
            figures["turns_flagged"] = sum(summary.get("turns_flagged", 0) for summary in checked)
        section[column if role is None else f"{column}.{role}"] = figures
    return section


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def repairs_markdown(section: dict[str, Any] | None) -> list[str]:
    """The card's "Repairs" section in Markdown (no lines when nothing is repaired)."""
    if not section:
        return []
    lines = ["## Repairs", "",
             "First answers checked by a validator and, when they failed, asked for again with the failure shown.",
             "", "| repaired | validator | first try (made / requested) | after repair (made / requested) "
             "| records repaired (fixed) | attempts used | repair tokens in / out | repair cost |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for label, figures in section.items():
        first, final = figures["first_try_pass_rate"], figures["after_repair_pass_rate"]
        cost = figures.get("cost_usd")
        lines.append(
            f"| {markdown_text(label)} | {markdown_text(figures['validator'])} "
            f"| {_percent(first['of_made'])} / {_percent(first['of_requested'])} "
            f"| {_percent(final['of_made'])} / {_percent(final['of_requested'])} "
            f"| {figures['records_repaired']} ({figures['records_fixed']}) "
            f"| {figures['attempts_used']} (up to {figures['attempts_allowed']} a "
            f"{'turn' if 'role' in figures else 'record'}) "
            f"| {figures['tokens']['prompt']:,} / {figures['tokens']['completion']:,} "
            f"| {'unknown' if cost is None else f'${cost:,.4f}'} |"
        )
    lines.append("")
    return lines
