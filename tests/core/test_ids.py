"""``new_id`` is a version 7 UUID ordered by time; ``parse_uuid`` is a 400 naming the field."""

from __future__ import annotations

import time
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openpost.core.errors import BadRequest
from openpost.core.ids import new_id, parse_uuid


def test_new_id_has_version_7_layout() -> None:
    before = time.time_ns() // 1_000_000
    value = new_id()
    after = time.time_ns() // 1_000_000
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert (value.int >> 76) & 0xF == 7
    assert (value.int >> 62) & 0b11 == 0b10
    assert before <= value.int >> 80 <= after


def test_new_ids_are_unique() -> None:
    assert len({new_id() for _ in range(2_000)}) == 2_000


def test_new_ids_sort_by_creation_time() -> None:
    ids = []
    for _ in range(5):
        ids.append(new_id())
        time.sleep(0.002)  # the order is by millisecond; within one it is random
    assert ids == sorted(ids)
    assert [i.hex for i in ids] == sorted(i.hex for i in ids)  # how SQLite stores them


def test_new_ids_have_random_low_bits() -> None:
    low_bits = {new_id().int & (2**62 - 1) for _ in range(100)}
    assert len(low_bits) == 100


@pytest.mark.parametrize(
    "text",
    [
        "3a6f1c2e-8b7d-4e3f-9a1b-2c3d4e5f6a7b",
        "3A6F1C2E-8B7D-4E3F-9A1B-2C3D4E5F6A7B",
        "3a6f1c2e8b7d4e3f9a1b2c3d4e5f6a7b",
    ],
)
def test_parse_uuid_accepts_uuid_spellings(text: str) -> None:
    assert parse_uuid(text, "post_id") == uuid.UUID("3a6f1c2e-8b7d-4e3f-9a1b-2c3d4e5f6a7b")


@pytest.mark.parametrize(
    "text",
    ["", "abc", "123", "3a6f1c2e-8b7d-4e3f-9a1b-2c3d4e5f6a7", "\x00", "é" * 36, "0" * 10_000],
)
def test_parse_uuid_refuses_malformed_naming_the_field(text: str) -> None:
    with pytest.raises(BadRequest, match=r"^integration_id must be a UUID$"):
        parse_uuid(text, "integration_id")


def test_parse_uuid_refuses_non_strings() -> None:
    with pytest.raises(BadRequest, match=r"^post_id must be a UUID$"):
        parse_uuid(None, "post_id")  # type: ignore[arg-type]
    with pytest.raises(BadRequest, match=r"^post_id must be a UUID$"):
        parse_uuid(12, "post_id")  # type: ignore[arg-type]


@given(st.text(max_size=64))
def test_parse_uuid_returns_or_refuses(text: str) -> None:
    try:
        value: uuid.UUID | str = parse_uuid(text, "id")
    except BadRequest as exc:
        value = exc.message
    assert isinstance(value, uuid.UUID) or value == "id must be a UUID"
