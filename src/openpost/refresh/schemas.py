"""Request and response shapes of the collection endpoints, for validation and OpenAPI."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from openpost.core.ids import UUID_SCHEMA
from openpost.core.schemas import exactly_one_of


class RefreshIn(BaseModel):
    """Exactly one of ``post_id`` or ``integration_id``. Unknown fields are refused (400)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"oneOf": exactly_one_of("post_id", "integration_id")}
    )

    post_id: str | None = Field(
        default=None, max_length=64, description="A post's UUID", json_schema_extra=UUID_SCHEMA
    )
    integration_id: str | None = Field(
        default=None,
        max_length=64,
        description="An integration's UUID",
        json_schema_extra=UUID_SCHEMA,
    )


class QueuedOut(BaseModel):
    queued: int = Field(description="Targets queued for an immediate read")


class QueuedEnvelope(BaseModel):
    data: QueuedOut


class StatusOut(BaseModel):
    integrations: list[dict[str, Any]] = Field(
        description="Per integration: tracked, frozen, outcome counts, last success, next "
        "due, last error, discovery and the pauses holding its reads back"
    )
    platforms: list[dict[str, Any]] = Field(
        description="Per platform: whether it is paused as a whole, every pause in force "
        "(per credential: a Mastodon instance, X's app token), rate windows and the daily "
        "budget in its unit (X posts per UTC day, YouTube quota units per Pacific day)"
    )


class StatusEnvelope(BaseModel):
    data: StatusOut
