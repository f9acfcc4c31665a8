"""Every error the desk answers is one of its pages (the header, the counts, a way back), never FastAPI's JSON; a
form that could not be used gives back the text typed into it."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from perpetuum.review.security import secured
from perpetuum.review.store import ReviewError

__all__ = ["install_error_pages"]

_STATUS_TITLES = {404: "Not found", 405: "Not allowed here"}


def install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(ReviewError)
    async def review_error(request: Request, error: ReviewError) -> Response:
        return request.app.state.desk.error_page(request, 404, "Not found", f"{error}.")

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        desk = request.app.state.desk
        problems = error.errors()
        if any(problem.get("loc", [None])[0] == "path" for problem in problems):
            last = len(desk.store) - 1
            given = request.url.path.rstrip("/").split("/")[2] if request.url.path.count("/") >= 2 else ""
            return desk.error_page(request, 404, "Not found",
                                   f"There is no record {given!r}: records are numbered 0 to {last}.")
        missing = ", ".join(str(problem["loc"][-1]) for problem in problems)
        typed = ""
        if request.method == "POST":
            form = await request.form()
            typed = str(form.get("value") or form.get("reason") or "")
        return desk.page(
            request, "error.html.j2", 400, title="Not saved",
            message=f"The form came without a usable {missing}; nothing was saved. Reload the record and try again"
            + (" (what you typed is below)." if typed else "."),
            text=typed or None,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        desk = request.app.state.desk
        title = _STATUS_TITLES.get(error.status_code, "Not possible")
        message = {
            404: f"The desk has no page {request.url.path}: start from the queue.",
            405: f"{request.url.path} does not answer a {request.method}: use the page's buttons.",
        }.get(error.status_code, str(error.detail))
        return desk.error_page(request, error.status_code, title, message)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Response:
        # Answered outside the guard middleware, so the security headers are added here.
        return secured(request.app.state.desk.page(
            request, "error.html.j2", 500, title="Something went wrong",
            message=f"The desk could not do this ({type(error).__name__}: {error}). Everything saved before is kept in "
            "the review store; go back to the queue and try again, and report it if it happens again.",
        ))
