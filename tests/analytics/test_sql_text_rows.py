"""The read path's rows are formatted by the database: they must equal what the ORM gives.

``GET /v1/analytics`` and a post's history select ids and times as text (SQLite and
PostgreSQL each write them their own way) and pass ``platform_data`` through as its stored
JSON text. Random rows (times with microseconds in every era and offset, awkward JSON) are
read both ways and compared field by field; times must be exactly ``format_time``'s text.
"""

from __future__ import annotations

import json
import math
import random
import string
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import String, cast, insert, literal, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from openpost.analytics import service
from openpost.analytics.models import Snapshot
from openpost.core import clock
from openpost.core.db import json_dumps, json_loads
from openpost.core.timefmt import format_time
from openpost.platforms.specs import spec_for
from openpost.posts.models import PostTarget
from tests.analytics.test_list_snapshots import Account, make_account

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)
ROWS = 300


@pytest.fixture
def frozen() -> Iterator[datetime]:
    clock.set_clock(lambda: NOW)
    yield NOW
    clock.set_clock(None)


def _text(rng: random.Random) -> str:
    # No NUL: PostgreSQL's jsonb refuses it (the API refuses it at the door, see deps.py).
    alphabet = string.printable + 'é😀\u2028"\\\x01\x1f'
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))


def _json_value(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["int", "float", "str", "bool", "none"] + (["dict", "list"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "int":
        return rng.choice([0, -1, 2**53 + 1, -(2**63), 2**63 - 1, rng.randint(-1000, 10**9)])
    if kind == "float":
        return rng.choice([0.1, -0.0, 1e-7, 1.5e300, 2.5, rng.uniform(-1e6, 1e6)])
    if kind == "str":
        return _text(rng)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "none":
        return None
    if kind == "list":
        return [_json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {_text(rng): _json_value(rng, depth + 1) for _ in range(4)}


def _platform_data(rng: random.Random, index: int) -> Any:
    """Mostly objects, as the platforms write them; every odd stored value once."""
    # Not a bare number: SQLite would store it as a number, which no ORM read can parse.
    odd: list[Any] = [None, {}, [], [1, 2], "text", False, {"": {}}]
    if index < len(odd):
        return odd[index]
    return {_text(rng): _json_value(rng, 1) for _ in range(rng.randint(1, 6))}


def _captured_at(rng: random.Random) -> datetime:
    """Within the last 30 days mostly; any microsecond, any offset on the way in."""
    moment = NOW - timedelta(
        seconds=rng.randint(0, 29 * 86400), microseconds=rng.randint(0, 999_999)
    )
    offset = timezone(timedelta(minutes=rng.choice([0, 330, -480, 840, -720])))
    return moment.astimezone(offset)


def _seed(session: Session, account: Account, seed: int) -> list[uuid.UUID]:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    ids = []
    for index in range(ROWS):
        target: PostTarget = rng.choice(account.targets)
        snapshot = Snapshot(
            workspace_id=target.workspace_id,
            integration_id=target.integration_id,
            post_target_id=target.id,
            impressions=rng.choice([None, 0, rng.randint(1, 2**62)]),
            likes=rng.choice([None, 0, 7]),
            comments=rng.choice([None, 3]),
            shares=rng.choice([None, 0]),
            platform_data=_platform_data(rng, index),
            captured_at=_captured_at(rng),
            capture_key=uuid.uuid4().hex,
        )
        session.add(snapshot)
        session.flush()
        ids.append(snapshot.id)
    session.commit()
    return ids


def _orm_row(snapshot: Snapshot, target: PostTarget, platform: str) -> dict[str, Any]:
    """The snapshot object as the service wrote it before it read text from the database."""
    return {
        "id": str(snapshot.id),
        "post_target_id": str(snapshot.post_target_id),
        "integration_id": str(snapshot.integration_id),
        "post_id": str(target.post_id),
        "platform": platform,
        "impressions": snapshot.impressions,
        "likes": snapshot.likes,
        "comments": snapshot.comments,
        "shares": snapshot.shares,
        "platform_data": snapshot.platform_data or {},
        "captured_at": format_time(snapshot.captured_at),
        # SPEC §9.2, to the second as the API writes both times.
        "provisional": str(format_time(snapshot.captured_at))
        < str(format_time(target.published_at + spec_for(platform).settle_time)),
    }


def _expected(session: Session, account: Account) -> dict[str, dict[str, Any]]:
    session.expire_all()
    platforms = {i.id: i.platform for i in account.integrations}
    targets = {t.id: t for t in account.targets}
    return {
        str(s.id): _orm_row(s, targets[s.post_target_id], platforms[s.integration_id])
        for s in session.scalars(select(Snapshot))
    }


def _parse(body: bytes) -> Any:
    """Strictly (the spliced JSON must be valid), as the engine's JSON reader parses.

    orjson reads an integer beyond 64 bits as a float. PostgreSQL writes 1.5e300 in ``jsonb``
    as a 301-digit integer: passed through, the response keeps those digits (before, the
    page failed on it: orjson cannot write such an integer); parsed, it is 1.5e300 again.
    """
    assert json.loads(body) is not None  # the standard library's strict parser accepts it
    return orjson.loads(body)


@pytest.mark.parametrize("seed", [1, 2])
def test_listed_rows_equal_the_orm_values(
    client: TestClient, session: Session, frozen: datetime, seed: int
) -> None:
    account = make_account(session, targets=4)
    _seed(session, account, seed)
    expected = _expected(session, account)

    listed: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 37, **({"cursor": cursor} if cursor else {})}
        response = client.get("/v1/analytics", headers=account.headers, params=params)
        assert response.status_code == 200, response.text
        body = _parse(response.content)
        listed.extend(body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert len(listed) == ROWS
    for row in listed:
        assert row == expected[row["id"]]
        # Exact text: to the second, truncated, UTC, "Z" — on either engine.
        assert row["captured_at"] == expected[row["id"]]["captured_at"]
        assert len(row["captured_at"]) == 20
        assert row["captured_at"].endswith("Z")
    order = [(row["captured_at"], uuid.UUID(row["id"])) for row in listed]
    assert order == sorted(order, reverse=True)


def test_post_history_rows_equal_the_orm_values(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    account = make_account(session, targets=2)  # one post, two targets
    _seed(session, account, 3)
    expected = _expected(session, account)
    post_id = account.targets[0].post_id

    response = client.get(f"/v1/analytics/post/{post_id}", headers=account.headers)
    assert response.status_code == 200, response.text
    body = _parse(response.content)
    history = [row for target in body["data"]["targets"] for row in target["snapshots"]]
    assert len(history) == ROWS
    for row in history:
        assert row == expected[row["id"]]


def test_platform_data_text_is_spliced_not_reparsed(session: Session, frozen: datetime) -> None:
    """An object row reaches orjson as a Fragment of the stored text, odd values as before."""
    account = make_account(session, targets=1)
    _seed(session, account, 4)
    page = service.list_snapshots(session, account.workspace.id, now=NOW, limit=ROWS)
    kinds = {type(row["platform_data"]) for row in page.rows}
    assert orjson.Fragment in kinds
    by_id = _expected(session, account)
    for row in page.rows:
        data = row["platform_data"]
        if isinstance(data, orjson.Fragment):
            assert _parse(orjson.dumps(data)) == by_id[row["id"]]["platform_data"]
        else:  # null, [], 0, false, {} and the like: parsed, exactly the ORM's value or {}
            assert data == by_id[row["id"]]["platform_data"]
            assert not isinstance(by_id[row["id"]]["platform_data"], dict) or not data


def test_stored_nan_reads_as_null_and_the_page_stays_valid_json(
    client: TestClient, session: Session, frozen: datetime
) -> None:
    """Python's json wrote NaN into SQLite's text; PostgreSQL's jsonb never stores it."""
    account = make_account(session, targets=1)
    target = account.targets[0]
    raw = '{"ratio": NaN, "big": Infinity, "ok": 1}'
    values = {
        "id": uuid.uuid4(),
        "workspace_id": target.workspace_id,
        "integration_id": target.integration_id,
        "post_target_id": target.id,
        "captured_at": NOW,
        "capture_key": "nan",
    }
    if session.get_bind().dialect.name == "postgresql":
        with pytest.raises(DBAPIError):
            session.execute(
                insert(Snapshot).values(**values, platform_data=cast(literal(raw, String()), JSONB))
            )
        return
    session.execute(insert(Snapshot.__table__).values(**values, platform_data=literal(raw)))
    session.commit()

    response = client.get("/v1/analytics", headers=account.headers)
    assert response.status_code == 200
    (row,) = json.loads(response.content)["data"]
    assert row["platform_data"] == {"ratio": None, "big": None, "ok": 1}


def test_engine_json_codec() -> None:
    """orjson where it agrees with json, json where orjson refuses; never bytes."""
    assert json_dumps({"a": "é", 1: [None]}) == '{"a":"é","1":[null]}'
    assert json_dumps({"n": 2**70}) == json.dumps({"n": 2**70})
    assert json_dumps({"x": math.nan}) == '{"x":null}'
    assert json_loads('{"a": [1, 2.5]}') == {"a": [1, 2.5]}
    assert math.isnan(json_loads('{"x": NaN}')["x"])
    assert json_loads(b'{"s": "\\ud800"}') == {"s": "\ud800"}
