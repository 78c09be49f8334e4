"""UUID parsing with the API's rule: malformed is a 400 that names the field."""

from __future__ import annotations

import os
import time
import uuid

from openpost.core.errors import BadRequest


def parse_uuid(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        raise BadRequest(f"{field} must be a UUID") from None


def new_id() -> uuid.UUID:
    """A time-ordered UUID (version 7 layout): new rows land at the end of b-tree indexes."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & (2**48 - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= ((rand >> 62) & 0xFFF) << 64  # 12 random bits
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & (2**62 - 1)
    return uuid.UUID(int=value)
