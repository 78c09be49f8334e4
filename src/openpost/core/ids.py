"""UUID parsing with the API's rule: malformed is a 400 that names the field.

An id is 32 hex digits (either case), in the ``8-4-4-4-12`` form every response carries or
without hyphens: ``UUID_PATTERN``, which the OpenAPI document states. ``uuid.UUID`` alone
also takes braces, a ``urn:uuid:`` prefix and hyphens anywhere; those are refused, so that
the document and the server agree on every value.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from typing import Any

from openpost.core.errors import BadRequest

_HEX_ID = (
    "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{32}"
)
UUID_PATTERN = f"^(?:{_HEX_ID})$"
_UUID = re.compile(UUID_PATTERN)

# ``json_schema_extra`` of a parameter or field that holds an id (its type stays ``str``,
# so a malformed one is ``parse_uuid``'s 400 "<field> must be a UUID", not pydantic's).
# (No ``format: uuid``: that one wants the hyphens.)
UUID_SCHEMA: dict[str, Any] = {"pattern": UUID_PATTERN}
# A query filter where an empty value means "no filter" (``?integration_id=``).
UUID_OR_EMPTY_SCHEMA: dict[str, Any] = {"pattern": f"^(?:{_HEX_ID})?$"}


def parse_uuid(value: str, field: str) -> uuid.UUID:
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise BadRequest(f"{field} must be a UUID")
    return uuid.UUID(value)


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
