"""The rate-limit storage is down (a Redis URL pointing at a closed loopback port): the API
and the login keep working, limited in each process's memory; one warning, no secret, and
the outage shows in /metrics. See docs/decisions/0005-rate-limit-storage-outage.md."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from openpost.app import create_app
from openpost.config import Settings
from openpost.core.outage import StorageOutage, storage_url
from tests.builders import World

SECRET = "s3cret-redis-password"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


METRICS_TOKEN = "metrics-token-for-tests"


@pytest.fixture
def down_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "rate_limit_storage_url": f"redis://:{SECRET}@127.0.0.1:{closed_port()}/0",
            "api_rate_limit": "5/minute",
            "metrics_token": METRICS_TOKEN,
        }
    )


@pytest.fixture
def down(down_settings: Settings, engine: Engine) -> Iterator[TestClient]:
    app = create_app(down_settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.state.engine.dispose()


def metric(client: TestClient, name: str) -> float:
    scraped = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    found = re.search(rf"^{name} (\S+)$", scraped.text, re.M)
    assert found, f"{name} is not in /metrics"
    return float(found.group(1))


def test_the_api_serves_and_still_limits_per_process(
    down: TestClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="openpost.ratelimit")
    statuses, remaining = [], []
    for _ in range(6):
        response = down.get("/v1/analytics", headers=world.a.headers)
        statuses.append(response.status_code)
        remaining.append(response.headers.get("ratelimit-remaining"))
    assert statuses == [200] * 5 + [429]  # the limit holds, counted in this process
    assert remaining[:5] == ["4", "3", "2", "1", "0"]
    warnings = [r for r in caplog.records if r.name == "openpost.ratelimit"]
    assert len(warnings) == 1  # once per interval, not once per request
    assert "ConnectionError" in warnings[0].getMessage()
    assert SECRET not in caplog.text
    assert "127.0.0.1" not in warnings[0].getMessage()
    # Redis was asked once; the next asks wait for the retry interval.
    assert metric(down, "openpost_rate_limit_storage_errors_total") == 1
    assert metric(down, "openpost_rate_limit_storage_degraded") == 1


def test_storage_is_asked_again_after_the_retry_interval(
    down: TestClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    outage: StorageOutage = down.app.state.rate_limit_outage  # type: ignore[attr-defined]
    outage.retry_seconds = 0  # every request tries Redis again
    for _ in range(3):
        assert down.get("/v1/analytics", headers=world.a.headers).status_code == 200
    assert metric(down, "openpost_rate_limit_storage_errors_total") == 3
    assert len([r for r in caplog.records if r.name == "openpost.ratelimit"]) == 1


def test_an_answer_ends_the_outage(caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    outage = StorageOutage("redis://127.0.0.1:1/0", registry, retry_seconds=60)
    assert outage.available()
    outage.failed(ConnectionError("refused"))
    assert not outage.available()  # not asked again for a minute
    assert registry.get_sample_value("openpost_rate_limit_storage_degraded") == 1
    outage.recovered()
    assert outage.available()
    assert registry.get_sample_value("openpost_rate_limit_storage_degraded") == 0
    assert registry.get_sample_value("openpost_rate_limit_storage_errors_total") == 1
    outage.failed(ConnectionError("refused"))  # a new outage warns again
    messages = [r.getMessage() for r in caplog.records if r.name == "openpost.ratelimit"]
    assert [m.split(" (")[0].split(";")[0] for m in messages] == [
        "rate-limit storage unreachable",
        "rate-limit storage answers again",
        "rate-limit storage unreachable",
    ]


def test_memory_storage_has_no_outage() -> None:
    assert StorageOutage("").errors == ()
    assert StorageOutage("memory://").errors == ()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("", ""),
        ("memory://", "memory://"),
        (
            "redis://127.0.0.1:6379/0",
            "redis://127.0.0.1:6379/0?socket_timeout=0.5&socket_connect_timeout=0.5",
        ),
        (
            "redis://h:6379/0?socket_timeout=2",
            "redis://h:6379/0?socket_timeout=2&socket_connect_timeout=0.5",
        ),
    ],
)
def test_redis_urls_get_socket_timeouts_unless_they_set_them(given: str, expected: str) -> None:
    assert storage_url(given) == expected
