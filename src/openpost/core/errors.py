"""One error type carries an HTTP status and a message; one handler writes ``{"error": …}``.

Expected failures are ``AppError`` subclasses and map to 4xx. Anything else is a bug and
becomes a 500 whose body says nothing about the cause.
"""

from __future__ import annotations


class AppError(Exception):
    status_code = 500
    message = "internal server error"

    def __init__(self, message: str | None = None, *, headers: dict[str, str] | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.headers = headers or {}


class BadRequest(AppError):
    status_code = 400
    message = "bad request"


class Unauthorized(AppError):
    """401, naming the scheme the caller must use (``WWW-Authenticate``, RFC 9110 §11.6.1)."""

    status_code = 401
    message = "Invalid API key"

    def __init__(self, message: str | None = None, *, headers: dict[str, str] | None = None):
        super().__init__(message, headers={"WWW-Authenticate": "Bearer", **(headers or {})})


class Forbidden(AppError):
    status_code = 403
    message = "forbidden"


class NotFound(AppError):
    status_code = 404
    message = "not found"


class PayloadTooLarge(AppError):
    status_code = 413
    message = "request body too large"


class UnsupportedMediaType(AppError):
    status_code = 415
    message = "request body must be application/json"


class TooManyRequests(AppError):
    status_code = 429
    message = "rate limit exceeded"
