"""One rendering for every application error: ``{"error": ClassName, "detail": message}``."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, RootModel
from sqlalchemy.exc import DBAPIError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.exceptions import AppError, InvalidInput

logger = logging.getLogger(__name__)

_NUL_TEXT = "cannot contain NUL"


class TextWithNul(InvalidInput):
    """PostgreSQL text cannot hold U+0000; the database refuses it when the query is sent."""

    def __init__(self) -> None:
        super().__init__("Text fields must not contain NUL (U+0000) characters")


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return error_response(exc)


def error_response(exc: AppError) -> JSONResponse:
    """The answer to ``exc``, for a route that must add to it (a cleared cookie)."""
    return JSONResponse(
        status_code=exc.status_code,
        content={"error": type(exc).__name__, "detail": exc.message},
        headers=exc.headers or None,
    )


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    """Bad text is bad input on any route; every other database error stays a server fault."""
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(cause, psycopg.DataError) and _NUL_TEXT in str(cause):
        return await _app_error(request, TextWithNul())
    raise exc


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(DBAPIError, _data_error)
    app.add_exception_handler(psycopg.DataError, _data_error)


class UnexpectedErrors:
    """Answer an unexpected exception with a JSON 500 from inside the middleware stack.

    Starlette's own 500 comes from ``ServerErrorMiddleware``, which wraps every user middleware,
    so it left without the security headers; this one is added just inside ``SecurityHeaders``.
    The traceback goes to the log, never to the client. An exception once the answer has started
    (a streamed body) can only be re-raised: the server then drops the connection.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception:
            if started:
                raise
            logger.exception("unexpected error on %s %s", scope["method"], scope["path"])
            answer = JSONResponse(
                status_code=500,
                content={"error": "InternalError", "detail": "An unexpected error occurred"},
            )
            await answer(scope, receive, send)


class ErrorOut(BaseModel):
    error: str
    detail: str


class ValidationErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorsOut(BaseModel):
    detail: list[ValidationErrorItem]


class UnprocessableOut(RootModel[ErrorOut | ValidationErrorsOut]):
    """A request FastAPI could not parse (a list of field errors), or one breaking a rule."""


_ERROR_TEXT = {
    400: "The request breaks a rule",
    401: "Not signed in, or the token is not valid",
    403: "The role may not do this",
    404: "No such object, or not one the user may see",
    409: "Conflicts with the current state",
    413: "The request body is larger than the configured cap",
    422: "The request is malformed or breaks a rule",
    429: "Too many requests; see Retry-After",
    503: "A dependency is unavailable",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for application errors, rendered as ``ErrorOut``."""
    return {
        code: {
            "model": UnprocessableOut if code == 422 else ErrorOut,
            "description": _ERROR_TEXT[code],
        }
        for code in codes
    }
