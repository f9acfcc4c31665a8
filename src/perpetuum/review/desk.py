"""What every route of the desk shares: the store, the templates, the reviewer's name, and page rendering."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from perpetuum.review.diff import word_diff
from perpetuum.review.queries import qs
from perpetuum.review.render import text_html
from perpetuum.review.store import ReviewStore, field_label

__all__ = ["Desk", "desk_of", "REVIEWER_COOKIE"]

HERE = Path(__file__).parent
REVIEWER_COOKIE = "perpetuum_reviewer"


def _templates() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True, default_for_string=True)
    )
    environment.filters["text_html"] = text_html
    environment.filters["qs"] = qs
    environment.filters["label"] = lambda path: field_label(path) if path else ""
    environment.filters["tojson_pretty"] = lambda value: json.dumps(value, ensure_ascii=False, indent=2)
    environment.globals["word_diff"] = word_diff
    return environment


def _user_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "reviewer"


class Desk:
    """The review desk over one store: `page` renders a template with what every page shows (counts, reviewer,
    the form's CSRF token)."""

    def __init__(self, store: ReviewStore, reviewer: str | None = None):
        self.store = store
        self.default_reviewer = (reviewer or _user_name()).strip() or "reviewer"
        self.environment = _templates()

    def reviewer_of(self, request: Request) -> str:
        return unquote(request.cookies.get(REVIEWER_COOKIE, "")).strip()[:80] or self.default_reviewer

    def page(self, request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = self.environment.get_template(name).render(
            csrf=getattr(request.state, "csrf", ""), reviewer=self.reviewer_of(request), counts=self.store.counts(),
            dataset=self.store.dataset.folder.name, **context,
        )
        return HTMLResponse(html, status_code=status_code)

    def error_page(self, request: Request, status_code: int, title: str, message: str) -> HTMLResponse:
        return self.page(request, "error.html.j2", status_code, title=title, message=message)


def desk_of(request: Request) -> Desk:
    """The desk serving this request (a FastAPI dependency)."""
    return request.app.state.desk
