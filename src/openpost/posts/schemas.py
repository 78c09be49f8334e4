"""Request and response shapes of /v1/posts, for validation and the OpenAPI document."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from openpost.core.ids import UUID_SCHEMA
from openpost.core.schemas import exactly_one_of
from openpost.core.timefmt import TIMESTAMP_SCHEMA
from openpost.integrations.models import Platform
from openpost.posts.models import PostSource, PostStatus, TargetStatus

CONTENT_MAX = 10_000
TAGS_MAX = 50
TAG_MAX = 100
TARGETS_MAX = 50

# Stripped, then 1 to TAG_MAX characters: so at least one that is not a space.
Tag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=TAG_MAX),
    Field(json_schema_extra={"pattern": "^[^\\x00]*[^\\s\\x00][^\\x00]*$"}),
]


class TargetCreate(BaseModel):
    """One published post on one integration: give its id or its URL, not both."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": exactly_one_of("platform_post_id", "post_url")},
    )

    integration_id: str = Field(
        max_length=100, description="The integration's UUID", json_schema_extra=UUID_SCHEMA
    )
    platform_post_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="The platform's id of the post (a string, even for numeric ids)",
        examples=["1812345678901234567"],
    )
    post_url: str | None = Field(
        default=None,
        min_length=1,
        max_length=2048,
        description="The post's public URL; parsed into the platform's id",
        examples=["https://x.com/openpost/status/1812345678901234567"],
    )
    published_at: str | None = Field(
        default=None,
        max_length=64,
        description="RFC 3339 with an offset, not in the future; defaults to now",
        json_schema_extra=TIMESTAMP_SCHEMA,
        examples=["2026-04-16T10:00:00Z"],
    )


class PostCreate(BaseModel):
    """Register an already published post for tracking. Unknown fields are refused (400)."""

    model_config = ConfigDict(extra="forbid")

    content: str = Field(default="", max_length=CONTENT_MAX)
    tags: list[Tag] = Field(default_factory=list, max_length=TAGS_MAX)
    targets: list[TargetCreate] = Field(min_length=1, max_length=TARGETS_MAX)


class TargetIntegrationOut(BaseModel):
    platform: Platform


class PostTargetOut(BaseModel):
    id: str
    integration_id: str
    status: TargetStatus
    platform_post_id: str | None
    platform_post_url: str | None = Field(examples=["https://x.com/openpost/status/1812"])
    published_at: str | None
    integrations: TargetIntegrationOut


class PostOut(BaseModel):
    id: str
    status: PostStatus
    content: str
    scheduled_at: str | None = Field(description="Always null: posts here are published")
    published_at: str | None
    tags: list[str]
    created_at: str
    source: PostSource = Field(description="`api` if registered here, `discovered` if imported")
    post_targets: list[PostTargetOut]


class PostEnvelope(BaseModel):
    data: PostOut


class PostPageOut(BaseModel):
    data: list[PostOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")
