"""Shapes shared by every endpoint's OpenAPI description."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorBody(BaseModel):
    error: str


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the error statuses an endpoint can return."""
    descriptions = {
        400: "Bad input: the message names the field",
        401: "Missing, malformed, unknown or revoked API key",
        404: "No such resource in this workspace",
        413: "Request body too large",
        415: "Request body is not application/json",
        429: "Rate limit exceeded; see Retry-After",
    }
    return {
        code: {"model": ErrorBody, "description": descriptions[code]} for code in (401, 429, *codes)
    }
