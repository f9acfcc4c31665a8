"""The review log as a reviewer reads it: one sentence per action, with a word-level diff where text changed and,
for an edit, what "revert this field" would put back."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from perpetuum.review.diff import word_diff

__all__ = ["readable_entry"]


def _verdict(value: Any) -> str:
    if not isinstance(value, dict) or "passed" not in value:
        return "no verdict"
    message = f" ({value['message']})" if value.get("message") else ""
    return ("passed" if value["passed"] else "failed") + message


def readable_entry(entry: dict[str, Any], validator_columns: Collection[str] = ()) -> dict[str, Any]:
    """The log `entry` with `summary` (a sentence), `diff` (HTML, or None) and `revert` ({path, value, kind} for an
    edit of a field a reviewer may edit, else None) added."""
    action, before, after, field = entry["action"], entry["before"], entry["after"], entry.get("field") or ""
    diff, revert = None, None
    if action == "edit":
        summary = f"edited {field}"
        diff = word_diff(before, after)
        if entry.get("path") and entry["path"][0] not in validator_columns:
            text = isinstance(before, str)
            revert = {"path": json.dumps(entry["path"], ensure_ascii=False), "kind": "text" if text else "json",
                      "value": before if text else json.dumps(before, ensure_ascii=False, indent=2)}
    elif action == "recheck":
        summary = f"{field} checked again after the edit: {_verdict(before)} → {_verdict(after)}"
    elif action == "override":
        override = (after or {}).get("override") or {}
        summary = (f"{field} overridden by hand to {'passed' if after.get('passed') else 'failed'} "
                   f"(was {'passed' if override.get('passed_before') else 'failed'}): {override.get('reason', '')}")
    elif action in {"repair accept", "repair revert"}:
        kept = action == "repair accept"
        summary = f"{'kept the automatic repair of' if kept else 'reverted the automatic repair of'} {field}"
        if not kept:
            diff = word_diff((before or {}).get("content"), (after or {}).get("content"))
    elif action == "accept":
        flagged = (after or {}).get("while_flagged")
        summary = "accepted" + (f" while flagged by {', '.join(flagged)}" if flagged else "")
    elif action == "reject":
        summary = f"rejected: {(after or {}).get('reason')}"
    elif action == "reset":
        summary = f"back to pending (was {(before or {}).get('status')})"
    elif action == "conflict":
        attempted = (after or {}).get("action", "change")
        summary = (f"{attempted} refused: it was made on version {entry['version']}, and someone had saved the record "
                   "since (the attempt is kept here)")
        value = (after or {}).get("value")
        if value is not None and attempted == "edit":
            diff = word_diff("", value)
    else:
        summary = action
    return {**entry, "summary": summary, "diff": diff, "revert": revert}
