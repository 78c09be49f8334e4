"""Per-key rate limits: 429 with Retry-After and RateLimit-* headers, in memory and on Redis."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openpost.app import create_app
from openpost.auth import ratelimit
from openpost.auth.keys import hash_key
from openpost.auth.models import ApiKey
from openpost.auth.ratelimit import KeyRateLimiter, MemoryWindows
from openpost.config import Settings
from openpost.core.errors import TooManyRequests
from tests import builders
from tests.builders import World

REDIS_URL = os.environ.get("OPENPOST_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        data_dir=tmp_path,
        secret_key="test-secret-key-0123456789",
        api_rate_limit="3/minute",
        **overrides,
    )


@pytest.fixture
def limited_app(database_url: str, tmp_path: Path, engine: Engine) -> Iterator[FastAPI]:
    application = create_app(_settings(database_url, tmp_path))
    yield application
    application.state.engine.dispose()


@pytest.fixture
def limited(limited_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(limited_app, raise_server_exceptions=False) as test_client:
        yield test_client


def _assert_limited(response_status: int, body: object, headers: dict[str, str]) -> None:
    assert response_status == 429
    assert body == {"error": "rate limit exceeded"}
    assert headers["ratelimit-limit"] == "3"
    assert headers["ratelimit-remaining"] == "0"
    retry_after = int(headers["retry-after"])
    reset = int(headers["ratelimit-reset"])
    assert 1 <= retry_after <= 60
    assert 0 <= reset <= 60


def test_fourth_call_in_a_minute_is_429(limited: TestClient, world: World) -> None:
    remaining = []
    for _ in range(3):
        response = limited.get("/v1/analytics", headers=world.a.headers)
        assert response.status_code == 200
        assert response.headers["ratelimit-limit"] == "3"
        assert 0 < int(response.headers["ratelimit-reset"]) <= 60
        remaining.append(int(response.headers["ratelimit-remaining"]))
    assert remaining == [2, 1, 0]

    response = limited.get("/v1/analytics", headers=world.a.headers)
    _assert_limited(response.status_code, response.json(), dict(response.headers))


def test_limits_are_per_key(limited: TestClient, world: World, session: Session) -> None:
    second_key_same_workspace = builders.make_key(session, world.a.workspace, "second")
    session.commit()
    for _ in range(4):
        limited.get("/v1/analytics", headers=world.a.headers)
    assert limited.get("/v1/analytics", headers=world.a.headers).status_code == 429

    other = limited.get("/v1/analytics", headers=world.b.headers)
    assert other.status_code == 200
    assert other.headers["ratelimit-remaining"] == "2"
    sibling = limited.get(
        "/v1/analytics", headers={"Authorization": f"Bearer {second_key_same_workspace}"}
    )
    assert sibling.status_code == 200
    assert sibling.headers["ratelimit-remaining"] == "2"


def test_every_route_counts_against_the_same_budget(limited: TestClient, world: World) -> None:
    assert limited.get("/v1/analytics", headers=world.a.headers).status_code == 200
    post = limited.get(f"/v1/analytics/post/{world.a.post.id}", headers=world.a.headers)
    assert post.status_code == 200
    assert post.headers["ratelimit-remaining"] == "1"
    # Error responses carry the headers and count too.
    missing = limited.get(f"/v1/analytics/post/{uuid.uuid4()}", headers=world.a.headers)
    assert missing.status_code == 404
    assert missing.headers["ratelimit-remaining"] == "0"
    limited_post = limited.get(f"/v1/analytics/post/{world.a.post.id}", headers=world.a.headers)
    _assert_limited(limited_post.status_code, limited_post.json(), dict(limited_post.headers))


def test_rejected_auth_is_not_counted_against_the_key(limited: TestClient, world: World) -> None:
    for _ in range(5):
        response = limited.get("/v1/analytics", headers={"Authorization": "Bearer nope"})
        assert response.status_code == 401
    assert limited.get("/v1/analytics", headers=world.a.headers).status_code == 200


def test_default_limit_is_600_a_minute(client: TestClient, world: World) -> None:
    response = client.get("/v1/analytics", headers=world.a.headers)
    assert response.headers["ratelimit-limit"] == "600"
    assert response.headers["ratelimit-remaining"] == "599"


# --- Redis: the counter is shared by every process ----------------------------------------


@pytest.fixture
def redis_client() -> Iterator[Any]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        if IN_CI:
            pytest.fail(f"Redis at {REDIS_URL} is unreachable in CI: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} is unreachable (runs in CI)")
    yield client
    client.close()


def _flush_key_counters(redis_client: Any, key_ids: list[str]) -> None:
    for key_id in key_ids:
        for name in redis_client.scan_iter(match=f"*{key_id}*"):
            redis_client.delete(name)


def test_redis_counter_is_shared_by_two_app_instances(
    database_url: str,
    tmp_path: Path,
    engine: Engine,
    world: World,
    session: Session,
    redis_client: Any,
) -> None:
    key_ids = [
        str(session.scalar(select(ApiKey.id).where(ApiKey.key_hash == hash_key(key))))
        for key in (world.a.key, world.b.key)
    ]
    _flush_key_counters(redis_client, key_ids)
    settings = _settings(database_url, tmp_path, rate_limit_storage_url=REDIS_URL)
    first_app, second_app = create_app(settings), create_app(settings)
    try:
        with (
            TestClient(first_app, raise_server_exceptions=False) as first,
            TestClient(second_app, raise_server_exceptions=False) as second,
        ):
            assert first.get("/v1/analytics", headers=world.a.headers).status_code == 200
            response = second.get("/v1/analytics", headers=world.a.headers)
            assert response.status_code == 200
            assert response.headers["ratelimit-remaining"] == "1"
            assert first.get("/v1/analytics", headers=world.a.headers).status_code == 200

            response = second.get("/v1/analytics", headers=world.a.headers)
            _assert_limited(response.status_code, response.json(), dict(response.headers))
            response = first.get("/v1/analytics", headers=world.a.headers)
            _assert_limited(response.status_code, response.json(), dict(response.headers))

            # Another key has its own counter, on either instance.
            other = second.get("/v1/analytics", headers=world.b.headers)
            assert other.status_code == 200
            assert other.headers["ratelimit-remaining"] == "2"
        assert any(
            True for key_id in key_ids for _ in redis_client.scan_iter(match=f"*{key_id}*")
        ), "the counters were expected in Redis"
    finally:
        _flush_key_counters(redis_client, key_ids)
        first_app.state.engine.dispose()
        second_app.state.engine.dispose()


# --- the in-memory window (one process) ---------------------------------------------------


def test_memory_window_opens_at_the_first_hit_and_lasts_the_period() -> None:
    windows = MemoryWindows(60.0)
    assert windows.hit("k", 1000.0) == (1, 1060.0)
    assert windows.hit("k", 1030.0) == (2, 1060.0)
    assert windows.hit("other", 1030.0) == (1, 1090.0)
    assert windows.hit("k", 1059.999) == (3, 1060.0)
    assert windows.hit("k", 1060.0) == (1, 1120.0)  # the window ended: a fresh count


def test_hits_past_the_limit_still_count_until_the_window_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [5000.0]
    monkeypatch.setattr(ratelimit.time, "time", lambda: now[0])
    limiter = KeyRateLimiter("2/minute")
    assert limiter.hit("k")["RateLimit-Remaining"] == "1"
    assert limiter.hit("k") == {
        "RateLimit-Limit": "2",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "60",
    }
    now[0] = 5010.5
    with pytest.raises(TooManyRequests) as refused:
        limiter.hit("k")
    assert refused.value.headers == {
        "RateLimit-Limit": "2",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "50",
        "Retry-After": "50",
    }
    assert limiter.memory is not None
    assert limiter.memory.windows["k"] == (5060.0, 3)
    now[0] = 5060.0
    assert limiter.hit("k")["RateLimit-Remaining"] == "1"


def test_expired_windows_are_swept_once_many_keys_are_held(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ratelimit, "SWEEP_AT", 3)
    windows = MemoryWindows(10.0)
    for key in ("a", "b", "c"):
        windows.hit(key, 0.0)
    windows.hit("b", 5.0)
    windows.hit("d", 20.0)  # a, b and c expired by now; d is the only window left
    assert set(windows.windows) == {"d"}


def test_concurrent_hits_are_all_counted_and_start_no_threads() -> None:
    limiter = KeyRateLimiter("1000000/minute")
    threads_before = threading.active_count()

    def hammer() -> None:
        for _ in range(500):
            limiter.hit("shared")

    workers = [threading.Thread(target=hammer) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert threading.active_count() == threads_before
    assert limiter.memory is not None
    assert limiter.memory.windows["shared"][1] == 4000
