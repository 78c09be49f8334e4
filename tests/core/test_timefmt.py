"""RFC 3339 output with a Z to the second; input with any offset; bad input is a 400."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openpost.core.errors import BadRequest
from openpost.core.timefmt import format_time, parse_time

offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
aware_times = st.datetimes(
    min_value=datetime(1900, 1, 2),  # noqa: DTZ001 - hypothesis bounds are naive by design
    max_value=datetime(9999, 12, 30),  # noqa: DTZ001 - same
    timezones=offsets,
)


def test_format_time_writes_utc_with_z_to_the_second() -> None:
    value = datetime(2026, 4, 16, 12, 0, 0, 987654, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(value) == "2026-04-16T10:00:00Z"


def test_format_time_of_none_is_none() -> None:
    assert format_time(None) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-04-16T10:00:00Z", datetime(2026, 4, 16, 10, tzinfo=UTC)),
        ("2026-04-16T10:00:00+00:00", datetime(2026, 4, 16, 10, tzinfo=UTC)),
        ("2026-04-16T12:30:00+02:30", datetime(2026, 4, 16, 10, tzinfo=UTC)),
        ("2026-04-16T05:00:00-05:00", datetime(2026, 4, 16, 10, tzinfo=UTC)),
        ("  2026-04-16T10:00:00.250Z ", datetime(2026, 4, 16, 10, 0, 0, 250000, tzinfo=UTC)),
    ],
)
def test_parse_time_accepts_any_offset(text: str, expected: datetime) -> None:
    parsed = parse_time(text, "since")
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2026-13-01T00:00:00Z",
        "2026-04-16T25:00:00Z",
        "\x00",
        "😀",
        "9" * 5000,
        # Valid ISO text whose UTC value falls outside datetime's range.
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
    ],
)
def test_parse_time_refuses_garbage_naming_the_field(text: str) -> None:
    with pytest.raises(BadRequest, match=r"^published_at "):
        parse_time(text, "published_at")


@pytest.mark.parametrize("text", ["2026-04-16T10:00:00", "2026-04-16", "2026-04-16 10:00"])
def test_parse_time_refuses_naive_times(text: str) -> None:
    with pytest.raises(BadRequest, match=r"^until must carry a timezone offset"):
        parse_time(text, "until")


@given(aware_times)
def test_format_then_parse_round_trips_to_the_second(value: datetime) -> None:
    text = format_time(value)
    assert text is not None
    assert text.endswith("Z")
    assert len(text) == len("2026-04-16T10:00:00Z")
    assert parse_time(text, "t") == value.replace(microsecond=0)


@given(aware_times)
def test_parse_reads_python_isoformat_of_any_offset(value: datetime) -> None:
    assert parse_time(value.isoformat(), "t") == value


@given(st.text(max_size=60))
def test_parse_time_never_raises_anything_but_bad_request(text: str) -> None:
    try:
        parsed = parse_time(text, "t")
    except BadRequest as exc:
        refused: BadRequest | None = exc
    else:
        refused = None
        assert parsed.utcoffset() == timedelta(0)
    if refused is not None:
        assert refused.message.startswith("t ")
