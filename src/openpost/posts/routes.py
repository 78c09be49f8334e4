"""/v1/posts routes (filled in by the posts API work)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/posts", tags=["posts"])
