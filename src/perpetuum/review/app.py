"""The review desk: a FastAPI app over a `ReviewStore`, with server-rendered pages and one small script.

    app = create_app("out/", reviewer="ana")                  # served by `perpetuum review out/`
    app = create_app("out/", token="s3cret", reviewer="ana")  # every request must carry the token

Safety, in the order a request meets it (perpetuum.review.security):
- Host check: without a token the app answers only to loopback host names, so a web page that rebinds its own DNS
  name to 127.0.0.1 cannot read it.
- Token (when set): `?token=` once (it becomes an HttpOnly, SameSite=Strict cookie and the URL is cleaned),
  the cookie, or `Authorization: Bearer`. Anything else gets 401.
- Every POST carries a CSRF token (an HMAC of a per-browser cookie under a per-server secret) and, where the browser
  sends one, an Origin equal to the app's own.
- A Content-Security-Policy allows only our own script and style, so text a model wrote cannot run even if some
  escaping were missed; Jinja escapes every value.

The pages live in perpetuum.review.routes (queue, records, decisions, log); every error is a desk page
(perpetuum.review.errors).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI

from perpetuum.review.desk import Desk
from perpetuum.review.errors import install_error_pages
from perpetuum.review.routes import ROUTERS
from perpetuum.review.security import LOOPBACK_HOSTS, CsrfSigner, install_guard, require_csrf
from perpetuum.review.store import ReviewStore

__all__ = ["create_app", "LOOPBACK_HOSTS"]


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
    app = FastAPI(
        title="Perpetuum review", docs_url=None, redoc_url=None, openapi_url=None,
        dependencies=[Depends(require_csrf)],
    )
    app.state.store = store
    app.state.desk = Desk(store, reviewer)
    app.state.csrf = CsrfSigner()
    install_guard(app, token=token, hosts={name.lower() for name in (allowed_hosts or LOOPBACK_HOSTS)})
    install_error_pages(app)
    for router in ROUTERS:
        app.include_router(router)
    return app
