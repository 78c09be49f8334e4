"""The login throttle under concurrency: checking and counting an attempt are one step.

Sixteen wrong passwords at once for one email and address, from sixteen threads: exactly
``login_max_failures`` of them reach the password check, the rest are refused (429), in
this process's memory and in Redis alike; then even the right password is refused until
the window has passed.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
import time_machine
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from openpost.core.db import make_sessionmaker
from openpost.core.errors import TooManyRequests
from openpost.core.outage import storage_url
from openpost.dashboard import sessions
from openpost.dashboard.sessions import LoginFailed, LoginThrottle
from tests.dashboard.conftest import PASSWORD, Members

REDIS_URL = os.environ.get("OPENPOST_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"

MAX_FAILURES = 5
WINDOW_MINUTES = 15
CONCURRENT = 16


@pytest.fixture(params=["memory", "redis"])
def throttle(request: pytest.FixtureRequest) -> Iterator[LoginThrottle]:
    if request.param == "memory":
        yield LoginThrottle(MAX_FAILURES, WINDOW_MINUTES)
        return
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        if IN_CI:
            pytest.fail(f"Redis at {REDIS_URL} is unreachable in CI: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} is unreachable (runs in CI)")
    finally:
        client.close()
    yield LoginThrottle(MAX_FAILURES, WINDOW_MINUTES, storage_url(REDIS_URL))


def _log_in(
    factory: sessionmaker[Session], throttle: LoginThrottle, email: str, password: str, address: str
) -> str:
    """``checked`` (wrong password), ``refused`` (throttled) or ``in`` (logged in)."""
    with factory() as session:
        try:
            sessions.log_in(
                session,
                throttle,
                email=email,
                password=password,
                address=address,
                lifetime=timedelta(hours=1),
            )
        except LoginFailed:
            return "checked"
        except TooManyRequests:
            return "refused"
        session.commit()
        return "in"


def test_concurrent_wrong_passwords_check_exactly_the_limit(
    engine: Engine, members: Members, throttle: LoginThrottle
) -> None:
    factory = make_sessionmaker(engine)
    email = members.a["viewer"]
    address = f"198.51.100.1-{uuid.uuid4().hex}"  # this run's own counter, in Redis too
    start = threading.Barrier(CONCURRENT)
    outcomes: list[str] = []
    lock = threading.Lock()

    def wrong_password() -> None:
        start.wait()
        outcome = _log_in(factory, throttle, email, "wrong password", address)
        with lock:
            outcomes.append(outcome)

    try:
        threads = [threading.Thread(target=wrong_password) for _ in range(CONCURRENT)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcomes) == ["checked"] * MAX_FAILURES + ["refused"] * (
            CONCURRENT - MAX_FAILURES
        )

        # The right password is refused too, until the window has passed.
        assert _log_in(factory, throttle, email, PASSWORD, address) == "refused"
        with time_machine.travel(timedelta(minutes=WINDOW_MINUTES - 1), tick=True):
            assert _log_in(factory, throttle, email, PASSWORD, address) == "refused"
        with time_machine.travel(timedelta(minutes=WINDOW_MINUTES, seconds=5), tick=True):
            assert _log_in(factory, throttle, email, PASSWORD, address) == "in"
    finally:
        throttle.succeeded(email, address)  # leaves nothing behind in Redis


def test_a_refused_attempt_is_not_counted(engine: Engine, members: Members) -> None:
    """Attempts refused while throttled take no slot: the window still ends on time."""
    throttle = LoginThrottle(2, 1)
    address = "203.0.113.7"
    assert throttle.attempt("a@x.example", address) is None
    assert throttle.attempt("a@x.example", address) is None
    wait = throttle.attempt("a@x.example", address)
    assert wait is not None
    assert 0 < wait <= 60
    with time_machine.travel(timedelta(seconds=30), tick=True):
        assert throttle.attempt("a@x.example", address) is not None
    with time_machine.travel(timedelta(seconds=61), tick=True):
        assert throttle.attempt("a@x.example", address) is None
    # Another email from the same address has its own count.
    assert throttle.attempt("b@x.example", address) is None
