"""Request and response shapes of /v1/webhooks, for validation and the OpenAPI document."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from openpost.webhooks.models import DeliveryStatus, EventType


class WebhookCreate(BaseModel):
    """Subscribe a URL to events. Unknown fields are refused (400)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        max_length=2048,
        description="Where deliveries are POSTed: an https URL on the standard port whose host "
        "is not a private, loopback or link-local address (unless the operator allows them).",
        examples=["https://hooks.example.com/openpost"],
    )
    events: list[EventType] = Field(
        min_length=1, max_length=len(EventType), description="The event types to deliver"
    )
    description: str = Field(default="", max_length=500, examples=["Alerts channel"])


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[EventType]
    description: str
    created_at: str = Field(examples=["2026-12-03T10:00:00Z"])


class WebhookCreated(WebhookOut):
    secret: str = Field(
        description="The signing secret, shown only in this answer: keep it to verify the "
        "`OpenPost-Signature` header of each delivery"
    )


class WebhookCreatedEnvelope(BaseModel):
    data: WebhookCreated


class WebhookEnvelope(BaseModel):
    data: WebhookOut


class WebhookListEnvelope(BaseModel):
    data: list[WebhookOut]


class DeliveryOut(BaseModel):
    id: str
    event_id: str = Field(description="The `id` in the delivered body: deduplicate on it")
    type: EventType
    status: DeliveryStatus
    attempts: int
    last_status: int | None = Field(description="The receiver's last HTTP status (null: none)")
    last_error: str | None
    created_at: str
    last_attempt_at: str | None
    next_attempt_at: str | None = Field(description="When the next attempt is due (pending)")
    delivered_at: str | None


class DeliveryPageOut(BaseModel):
    data: list[DeliveryOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")
