"""HTTP plumbing shared by every router: JSON responses, the error handlers, middleware."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openpost.core import unavailable
from openpost.core.errors import AppError, PayloadTooLarge

log = logging.getLogger("openpost.http")

STATE_HEADERS = "openpost.response_headers"


def json_response(payload: Any, status_code: int = 200) -> Response:
    """Serialise with orjson: UUIDs and plain types only, no per-row pydantic pass."""
    return Response(orjson.dumps(payload), status_code=status_code, media_type="application/json")


def data(payload: Any, status_code: int = 200, **extra: Any) -> Response:
    return json_response({"data": payload, **extra}, status_code)


def error_response(
    status_code: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    response = json_response({"error": message}, status_code)
    if headers:
        response.headers.update(headers)
    return response


def add_response_headers(request: Request, headers: dict[str, str]) -> None:
    """Ask the header middleware to add ``headers`` to whatever response this request gets."""
    request.scope.setdefault(STATE_HEADERS, {}).update(headers)


def _describe_validation_error(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid request"
    first = errors[0]
    loc = [str(part) for part in first.get("loc", ()) if part not in ("query", "path", "body")]
    kind = first.get("type", "")
    if kind == "json_invalid":
        return "request body is not valid JSON"
    if kind == "missing":
        return f"{'.'.join(loc) or 'body'} is required"
    message = str(first.get("msg", "is invalid"))
    field = ".".join(loc) or "body"
    return f"{field}: {message}"


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path. (The 405 raised by routing names only
    the first route whose path matched, so ``GET`` beside ``POST`` on one path went
    unmentioned.) Asks each route, through the public ``matches``, whether it would take
    the same path with each method; a clean scope, so no earlier match steers the answer."""
    allowed = []
    for method in METHODS:
        probe = {
            "type": "http",
            "method": method,
            "path": request.scope["path"],
            "root_path": request.scope.get("root_path", ""),
            "headers": [],
            "query_string": b"",
        }
        if any(route.matches(probe)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


# Called before a 400 about the request's body is sent: a response to send instead (the
# application answers 401 to a caller without a valid key), or ``None``.
BodyErrorCheck = Callable[[Request], Awaitable[Response | None]]


def install_error_handlers(app: FastAPI, before_body_error: BodyErrorCheck | None = None) -> None:
    async def _checked(request: Request, status_code: int, message: str) -> Response:
        if before_body_error is not None:
            instead = await before_body_error(request)
            if instead is not None:
                return instead
        return error_response(status_code, message)

    @app.exception_handler(AppError)
    async def _app_error(_request: Request, exc: AppError) -> Response:
        return error_response(exc.status_code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return await _checked(request, 400, _describe_validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            headers = dict(exc.headers or {})
            methods = allowed_methods(request)
            if methods:  # else (a mounted app's own 405) whatever it said
                headers["Allow"] = ", ".join(methods)
            return error_response(405, "method not allowed", headers)
        if exc.status_code == 400:  # FastAPI's "There was an error parsing the body"
            return await _checked(request, 400, str(exc.detail))
        message = {404: "not found"}.get(exc.status_code)
        return error_response(exc.status_code, message or str(exc.detail), exc.headers)

    # Registered per class (Starlette's handler for ``Exception`` logs and re-raises: a
    # traceback in the server's log); ``DBAPIError`` covers a connection invalidated by
    # any other error, and re-raises the rest (integrity, programming errors) as 500s.
    async def _database_unavailable(request: Request, exc: Exception) -> Response:
        if not unavailable.is_database_unavailable(exc):
            raise exc
        unavailable.note(exc, f"{request.method} {request.scope.get('path', '')}")
        headers = {"Retry-After": str(unavailable.RETRY_AFTER_SECONDS)}
        return error_response(503, unavailable.MESSAGE, headers)

    for database_error in unavailable.HANDLED:
        app.add_exception_handler(database_error, _database_unavailable)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, _exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal server error")


class GuardMiddleware:
    """Pure ASGI middleware: refuses oversize bodies (413) and adds per-request headers.

    Headers come from ``add_response_headers`` (rate-limit state), so routes that return
    their own ``Response`` objects still carry them.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                if not value.strip().isdigit():  # int() would also take "-1" and "+1_0"
                    await error_response(400, "invalid Content-Length")(scope, receive, send)
                    return
                if int(value) > self.max_body_bytes:
                    await error_response(413, "request body too large")(scope, receive, send)
                    return

        received = 0
        limit = self.max_body_bytes

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = scope.get(STATE_HEADERS)
                if extra:
                    headers = list(message.get("headers", []))
                    headers.extend((k.lower().encode(), v.encode()) for k, v in extra.items())
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except _BodyTooLarge:
            await error_response(413, "request body too large")(scope, receive, send)


class _BodyTooLarge(StarletteHTTPException):
    """A body without Content-Length grew past the limit while the app read it.

    An ``HTTPException`` because FastAPI re-raises those from its body parsing (any other
    exception there becomes a 400 "There was an error parsing the body"); the handler above
    then answers 413.
    """

    def __init__(self) -> None:
        super().__init__(413, PayloadTooLarge.message)
