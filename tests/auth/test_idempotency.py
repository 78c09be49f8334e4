"""Idempotency-Key on POSTs: replay, conflict, scope, expiry, failures, and races."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from openpost.auth.idempotency import (
    KEY_REUSED,
    REPLAY_HEADER,
    IdempotentRequest,
    purge_expired,
    request_hash,
    run_idempotent,
)
from openpost.auth.models import IdempotencyRecord
from openpost.core import clock
from openpost.core.db import make_sessionmaker, transaction
from openpost.core.errors import BadRequest, NotFound
from openpost.core.web import data
from openpost.posts.models import Post
from tests.builders import World, make_key, make_workspace

DAY = timedelta(hours=24)


@pytest.fixture
def advance() -> Iterator[Callable[[timedelta], None]]:
    """Freeze the clock at the real now; ``advance(delta)`` moves it forward."""
    base = clock.now()
    offset = [timedelta(0)]
    clock.set_clock(lambda: base + offset[0])

    def move(delta: timedelta) -> None:
        offset[0] += delta

    yield move
    clock.set_clock(None)


def post_body(world: World, post_id: str = "4242", content: str = "hello") -> dict[str, Any]:
    return {
        "content": content,
        "targets": [{"integration_id": str(world.a.integration.id), "platform_post_id": post_id}],
    }


def with_key(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


def posts_in(session: Session, world: World) -> int:
    session.expire_all()
    return int(
        session.scalar(
            select(func.count()).select_from(Post).where(Post.workspace_id == world.a.workspace.id)
        )
        or 0
    )


# --- replay ---------------------------------------------------------------------------


def test_same_key_and_body_replays_the_first_response(
    client: TestClient, session: Session, world: World
) -> None:
    headers = with_key(world.a.headers, "launch-v1")

    first = client.post("/v1/posts", headers=headers, json=post_body(world))
    second = client.post("/v1/posts", headers=headers, json=post_body(world))

    assert first.status_code == 201, first.text
    assert second.status_code == 201
    assert second.content == first.content
    assert second.headers[REPLAY_HEADER] == "true"
    assert REPLAY_HEADER not in first.headers
    assert second.headers["content-type"] == "application/json"
    assert posts_in(session, world) == 2  # the world's post and this one
    # Without the key, the retry is a new request: this post is already tracked.
    plain = client.post("/v1/posts", headers=world.a.headers, json=post_body(world))
    assert plain.status_code == 400


def test_replay_ignores_what_changed_since(client: TestClient, world: World) -> None:
    headers = with_key(world.a.headers, "k")
    first = client.post("/v1/posts", headers=headers, json=post_body(world))
    client.delete(f"/v1/integrations/{world.a.integration.id}", headers=world.a.headers)

    again = client.post("/v1/posts", headers=headers, json=post_body(world))

    assert again.status_code == 201
    assert again.content == first.content


def test_replay_keeps_the_first_status(client: TestClient, session: Session) -> None:
    workspace = make_workspace(session, mode="test")
    headers = {"Authorization": f"Bearer {make_key(session, workspace)}"}
    session.commit()
    body = {"platform": "twitter", "username": "openpost"}

    first = client.post("/v1/integrations", headers=with_key(headers, "c1"), json=body)
    replayed = client.post("/v1/integrations", headers=with_key(headers, "c1"), json=body)
    fresh = client.post("/v1/integrations", headers=headers, json=body)

    assert (first.status_code, replayed.status_code, fresh.status_code) == (201, 201, 200)
    assert replayed.content == first.content
    assert fresh.json() == first.json()


def test_requests_without_a_key_are_not_deduplicated(
    client: TestClient, session: Session, world: World
) -> None:
    client.post("/v1/posts", headers=world.a.headers, json=post_body(world, "1"))
    client.post("/v1/posts", headers=world.a.headers, json=post_body(world, "2"))
    assert posts_in(session, world) == 3
    assert session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0


# --- conflicts ------------------------------------------------------------------------


def test_same_key_with_another_body_is_400(
    client: TestClient, session: Session, world: World
) -> None:
    headers = with_key(world.a.headers, "k")
    client.post("/v1/posts", headers=headers, json=post_body(world, "1"))

    other = client.post("/v1/posts", headers=headers, json=post_body(world, "2"))

    assert other.status_code == 400
    assert other.json() == {"error": "Idempotency-Key was already used with a different request"}
    assert posts_in(session, world) == 2


def test_the_body_bytes_identify_the_request(client: TestClient, world: World) -> None:
    headers = {**with_key(world.a.headers, "k"), "Content-Type": "application/json"}
    body = json.dumps(post_body(world), indent=1)
    first = client.post("/v1/posts", headers=headers, content=body.encode())
    compact = client.post("/v1/posts", headers=headers, content=json.dumps(post_body(world)))
    assert first.status_code == 201
    assert compact.status_code == 400
    assert compact.json()["error"] == KEY_REUSED


def test_same_key_on_another_endpoint_is_400(client: TestClient, world: World) -> None:
    headers = with_key(world.a.headers, "shared")
    client.post("/v1/posts", headers=headers, json=post_body(world))
    other = client.post(
        "/v1/integrations", headers=headers, json={"platform": "twitter", "username": "a"}
    )
    assert other.status_code == 400
    assert other.json()["error"] == KEY_REUSED


def test_keys_are_scoped_per_workspace(client: TestClient, world: World) -> None:
    body_b = {"targets": [{"integration_id": str(world.b.integration.id), "platform_post_id": "1"}]}
    a = client.post("/v1/posts", headers=with_key(world.a.headers, "k"), json=post_body(world))
    b = client.post("/v1/posts", headers=with_key(world.b.headers, "k"), json=body_b)
    assert (a.status_code, b.status_code) == (201, 201)
    assert REPLAY_HEADER not in b.headers
    assert a.json()["data"]["id"] != b.json()["data"]["id"]


# --- failures and expiry ----------------------------------------------------------------


def test_a_failed_request_leaves_its_key_unused(
    client: TestClient, session: Session, world: World
) -> None:
    headers = with_key(world.a.headers, "k")
    failing = {
        "targets": [{"integration_id": str(world.b.integration.id), "platform_post_id": "1"}]
    }

    first = client.post("/v1/posts", headers=headers, json=failing)
    second = client.post("/v1/posts", headers=headers, json=failing)
    fixed = client.post("/v1/posts", headers=headers, json=post_body(world))
    stale = client.post("/v1/posts", headers=headers, json=failing)

    assert (first.status_code, second.status_code) == (404, 404)
    assert REPLAY_HEADER not in second.headers
    assert fixed.status_code == 201
    assert stale.status_code == 400
    assert stale.json()["error"] == KEY_REUSED


def test_a_key_expires_after_24_hours(
    client: TestClient,
    session: Session,
    world: World,
    advance: Callable[[timedelta], None],
) -> None:
    headers = with_key(world.a.headers, "daily-report")
    first = client.post("/v1/posts", headers=headers, json=post_body(world, "1"))

    advance(DAY - timedelta(seconds=1))
    replayed = client.post("/v1/posts", headers=headers, json=post_body(world, "1"))
    refused = client.post("/v1/posts", headers=headers, json=post_body(world, "2"))
    advance(timedelta(seconds=1))
    renewed = client.post("/v1/posts", headers=headers, json=post_body(world, "2"))
    renewed_replay = client.post("/v1/posts", headers=headers, json=post_body(world, "2"))

    assert first.status_code == 201
    assert replayed.status_code == 201
    assert replayed.content == first.content
    assert refused.status_code == 400
    assert renewed.status_code == 201, renewed.text
    assert renewed.json()["data"]["id"] != first.json()["data"]["id"]
    assert renewed_replay.content == renewed.content
    records = session.scalars(select(IdempotencyRecord)).all()
    assert len(records) == 1  # the expired record was replaced
    assert records[0].created_at == clock.now()


def test_the_ttl_is_a_setting(
    session: Session, engine: Engine, advance: Callable[[timedelta], None]
) -> None:
    workspace = make_workspace(session)
    session.commit()
    request = IdempotentRequest("k", request_hash("POST", "/x", b"{}"), timedelta(hours=1))
    calls: list[int] = []

    def handler() -> Response:
        calls.append(1)
        return data({"n": len(calls)}, 201)

    factory = make_sessionmaker(engine)
    for step in (timedelta(0), timedelta(minutes=59), timedelta(minutes=1)):
        advance(step)
        with transaction(factory) as db:
            run_idempotent(db, workspace.id, request, handler)
    assert len(calls) == 2


def test_purge_expired_deletes_only_old_records(
    session: Session, advance: Callable[[timedelta], None]
) -> None:
    workspace = make_workspace(session)
    for key, age in (("old", DAY + timedelta(seconds=1)), ("edge", DAY), ("new", timedelta(0))):
        session.add(
            IdempotencyRecord(
                workspace_id=workspace.id,
                key=key,
                request_hash="0" * 64,
                status_code=201,
                response_body="{}",
                created_at=clock.now() - age,
            )
        )
    session.flush()
    assert purge_expired(session, now=clock.now(), ttl=DAY) == 2
    assert session.scalars(select(IdempotencyRecord.key)).all() == ["new"]


# --- the header -------------------------------------------------------------------------


def test_invalid_keys_are_400(client: TestClient, world: World, subtests: pytest.Subtests) -> None:
    keys: list[str | bytes] = ["", "k" * 256, "tab\there", "caf\u00e9".encode(), b"bell\x07"]
    for key in keys:
        with subtests.test(key=key):
            headers: dict[str, Any] = {**world.a.headers, "Idempotency-Key": key}
            response = client.post("/v1/posts", headers=headers, json=post_body(world))
            assert response.status_code == 400
            assert response.json() == {
                "error": "Idempotency-Key must be 1 to 255 printable ASCII characters"
            }


def test_a_key_of_255_printable_characters_is_accepted(client: TestClient, world: World) -> None:
    key = ("~ !Az09" * 40)[:255]
    response = client.post(
        "/v1/posts", headers=with_key(world.a.headers, key), json=post_body(world)
    )
    assert response.status_code == 201, response.text


# --- races ------------------------------------------------------------------------------


class _Race:
    """Two transactions on their own connections run one key through ``run_idempotent``.

    The first one's handler holds its transaction open until released, so the second
    request arrives while the first one's record is claimed but not committed.
    """

    def __init__(self, engine: Engine, workspace_id: Any) -> None:
        self.factory = make_sessionmaker(engine)
        self.workspace_id = workspace_id
        self.inside = threading.Event()
        self.release = threading.Event()
        self.second_handler_ran = False
        self.results: dict[str, Any] = {}
        self.sessions: dict[str, Session] = {}

    def first(self, request: IdempotentRequest) -> None:
        def handler() -> Response:
            self._write("first")
            self.inside.set()
            assert self.release.wait(20)
            return data({"winner": "first"}, 201)

        self._run("first", request, handler)

    def second(self, request: IdempotentRequest) -> None:
        def handler() -> Response:
            self.second_handler_ran = True
            self._write("second")
            return data({"winner": "second"}, 201)

        self._run("second", request, handler)

    def _run(self, name: str, request: IdempotentRequest, handler: Callable[[], Response]) -> None:
        try:
            with transaction(self.factory) as db:
                self.sessions[name] = db
                self.results[name] = run_idempotent(db, self.workspace_id, request, handler)
        except Exception as error:  # the test inspects whatever was raised
            self.results[name] = error

    def _write(self, name: str) -> None:
        db = self.sessions[name]
        db.add(Post(workspace_id=self.workspace_id, content=name))
        db.flush()


@pytest.mark.parametrize("same_body", [True, False], ids=["same-request", "other-request"])
def test_a_concurrent_request_with_the_same_key_waits_and_never_writes(
    session: Session, engine: Engine, same_body: bool
) -> None:
    workspace = make_workspace(session)
    session.commit()
    race = _Race(engine, workspace.id)
    ttl = timedelta(hours=24)
    first_request = IdempotentRequest("k", request_hash("POST", "/v1/posts", b"{}"), ttl)
    second_request = IdempotentRequest(
        "k", request_hash("POST", "/v1/posts", b"{}" if same_body else b"[]"), ttl
    )

    one = threading.Thread(target=race.first, args=(first_request,))
    one.start()
    assert race.inside.wait(20)
    two = threading.Thread(target=race.second, args=(second_request,))
    two.start()
    time.sleep(0.3)
    blocked = two.is_alive()
    race.release.set()
    one.join(20)
    two.join(20)

    assert blocked, "the second request should wait for the first one's transaction"
    assert not race.second_handler_ran
    first = race.results["first"]
    second = race.results["second"]
    assert isinstance(first, Response)
    assert first.status_code == 201
    if same_body:
        assert isinstance(second, Response), second
        assert second.status_code == 201
        assert bytes(second.body) == bytes(first.body)
        assert second.headers[REPLAY_HEADER] == "true"
    else:
        assert isinstance(second, BadRequest)
        assert second.message == KEY_REUSED
    session.expire_all()
    contents = session.scalars(select(Post.content).where(Post.workspace_id == workspace.id))
    assert list(contents) == ["first"]  # the second transaction wrote nothing


def test_the_record_is_part_of_the_requests_transaction(session: Session, engine: Engine) -> None:
    workspace = make_workspace(session)
    session.commit()
    request = IdempotentRequest("k", request_hash("POST", "/x", b"{}"), timedelta(hours=24))

    def failing() -> Response:
        raise NotFound("integration not found")

    with pytest.raises(NotFound), transaction(make_sessionmaker(engine)) as db:
        run_idempotent(db, workspace.id, request, failing)

    assert session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0


def test_concurrent_http_retries_create_one_post(
    client: TestClient, session: Session, world: World
) -> None:
    headers = with_key(world.a.headers, "burst")
    body = post_body(world, "777")

    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(
            pool.map(lambda _: client.post("/v1/posts", headers=headers, json=body), range(4))
        )

    assert [r.status_code for r in responses] == [201] * 4, [r.text for r in responses]
    assert len({r.content for r in responses}) == 1
    assert sum(REPLAY_HEADER not in r.headers for r in responses) == 1
    assert posts_in(session, world) == 2
