"""Accept, reject, back to pending. Accepting a record a validator still flags asks first; after a decision the
browser goes on to the next record of the queue."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from perpetuum.review.desk import Desk, desk_of
from perpetuum.review.pages import conflict_page, record_page
from perpetuum.review.queries import neighbours, parse_query, qs, query_string, queue_filters, store_filters
from perpetuum.review.routes.records import back_to
from perpetuum.review.store import ReviewError, StillFlagged, VersionConflict

router = APIRouter()


def next_in_queue(desk: Desk, record_id: int, form_query: str) -> RedirectResponse:
    filters = queue_filters(parse_query(form_query))
    ids = desk.store.queue_ids(**store_filters(filters))
    _, next_id = neighbours(ids, record_id)
    query = query_string(filters)
    return RedirectResponse(f"/records/{next_id}{qs(query)}" if next_id is not None else f"/{qs(query)}", 303)


@router.post("/records/{record_id}/accept")
def accept(
    request: Request, record_id: int, version: int = Form(...), while_flagged: str = Form(""), query: str = Form(""),
    desk: Desk = Depends(desk_of),
) -> Response:
    desk.store.get(record_id)
    destination = next_in_queue(desk, record_id, query)
    try:
        desk.store.accept(record_id, version=version, reviewer=desk.reviewer_of(request),
                          while_flagged=while_flagged == "1")
    except StillFlagged as flagged:
        return record_page(desk, request, record_id, query, confirm_flagged=flagged.record.flagged)
    except VersionConflict as conflict:
        return conflict_page(desk, request, conflict, "accept", None, None, "text", query)
    return destination


@router.post("/records/{record_id}/reject")
def reject(
    request: Request, record_id: int, version: int = Form(...), reason: str = Form(""), query: str = Form(""),
    desk: Desk = Depends(desk_of),
) -> Response:
    desk.store.get(record_id)
    destination = next_in_queue(desk, record_id, query)
    try:
        desk.store.reject(record_id, reason, version=version, reviewer=desk.reviewer_of(request))
    except VersionConflict as conflict:
        return conflict_page(desk, request, conflict, "reject", None, reason, "text", query)
    except ReviewError as error:
        return record_page(desk, request, record_id, query, 400,
                           reject_draft={"reason": reason, "error": f"Not rejected: {error}."})
    return destination


@router.post("/records/{record_id}/reset")
def reset(
    request: Request, record_id: int, version: int = Form(...), query: str = Form(""), desk: Desk = Depends(desk_of),
) -> Response:
    desk.store.get(record_id)
    try:
        desk.store.reset(record_id, version=version, reviewer=desk.reviewer_of(request))
    except VersionConflict as conflict:
        return conflict_page(desk, request, conflict, "reset", None, None, "text", query)
    return back_to(record_id, query)
