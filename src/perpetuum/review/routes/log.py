"""The review log as readable text, newest first, a page at a time, filtered by record, reviewer and action; and
the form that names the reviewer of this browser."""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from perpetuum.review.desk import REVIEWER_COOKIE, Desk, desk_of
from perpetuum.review.history import readable_entry
from perpetuum.review.security import set_cookie
from perpetuum.review.store import LOG_ACTIONS

router = APIRouter()

LOG_PAGE_SIZE = 50


@router.get("/log", response_class=HTMLResponse)
def review_log(request: Request, desk: Desk = Depends(desk_of)) -> HTMLResponse:
    params = request.query_params
    record_text = (params.get("record") or "").strip()
    reviewers = desk.store.log_reviewers()
    filters = {
        "record": int(record_text) if record_text.isdigit() else None,
        "reviewer": params.get("reviewer") if params.get("reviewer") in reviewers else None,
        "action": params.get("action") if params.get("action") in LOG_ACTIONS else None,
    }
    try:
        page_number = max(1, int(params.get("page") or 1))
    except ValueError:
        page_number = 1
    entries, total = desk.store.log_page(**filters, offset=(page_number - 1) * LOG_PAGE_SIZE, limit=LOG_PAGE_SIZE)
    pages = max(1, -(-total // LOG_PAGE_SIZE))
    kept = {key: value for key, value in filters.items() if value is not None}
    return desk.page(
        request, "log.html.j2", entries=[readable_entry(entry, desk.store.validator_columns) for entry in entries],
        total=total, filters=filters, reviewers=reviewers, actions=LOG_ACTIONS, page_number=page_number,
        pages=pages, page_query=lambda number: urlencode({**kept, "page": number}),
    )


@router.post("/reviewer")
def set_reviewer(name: str = Form(""), back: str = Form("/")) -> Response:
    # Only a path of this app: "//host" and "/\\host" would leave it.
    response = RedirectResponse(back if re.match(r"/(?![/\\])", back) else "/", 303)
    name = " ".join(name.split())[:80]
    if name:
        set_cookie(response, REVIEWER_COOKIE, quote(name, safe=""))  # cookies carry ASCII only
    return response
