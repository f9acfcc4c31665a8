"""The queue (filters, free-text search, pages) and the desk's static files."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from perpetuum.review.desk import Desk, desk_of
from perpetuum.review.queries import query_string, queue_filters, store_filters
from perpetuum.review.store import SORTS

router = APIRouter()

PAGE_SIZE = 100
STATIC = Path(__file__).parent.parent / "static"
STATIC_FILES = {"review.js": "text/javascript", "review.css": "text/css"}


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name not in STATIC_FILES:
        raise HTTPException(404)
    return Response((STATIC / name).read_bytes(), media_type=STATIC_FILES[name])


@router.get("/favicon.ico")
def favicon() -> Response:
    return Response(status_code=204)


@router.get("/", response_class=HTMLResponse)
def queue(request: Request, desk: Desk = Depends(desk_of)) -> HTMLResponse:
    filters = queue_filters(request.query_params)
    items = desk.store.queue(**store_filters(filters))
    page_number = filters["page"]
    shown = items[(page_number - 1) * PAGE_SIZE : page_number * PAGE_SIZE]
    return desk.page(
        request, "queue.html.j2", filters=filters, items=shown, total=len(items), page_number=page_number,
        pages=max(1, -(-len(items) // PAGE_SIZE)), query=query_string(filters), sorts=list(SORTS),
        query_with=lambda **changes: query_string({**filters, **changes}),
    )
