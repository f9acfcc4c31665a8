"""A record's page and the changes made on it: editing a field, overriding a verdict with a reason, keeping or
reverting an automatic repair. After a change the browser returns to the changed field (`#lesson-turn-3`)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from perpetuum.review.desk import Desk, desk_of
from perpetuum.review.pages import conflict_page, record_page
from perpetuum.review.queries import parse_query, qs, query_string, queue_filters
from perpetuum.review.render import anchor_for
from perpetuum.review.store import ReviewError, VersionConflict

router = APIRouter()


def back_to(record_id: int, query: str, anchor: str | None = None) -> RedirectResponse:
    filters = queue_filters(parse_query(query))
    return RedirectResponse(f"/records/{record_id}{qs(query_string(filters))}" + (f"#{anchor}" if anchor else ""),
                            status_code=303)


@router.get("/records/{record_id}", response_class=HTMLResponse)
def show(request: Request, record_id: int, desk: Desk = Depends(desk_of)) -> HTMLResponse:
    return record_page(desk, request, record_id, request.url.query)


@router.post("/records/{record_id}/edit")
def edit(
    request: Request, record_id: int, path: str = Form(...), value: str = Form(""), version: int = Form(...),
    kind: str = Form("text"), query: str = Form(""), desk: Desk = Depends(desk_of),
) -> Response:
    record = desk.store.get(record_id)
    draft = {"path": path, "value": value}
    try:
        parsed_path = json.loads(path)
        draft["path"] = json.dumps(parsed_path, ensure_ascii=False)
    except json.JSONDecodeError:
        return record_page(desk, request, record_id, query, 400, draft={**draft, "error": "The field's path is not "
                           "valid; reload the page and try again."})
    try:
        new_value: Any = value.replace("\r\n", "\n") if kind == "text" else json.loads(value)
    except json.JSONDecodeError as error:
        return record_page(desk, request, record_id, query, 400, draft={
            **draft, "error": f"Not saved: this is not valid JSON ({error.msg}, line {error.lineno}, column "
                              f"{error.colno}). Fix it here and save again."})
    try:
        desk.store.edit(record_id, parsed_path, new_value, version=version, reviewer=desk.reviewer_of(request))
    except VersionConflict as conflict:
        return conflict_page(desk, request, conflict, "edit", parsed_path, new_value, kind, query)
    except ReviewError as error:
        return record_page(desk, request, record_id, query, 400, draft={**draft, "error": f"Not saved: {error}."})
    return back_to(record_id, query, anchor_for(parsed_path, record.current))


@router.post("/records/{record_id}/override")
def override(
    request: Request, record_id: int, column: str = Form(...), passed: str = Form(...), reason: str = Form(""),
    version: int = Form(...), query: str = Form(""), desk: Desk = Depends(desk_of),
) -> Response:
    desk.store.get(record_id)
    try:
        desk.store.override(record_id, column, passed == "1", reason, version=version,
                            reviewer=desk.reviewer_of(request))
    except VersionConflict as conflict:
        return conflict_page(desk, request, conflict, "override", None, reason, "text", query)
    except ReviewError as error:
        return record_page(desk, request, record_id, query, 400, override_draft={
            "column": column, "reason": reason, "error": f"Not overridden: {error}."})
    return back_to(record_id, query, f"field-{column}")


@router.post("/records/{record_id}/repair")
def repair(
    request: Request, record_id: int, path: str = Form(...), decision: str = Form(...), version: int = Form(...),
    query: str = Form(""), desk: Desk = Depends(desk_of),
) -> Response:
    record = desk.store.get(record_id)
    try:
        parsed_path = json.loads(path)
        desk.store.decide_repair(record_id, parsed_path, decision, version=version, reviewer=desk.reviewer_of(request))
    except VersionConflict as conflict:
        return conflict_page(desk, request, conflict, f"repair {decision}", None, None, "text", query)
    except (ReviewError, json.JSONDecodeError) as error:
        return desk.error_page(request, 400, "Repair not changed", f"{error}.")
    return back_to(record_id, query, anchor_for(parsed_path, record.current))
