"""The desk's guards, in the order a request meets them (see perpetuum.review.app): the Host check, the token, the
CSRF token and Origin of every POST, and the security headers of every answer."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

__all__ = ["LOOPBACK_HOSTS", "CsrfSigner", "install_guard", "require_csrf", "set_cookie", "secured", "Refused"]

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
TOKEN_COOKIE = "perpetuum_review_token"
CSRF_COOKIE = "perpetuum_review_csrf"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class Refused(Exception):
    """A request refused for safety (403)."""


class CsrfSigner:
    """A form's CSRF token: the HMAC of the browser's CSRF cookie under a secret that lives as long as the server."""

    def __init__(self) -> None:
        self._secret = secrets.token_bytes(32)

    def token_for(self, cookie: str) -> str:
        return hmac.new(self._secret, cookie.encode(), hashlib.sha256).hexdigest()


def set_cookie(response: Response, name: str, value: str) -> None:
    response.set_cookie(name, value, httponly=True, samesite="strict", path="/")


def secured(response: Response) -> Response:
    for header, value in SECURITY_HEADERS.items():
        response.headers.setdefault(header, value)
    return response


def _host_name(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _origin_problem(request: Request) -> str | None:
    """A browser names the page a POST comes from; it must be this app (the CSRF token is checked as well)."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower():
        return "the request came from another site (its Origin is not this app)."
    return None


async def require_csrf(request: Request) -> None:
    """Every POST: the form's token must be the HMAC of this browser's CSRF cookie (FastAPI has parsed the form
    already, so reading it here costs nothing)."""
    if request.method in {"GET", "HEAD"}:
        return
    cookie = request.cookies.get(CSRF_COOKIE, "")
    offered = str((await request.form()).get("csrf", ""))
    signer: CsrfSigner = request.app.state.csrf
    if len(cookie) < 32 or not hmac.compare_digest(offered, signer.token_for(cookie)):
        raise Refused("the form's CSRF token is missing or wrong (the desk restarts with a new secret, so a page "
                      "loaded before a restart has an old one): nothing was saved. Reload the record and make the change "
                      "again.")


def install_guard(app: FastAPI, *, token: str | None, hosts: set[str]) -> None:
    """The middleware that checks Host, token and Origin, hands each page its CSRF token, and adds the headers."""
    signer: CsrfSigner = app.state.csrf

    @app.exception_handler(Refused)
    async def refused(request: Request, error: Refused) -> Response:
        # A desk page that gives back what was typed: the same browser's form, refused (another site's form carries
        # an Origin and is answered in plain text by the guard before it gets here).
        form = await request.form()
        typed = str(form.get("value") or form.get("reason") or "")
        return request.app.state.desk.page(request, "error.html.j2", 403, title="Refused", message=f"Refused: {error}",
                                           text=typed or None)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if token is None and _host_name(request.headers.get("host", "")) not in hosts:
            return secured(PlainTextResponse("Unknown host: open the review desk at the address it printed.", 403))
        set_token_cookie = False
        if token is not None:
            offered = [
                request.query_params.get("token", ""),
                request.cookies.get(TOKEN_COOKIE, ""),
                request.headers.get("authorization", "").removeprefix("Bearer ").strip(),
            ]
            if not any(offered_token and hmac.compare_digest(offered_token, token) for offered_token in offered):
                return secured(
                    PlainTextResponse(
                        "A token is required: open the address `perpetuum review` printed (it ends in ?token=...).", 401
                    )
                )
            if request.query_params.get("token") and request.method == "GET":
                # Move the token from the URL into a cookie, so it leaves the address bar and the history.
                query = urlencode([(key, value) for key, value in request.query_params.multi_items() if key != "token"])
                response = RedirectResponse(request.url.path + (f"?{query}" if query else ""), status_code=303)
                set_cookie(response, TOKEN_COOKIE, token)
                return secured(response)
            set_token_cookie = request.cookies.get(TOKEN_COOKIE) != token
        cookie = request.cookies.get(CSRF_COOKIE, "")
        new_cookie = None
        if len(cookie) < 32:
            cookie = new_cookie = secrets.token_urlsafe(32)
        request.state.csrf = signer.token_for(cookie)
        if request.method not in {"GET", "HEAD"}:
            problem = _origin_problem(request)
            if problem:
                return secured(PlainTextResponse(f"Refused: {problem}", 403))
        response = await call_next(request)
        if new_cookie:
            set_cookie(response, CSRF_COOKIE, new_cookie)
        if set_token_cookie:
            set_cookie(response, TOKEN_COOKIE, token)
        return secured(response)
