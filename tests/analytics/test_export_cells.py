"""The CSV export's cell functions: RFC 4180 quoting, formula neutralising, JSON, numbers."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openpost.analytics.export import (
    FORMULA_TRIGGERS,
    csv_json,
    csv_number,
    csv_record,
    csv_text,
)


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (None, ""),
        ("", ""),
        ("openpost", "openpost"),
        ("https://x.com/openpost/status/1", "https://x.com/openpost/status/1"),
        # every formula trigger, first character only
        ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@handle", "'@handle"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", '"\'\rcmd"'),  # neutralised, then quoted for its CR
        ("=1+2,3", '"\'=1+2,3"'),
        ('=HYPERLINK("http://evil")', '"\'=HYPERLINK(""http://evil"")"'),
        # triggers later in the text change nothing
        ("a=b", "a=b"),
        ("mail@example.com", "mail@example.com"),
        ("x-y+z", "x-y+z"),
        # characters that are not triggers
        ("'quoted", "'quoted"),
        ("#tag", "#tag"),
        (" =space first", " =space first"),
        ("\n=after newline", '"\n=after newline"'),
        # RFC 4180 quoting
        ("a,b", '"a,b"'),
        ('say "hi"', '"say ""hi"""'),
        ('"', '""""'),
        ("line\nbreak", '"line\nbreak"'),
        ("carriage\rreturn", '"carriage\rreturn"'),
        ("crlf\r\nend", '"crlf\r\nend"'),
        ("tab\tinside", "tab\tinside"),
        # unicode passes through untouched
        ("café ☕", "café ☕"),
        ("日本語の投稿", "日本語の投稿"),
        ("emoji 🚀, comma", '"emoji 🚀, comma"'),
        ("\uff1dfullwidth equals", "\uff1dfullwidth equals"),
    ],
)
def test_text_cell(value: str | None, cell: str) -> None:
    assert csv_text(value) == cell


def test_the_triggers_are_exactly_the_documented_ones() -> None:
    assert frozenset("=+-@\t\r") == FORMULA_TRIGGERS


@pytest.mark.parametrize(
    ("value", "cell"),
    [(None, ""), (0, "0"), (7, "7"), (-3, "-3"), (2**40, "1099511627776")],
)
def test_number_cell_is_never_neutralised(value: int | None, cell: str) -> None:
    assert csv_number(value) == cell


@pytest.mark.parametrize(
    ("raw", "cell"),
    [
        (None, "{}"),
        ("{}", "{}"),
        ("null", "{}"),
        ('{"b": 1, "a": 2}', '"{""a"":2,""b"":1}"'),
        ('{"retweet_count": 4, "impressions_kind": "views"}', None),
        ('{"z": {"y": [1, 2.5, null], "x": true}}', '"{""z"":{""x"":true,""y"":[1,2.5,null]}}"'),
        ('{"name": "caf\\u00e9"}', '"{""name"":""café""}"'),
        ('{"k": "=cmd"}', '"{""k"":""=cmd""}"'),
        ("[3, 1]", '"[3,1]"'),
        ("-5", "'-5"),
        ('"=x"', '"""=x"""'),
    ],
)
def test_json_cell_is_compact_with_sorted_keys(raw: str | None, cell: str | None) -> None:
    if cell is None:
        cell = '"{""impressions_kind"":""views"",""retweet_count"":4}"'
    assert csv_json(raw) == cell


def test_record_joins_with_commas_and_ends_with_crlf() -> None:
    assert csv_record(["a", "", "0", '"b,c"']) == 'a,,0,"b,c"\r\n'


def _read(record: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(record, newline=""), strict=True))


@given(st.lists(st.one_of(st.none(), st.text()), min_size=1, max_size=6))
def test_a_csv_reader_reads_back_every_text_neutralised(values: list[str | None]) -> None:
    record = csv_record(csv_text(value) for value in values)
    assert record.endswith("\r\n")
    expected = [
        "" if not value else ("'" + value if value[0] in FORMULA_TRIGGERS else value)
        for value in values
    ]
    if expected == [""]:
        # A lone empty cell is an empty line, which readers skip: never an export record.
        assert _read(record) == [[]]
    else:
        assert _read(record) == [expected]


@given(st.lists(st.one_of(st.none(), st.integers(min_value=-(2**62), max_value=2**62))))
def test_numbers_read_back_as_themselves(values: list[int | None]) -> None:
    record = csv_record([csv_number(v) for v in values] + ["end"])
    assert _read(record) == [["" if v is None else str(v) for v in values] + ["end"]]
