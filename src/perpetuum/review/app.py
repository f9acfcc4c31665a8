"""The review desk: a FastAPI app over a `ReviewStore`, with server-rendered pages and one small script.

    app = create_app("out/", reviewer="ana")                  # served by `perpetuum review out/`
    app = create_app("out/", token="s3cret", reviewer="ana")  # every request must carry the token

Safety, in the order a request meets it:
- Host check: without a token the app answers only to loopback host names, so a web page that rebinds its own DNS
  name to 127.0.0.1 cannot read it.
- Token (when set): `?token=` once (it becomes an HttpOnly, SameSite=Strict cookie and the URL is cleaned),
  the cookie, or `Authorization: Bearer`. Anything else gets 401.
- Every POST carries a CSRF token (an HMAC of a per-browser cookie under a per-server secret) and, where the browser
  sends one, an Origin equal to the app's own.
- A Content-Security-Policy allows only our own script and style, so text a model wrote cannot run even if some
  escaping were missed; Jinja escapes every value.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from perpetuum.review.render import field_views, text_html
from perpetuum.review.store import SORTS, ReviewError, ReviewStore, VersionConflict, field_label

__all__ = ["create_app", "LOOPBACK_HOSTS"]

HERE = Path(__file__).parent
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
TOKEN_COOKIE = "perpetuum_review_token"
CSRF_COOKIE = "perpetuum_review_csrf"
REVIEWER_COOKIE = "perpetuum_reviewer"
PAGE_SIZE = 100
STATIC_FILES = {"review.js": "text/javascript", "review.css": "text/css"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _templates() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True, default_for_string=True)
    )
    environment.filters["text_html"] = text_html
    environment.filters["qs"] = _qs
    environment.filters["label"] = lambda path: field_label(path) if path else ""
    environment.filters["tojson_pretty"] = lambda value: json.dumps(value, ensure_ascii=False, indent=2)
    return environment


def _host_name(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def create_app(
    folder: str | Path,
    *,
    token: str | None = None,
    reviewer: str | None = None,
    store: ReviewStore | None = None,
    allowed_hosts: set[str] | None = None,
) -> FastAPI:
    """The review app over the generated dataset in `folder` (its review store opened or created).

    token: required on every request when given. reviewer: the default reviewer name (each browser may set its
    own). allowed_hosts: host names the app answers to without a token (default: loopback names)."""
    store = store or ReviewStore.open(folder)
    default_reviewer = (reviewer or _user_name()).strip() or "reviewer"
    csrf_secret = secrets.token_bytes(32)
    hosts = {name.lower() for name in (allowed_hosts or LOOPBACK_HOSTS)}
    environment = _templates()

    def csrf_for(cookie: str) -> str:
        return hmac.new(csrf_secret, cookie.encode(), hashlib.sha256).hexdigest()

    async def require_csrf(request: Request) -> None:
        """Every POST: the form's token must be the HMAC of this browser's CSRF cookie (FastAPI has parsed the
        form already, so reading it here costs nothing)."""
        if request.method in {"GET", "HEAD"}:
            return
        cookie = request.cookies.get(CSRF_COOKIE, "")
        offered = str((await request.form()).get("csrf", ""))
        if len(cookie) < 32 or not hmac.compare_digest(offered, csrf_for(cookie)):
            raise _Refused("the form's CSRF token is missing or wrong: reload the page and try again.")

    app = FastAPI(
        title="Perpetuum review", docs_url=None, redoc_url=None, openapi_url=None,
        dependencies=[Depends(require_csrf)],
    )
    app.state.store = store

    @app.exception_handler(_Refused)
    async def refused(request: Request, error: _Refused) -> Response:
        return PlainTextResponse(f"Refused: {error}", 403)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if token is None and _host_name(request.headers.get("host", "")) not in hosts:
            return _secured(PlainTextResponse("Unknown host: open the review desk at the address it printed.", 403))
        set_token_cookie = False
        if token is not None:
            offered = [
                request.query_params.get("token", ""),
                request.cookies.get(TOKEN_COOKIE, ""),
                request.headers.get("authorization", "").removeprefix("Bearer ").strip(),
            ]
            if not any(offered_token and hmac.compare_digest(offered_token, token) for offered_token in offered):
                return _secured(
                    PlainTextResponse(
                        "A token is required: open the address `perpetuum review` printed (it ends in ?token=...).", 401
                    )
                )
            if request.query_params.get("token") and request.method == "GET":
                # Move the token from the URL into a cookie, so it leaves the address bar and the history.
                query = urlencode([(key, value) for key, value in request.query_params.multi_items() if key != "token"])
                response = RedirectResponse(request.url.path + (f"?{query}" if query else ""), status_code=303)
                _set_cookie(response, TOKEN_COOKIE, token)
                return _secured(response)
            set_token_cookie = request.cookies.get(TOKEN_COOKIE) != token
        cookie = request.cookies.get(CSRF_COOKIE, "")
        new_cookie = None
        if len(cookie) < 32:
            cookie = new_cookie = secrets.token_urlsafe(32)
        request.state.csrf = csrf_for(cookie)
        if request.method not in {"GET", "HEAD"}:
            problem = _origin_problem(request)
            if problem:
                return _secured(PlainTextResponse(f"Refused: {problem}", 403))
        response = await call_next(request)
        if new_cookie:
            _set_cookie(response, CSRF_COOKIE, new_cookie)
        if set_token_cookie:
            _set_cookie(response, TOKEN_COOKIE, token)
        return _secured(response)

    def reviewer_of(request: Request) -> str:
        return unquote(request.cookies.get(REVIEWER_COOKIE, "")).strip()[:80] or default_reviewer

    def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        template = environment.get_template(name)
        html = template.render(
            csrf=request.state.csrf, reviewer=reviewer_of(request), counts=store.counts(),
            dataset=store.dataset.folder.name, **context,
        )
        return HTMLResponse(html, status_code=status_code)

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in STATIC_FILES:
            raise HTTPException(404)
        return Response((HERE / "static" / name).read_bytes(), media_type=STATIC_FILES[name])

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/", response_class=HTMLResponse)
    def queue(request: Request) -> HTMLResponse:
        filters = _queue_filters(request.query_params)
        items = store.queue(**{key: filters[key] for key in ("flagged", "below", "status", "sort")})
        page_number = filters["page"]
        shown = items[(page_number - 1) * PAGE_SIZE : page_number * PAGE_SIZE]
        return page(
            request, "queue.html.j2", filters=filters, items=shown, total=len(items), page_number=page_number,
            pages=max(1, -(-len(items) // PAGE_SIZE)), query=_query(filters), sorts=list(SORTS),
            query_with=lambda **changes: _query({**filters, **changes}),
        )

    @app.get("/records/{record_id}", response_class=HTMLResponse)
    def record_page(request: Request, record_id: int) -> HTMLResponse:
        filters = _queue_filters(request.query_params)
        record = _get(store, record_id)
        ids = store.queue_ids(**{k: filters[k] for k in ("flagged", "below", "status", "sort")})
        previous_id, next_id = _neighbours(ids, record_id)
        threshold = filters["below"] if filters["below"] is not None else None
        return page(
            request, "record.html.j2", record=record, views=field_views(record.current, record.original,
            store.columns, threshold), log=store.log(record_id), query=_query(filters), previous_id=previous_id,
            next_id=next_id, position=(ids.index(record_id) + 1) if record_id in ids else None, queue_size=len(ids),
        )

    def after_action(request: Request, record_id: int, form_query: str) -> RedirectResponse:
        filters = _queue_filters(_parse_query(form_query))
        query = _query(filters)
        return RedirectResponse(f"/records/{record_id}{_qs(query)}", status_code=303)

    def next_in_queue(record_id: int, form_query: str) -> str:
        filters = _queue_filters(_parse_query(form_query))
        ids = store.queue_ids(**{k: filters[k] for k in ("flagged", "below", "status", "sort")})
        _, next_id = _neighbours(ids, record_id)
        query = _query(filters)
        return f"/records/{next_id}{_qs(query)}" if next_id is not None else f"/{_qs(query)}"

    @app.post("/records/{record_id}/edit")
    def edit(
        request: Request, record_id: int, path: str = Form(...), value: str = Form(""), version: int = Form(...),
        kind: str = Form("text"), query: str = Form(""),
    ) -> Response:
        record = _get(store, record_id)
        try:
            parsed_path = json.loads(path)
            new_value: Any = value.replace("\r\n", "\n") if kind == "text" else json.loads(value)
        except json.JSONDecodeError as error:
            return page(request, "error.html.j2", 400, title="Not valid JSON", record=record,
                        message=f"The value is not valid JSON ({error.msg}, line {error.lineno}); nothing was saved. "
                        "Your text is below: copy it, go back and fix it.", text=value, query=query)
        try:
            store.edit(record_id, parsed_path, new_value, version=version, reviewer=reviewer_of(request))
        except VersionConflict as conflict:
            return conflict_page(request, conflict, "edit", parsed_path, new_value, kind, query)
        except ReviewError as error:
            return page(request, "error.html.j2", 400, title="Not saved", record=record, message=str(error),
                        text=value, query=query)
        return after_action(request, record_id, query)

    @app.post("/records/{record_id}/accept")
    def accept(request: Request, record_id: int, version: int = Form(...), query: str = Form("")) -> Response:
        _get(store, record_id)
        destination = next_in_queue(record_id, query)
        try:
            store.accept(record_id, version=version, reviewer=reviewer_of(request))
        except VersionConflict as conflict:
            return conflict_page(request, conflict, "accept", None, None, "text", query)
        return RedirectResponse(destination, status_code=303)

    @app.post("/records/{record_id}/reject")
    def reject(
        request: Request, record_id: int, version: int = Form(...), reason: str = Form(""), query: str = Form("")
    ) -> Response:
        record = _get(store, record_id)
        destination = next_in_queue(record_id, query)
        try:
            store.reject(record_id, reason, version=version, reviewer=reviewer_of(request))
        except VersionConflict as conflict:
            return conflict_page(request, conflict, "reject", None, reason, "text", query)
        except ReviewError as error:
            return page(request, "error.html.j2", 400, title="Not rejected", record=record, message=str(error),
                        text=None, query=query)
        return RedirectResponse(destination, status_code=303)

    @app.post("/records/{record_id}/reset")
    def reset(request: Request, record_id: int, version: int = Form(...), query: str = Form("")) -> Response:
        _get(store, record_id)
        try:
            store.reset(record_id, version=version, reviewer=reviewer_of(request))
        except VersionConflict as conflict:
            return conflict_page(request, conflict, "reset", None, None, "text", query)
        return after_action(request, record_id, query)

    def conflict_page(request, conflict: VersionConflict, action, path, attempted, kind, query) -> HTMLResponse:
        current = conflict.current
        theirs = None
        if path:
            theirs = current.current
            for key in path:
                theirs = theirs[key] if isinstance(theirs, (dict, list)) else None
        since = [entry for entry in store.log(current.id)
                 if entry["action"] != "conflict" and entry["version"] > conflict.attempted_version]
        mine_text = attempted if isinstance(attempted, str) and kind == "text" else json.dumps(
            attempted, ensure_ascii=False, indent=2)
        theirs_text = theirs if isinstance(theirs, str) and kind == "text" else json.dumps(
            theirs, ensure_ascii=False, indent=2)
        return page(
            request, "conflict.html.j2", 409, record=current, action=action, path=path,
            path_json=json.dumps(path, ensure_ascii=False) if path else "", kind=kind, mine=mine_text,
            theirs=theirs_text, since=since, query=query, attempted_version=conflict.attempted_version,
        )

    @app.get("/log", response_class=HTMLResponse)
    def review_log(request: Request) -> HTMLResponse:
        record = request.query_params.get("record")
        entries = store.log(int(record) if record and record.isdigit() else None)
        return page(request, "log.html.j2", entries=list(reversed(entries)))

    @app.post("/reviewer")
    def set_reviewer(request: Request, name: str = Form(""), back: str = Form("/")) -> Response:
        # Only a path of this app: "//host" and "/\\host" would leave it.
        response = RedirectResponse(back if re.match(r"/(?![/\\])", back) else "/", 303)
        name = " ".join(name.split())[:80]
        if name:
            _set_cookie(response, REVIEWER_COOKIE, quote(name, safe=""))  # cookies carry ASCII only
        return response

    @app.exception_handler(ReviewError)
    async def review_error(request: Request, error: ReviewError) -> Response:
        return page(request, "error.html.j2", 404, title="Not found", record=None, message=str(error), text=None,
                    query="")

    return app


def _user_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "reviewer"


def _get(store: ReviewStore, record_id: int):
    return store.get(record_id)  # ReviewError -> the handler's 404 page


def _set_cookie(response: Response, name: str, value: str) -> None:
    response.set_cookie(name, value, httponly=True, samesite="strict", path="/")


def _secured(response: Response) -> Response:
    for header, value in SECURITY_HEADERS.items():
        response.headers.setdefault(header, value)
    return response


class _Refused(Exception):
    """A request refused for safety (403)."""


def _origin_problem(request: Request) -> str | None:
    """A browser names the page a POST comes from; it must be this app (the CSRF token is checked as well)."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower():
        return "the request came from another site (its Origin is not this app)."
    return None


def _qs(query: str) -> str:
    """"?query", or nothing for an empty query."""
    return f"?{query}" if query else ""


def _parse_query(query: str) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(query))


def _queue_filters(params) -> dict[str, Any]:
    below_text = (params.get("below") or "").strip()
    try:
        below = float(below_text) if below_text else None
    except ValueError:
        below = None
    status = params.get("status") or "any"
    if status not in {"any", "pending", "accepted", "rejected", "reviewed", "edited"}:
        status = "any"
    sort = params.get("sort") or "index"
    if sort not in SORTS:
        sort = "index"
    try:
        page_number = max(1, int(params.get("page") or 1))
    except ValueError:
        page_number = 1
    return {
        "flagged": params.get("flagged") in {"1", "on", "true"},
        "below": below,
        "status": status,
        "sort": sort,
        "page": page_number,
    }


def _query(filters: dict[str, Any]) -> str:
    pairs = []
    if filters.get("flagged"):
        pairs.append(("flagged", "1"))
    if filters.get("below") is not None:
        below = filters["below"]
        pairs.append(("below", f"{below:g}" if isinstance(below, float) else str(below)))
    if filters.get("status", "any") != "any":
        pairs.append(("status", filters["status"]))
    if filters.get("sort", "index") != "index":
        pairs.append(("sort", filters["sort"]))
    if filters.get("page", 1) != 1:
        pairs.append(("page", str(filters["page"])))
    return urlencode(pairs)


def _neighbours(ids: list[int], record_id: int) -> tuple[int | None, int | None]:
    if record_id in ids:
        position = ids.index(record_id)
        return (ids[position - 1] if position > 0 else None, ids[position + 1] if position + 1 < len(ids) else None)
    # The record left the queue (e.g. it was accepted under "pending"): its neighbours by number.
    before = [i for i in ids if i < record_id]
    after = [i for i in ids if i > record_id]
    return (before[-1] if before else None, after[0] if after else None)
