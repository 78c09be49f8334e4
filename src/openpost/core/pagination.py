"""Opaque keyset cursors: the last row's (captured_at, id), base64url-encoded."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime

from openpost.core.errors import BadRequest


def encode_cursor(captured_at: datetime, row_id: uuid.UUID) -> str:
    raw = f"{int(captured_at.timestamp())}:{row_id.hex}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Reverse ``encode_cursor``; anything else is a 400, never a 500."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
        seconds, hex_id = raw.split(":")
        return datetime.fromtimestamp(int(seconds), UTC), uuid.UUID(hex=hex_id)
    except (ValueError, UnicodeError, binascii.Error, OverflowError, OSError):
        raise BadRequest("cursor is invalid") from None
