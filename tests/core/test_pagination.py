"""Keyset cursors: what ``encode_cursor`` writes, ``decode_cursor`` reads back; garbage is 400."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openpost.core.errors import BadRequest
from openpost.core.pagination import decode_cursor, encode_cursor

# Snapshot times are stored to the second, so cursors carry whole seconds.
second_precision_times = st.datetimes(
    min_value=datetime(1971, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive by design
    max_value=datetime(9999, 12, 30),  # noqa: DTZ001 - same
    timezones=st.just(UTC),
).map(lambda value: value.replace(microsecond=0))


@given(captured_at=second_precision_times, row_id=st.uuids())
def test_round_trip(captured_at: datetime, row_id: uuid.UUID) -> None:
    cursor = encode_cursor(captured_at, row_id)
    assert decode_cursor(cursor) == (captured_at, row_id)
    assert decode_cursor(cursor)[0].tzinfo is not None


@given(captured_at=second_precision_times, row_id=st.uuids())
def test_cursor_is_url_safe_and_opaque(captured_at: datetime, row_id: uuid.UUID) -> None:
    cursor = encode_cursor(captured_at, row_id)
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert str(row_id) not in cursor


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


GARBAGE = [
    "",
    "abc",
    "!!!!",
    "====",
    "\x00",
    "é",
    "😀" * 10,
    "a" * 201,
    _b64(b"no separator"),
    _b64(b"1:2:3"),
    _b64(b"abc:" + b"a" * 32),
    _b64(b"1:not-hex"),
    _b64(b"1:" + b"a" * 31),
    _b64(b"99999999999999999999:" + b"a" * 32),
    _b64(b"-99999999999999999:" + b"a" * 32),
    _b64(b"\xff\xfe:" + b"a" * 32),
    _b64(b"1e3:" + b"a" * 32),
]


@pytest.mark.parametrize("cursor", GARBAGE)
def test_garbage_cursor_is_bad_request(cursor: str) -> None:
    with pytest.raises(BadRequest, match="cursor is invalid"):
        decode_cursor(cursor)


@given(st.text(max_size=300))
def test_any_text_decodes_or_is_bad_request(cursor: str) -> None:
    try:
        captured_at, row_id = decode_cursor(cursor)
    except BadRequest as exc:
        refused: BadRequest | None = exc
    else:
        refused = None
        assert captured_at.tzinfo is not None
        assert isinstance(row_id, uuid.UUID)
    if refused is not None:
        assert refused.status_code == 400
        assert refused.message == "cursor is invalid"
