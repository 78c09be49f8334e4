"""/v1/integrations routes (filled in by the integrations API work)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/integrations", tags=["integrations"])
