"""Request and response shapes of /v1/integrations, for validation and the OpenAPI document."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from openpost.integrations.models import IntegrationStatus, Platform


class IntegrationCreate(BaseModel):
    """Connect a public account by its handle. Unknown fields are refused (400)."""

    model_config = ConfigDict(extra="forbid")

    platform: Platform
    username: str = Field(
        max_length=200,
        description="The account's handle, 1 to 100 characters; a leading `@` is dropped.",
        examples=["openpost"],
    )


class IntegrationOut(BaseModel):
    id: str
    platform: Platform
    username: str
    display_name: str
    status: IntegrationStatus
    external_account_id: str = Field(description="The platform's id of the account")
    analytics_enabled: bool
    synthetic: bool = Field(description="True for a test workspace's simulated account")
    created_at: str = Field(examples=["2026-04-16T10:00:00Z"])


class IntegrationEnvelope(BaseModel):
    data: IntegrationOut


class IntegrationListEnvelope(BaseModel):
    data: list[IntegrationOut]
