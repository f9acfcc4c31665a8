"""The record page and the conflict page, composed from the store: what the routes render, including after a
refused action (the reviewer's text comes back in its editor, with the reason it was not saved)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from perpetuum.review.desk import Desk
from perpetuum.review.history import readable_entry
from perpetuum.review.queries import neighbours, parse_query, query_string, queue_filters, store_filters
from perpetuum.review.render import anchor_for, field_views, metadata_strip
from perpetuum.review.store import VersionConflict

__all__ = ["record_page", "conflict_page"]


def record_page(desk: Desk, request: Request, record_id: int, query: str, status_code: int = 200,
                **drafts: Any) -> HTMLResponse:
    """The record with its fields, flags, history and the walk through its queue (`query`).

    drafts: what a refused action leaves on the page: `draft` ({path, value, error}: an editor reopened with the
    reviewer's text), `reject_draft` / `override_draft` ({..., error}), `confirm_flagged` (the flags an acceptance
    must be confirmed over)."""
    store = desk.store
    filters = queue_filters(parse_query(query))
    record = store.get(record_id)
    ids = store.queue_ids(**store_filters(filters))
    previous_id, next_id = neighbours(ids, record_id)
    views = field_views(record.current, record.original, store.columns, filters["below"])
    strip = metadata_strip(views, record.current)
    history = [readable_entry(entry, store.validator_columns) for entry in store.log(record_id)]
    draft = drafts.get("draft")
    # A draft for a field the page has no editor for (a verdict, a stale path) is shown on its own, at the top.
    loose_draft = draft if draft and draft["path"] not in _editor_paths(views) else None
    return desk.page(
        request, "record.html.j2", status_code, record=record, views=views, strip=strip, log=history,
        query=query_string(filters), previous_id=previous_id, next_id=next_id,
        position=(ids.index(record_id) + 1) if record_id in ids else None, queue_size=len(ids),
        draft=draft, loose_draft=loose_draft, reject_draft=drafts.get("reject_draft"),
        override_draft=drafts.get("override_draft"), confirm_flagged=drafts.get("confirm_flagged"),
        focus="loose-draft" if loose_draft else _focus(views, record.current, drafts),
    )


def _editor_paths(views: list[dict[str, Any]]) -> set[str]:
    """The paths (as the forms carry them) the record page has an editor for."""
    paths = {view["path"] for view in views if view["editable"]}
    for view in views:
        paths.update(turn["path"] for turn in view.get("turns", []) if turn["is_text"])
        paths.update(leaf["path"] for leaf in view.get("leaves", []))
    return paths


def _focus(views: list[dict[str, Any]], record: dict[str, Any], drafts: dict[str, Any]) -> str | None:
    """The element the page opens scrolled to (when its address names none): what a refused action asks about,
    else the first flagged turn, else the first failed verdict."""
    if drafts.get("draft"):
        try:
            return anchor_for(json.loads(drafts["draft"]["path"]), record)
        except (json.JSONDecodeError, TypeError):
            return None
    if drafts.get("confirm_flagged"):
        return "confirm-flagged"
    if drafts.get("override_draft"):
        return f"field-{drafts['override_draft']['column']}"
    if drafts.get("reject_draft"):
        return "action-bar"
    for view in views:
        for turn in view.get("turns", []):
            if turn["flags"]:
                return turn["anchor"]
    return next((view["anchor"] for view in views if view["shape"] == "validator" and not view["passed"]), None)


def conflict_page(desk: Desk, request: Request, conflict: VersionConflict, action: str, path: list | None,
                  attempted: Any, kind: str, query: str) -> HTMLResponse:
    """Both versions side by side (with the words that differ marked), what changed since, and the choices."""
    current = conflict.current
    theirs = None
    if path:
        theirs = current.current
        for key in path:
            theirs = theirs[key] if isinstance(theirs, (dict, list)) else None
    since = [readable_entry(entry, desk.store.validator_columns) for entry in desk.store.log(current.id)
             if entry["action"] != "conflict" and entry["version"] > conflict.attempted_version]
    mine_text = attempted if isinstance(attempted, str) and kind == "text" else json.dumps(
        attempted, ensure_ascii=False, indent=2)
    theirs_text = theirs if isinstance(theirs, str) and kind == "text" else json.dumps(
        theirs, ensure_ascii=False, indent=2)
    return desk.page(
        request, "conflict.html.j2", 409, record=current, action=action, path=path,
        path_json=json.dumps(path, ensure_ascii=False) if path else "", kind=kind, mine=mine_text,
        theirs=theirs_text, since=since, query=query, attempted_version=conflict.attempted_version,
    )
