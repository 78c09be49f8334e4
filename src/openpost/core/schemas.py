"""Shapes shared by every endpoint's OpenAPI description."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue


class ErrorBody(BaseModel):
    """Every failure: one non-empty message, nothing else."""

    model_config = ConfigDict(extra="forbid")

    error: str = Field(min_length=1)


def exactly_one_of(*names: str) -> list[JsonValue]:
    """A ``oneOf`` that holds when exactly one of the (nullable) fields ``names`` is a
    string: what the service checks, in the OpenAPI document."""
    return [
        {
            "required": [name],
            "properties": {
                other: {"type": "string"} if other == name else {"type": "null"} for other in names
            },
        }
        for name in names
    ]


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the error statuses an endpoint can return."""
    descriptions = {
        400: "Bad input: the message names the field",
        401: "Missing, malformed, unknown or revoked API key",
        404: "No such resource in this workspace",
        413: "Request body too large",
        415: "Request body is not application/json",
        429: "Rate limit exceeded; see Retry-After",
        503: "The platform cannot answer now; Retry-After when it said when",
    }
    return {
        code: {"model": ErrorBody, "description": descriptions[code]} for code in (401, 429, *codes)
    }
