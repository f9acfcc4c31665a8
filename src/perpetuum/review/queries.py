"""The queue's filters as they travel in URLs: parsed leniently (a bad value falls back to its default) and written
back in a stable order, so that a record page, its actions and the queue agree on which queue they walk."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from perpetuum.review.store import SORTS

__all__ = ["STATUSES", "queue_filters", "query_string", "parse_query", "qs", "neighbours", "store_filters"]

STATUSES = ("any", "pending", "accepted", "rejected", "reviewed", "edited")


def qs(query: str) -> str:
    """"?query", or nothing for an empty query."""
    return f"?{query}" if query else ""


def parse_query(query: str) -> dict[str, str]:
    return dict(parse_qsl(query))


def queue_filters(params) -> dict[str, Any]:
    below_text = (params.get("below") or "").strip()
    try:
        below = float(below_text) if below_text else None
    except ValueError:
        below = None
    status = params.get("status") or "any"
    sort = params.get("sort") or "index"
    try:
        page_number = max(1, int(params.get("page") or 1))
    except ValueError:
        page_number = 1
    return {
        "flagged": params.get("flagged") in {"1", "on", "true"},
        "below": below,
        "status": status if status in STATUSES else "any",
        "sort": sort if sort in SORTS else "index",
        "search": " ".join((params.get("q") or "").split())[:200],
        "page": page_number,
    }


def store_filters(filters: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of `ReviewStore.queue` / `queue_ids` among `filters`."""
    return {key: filters[key] for key in ("flagged", "below", "status", "sort", "search")}


def query_string(filters: dict[str, Any]) -> str:
    pairs = []
    if filters.get("flagged"):
        pairs.append(("flagged", "1"))
    if filters.get("below") is not None:
        below = filters["below"]
        pairs.append(("below", f"{below:g}" if isinstance(below, float) else str(below)))
    if filters.get("status", "any") != "any":
        pairs.append(("status", filters["status"]))
    if filters.get("search"):
        pairs.append(("q", filters["search"]))
    if filters.get("sort", "index") != "index":
        pairs.append(("sort", filters["sort"]))
    if filters.get("page", 1) != 1:
        pairs.append(("page", str(filters["page"])))
    return urlencode(pairs)


def neighbours(ids: list[int], record_id: int) -> tuple[int | None, int | None]:
    if record_id in ids:
        position = ids.index(record_id)
        return (ids[position - 1] if position > 0 else None, ids[position + 1] if position + 1 < len(ids) else None)
    # The record left the queue (e.g. it was accepted under "pending"): its neighbours by number.
    before = [i for i in ids if i < record_id]
    after = [i for i in ids if i > record_id]
    return (before[-1] if before else None, after[0] if after else None)
