"""Logging in while the rate-limit storage is down (a Redis URL at a closed loopback port):
the login works, and failures are still throttled, counted in this process's memory
(docs/decisions/0005-rate-limit-storage-outage.md)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from openpost.app import create_app
from openpost.config import Settings
from tests.core.test_ratelimit_outage import closed_port
from tests.dashboard.conftest import Members, csrf_of


def test_login_works_and_stays_throttled(
    settings: Settings, engine: Engine, members: Members
) -> None:
    url = f"redis://127.0.0.1:{closed_port()}/0"
    app = create_app(settings.model_copy(update={"rate_limit_storage_url": url}))
    try:
        with TestClient(app, raise_server_exceptions=False) as client:

            def attempt(password: str) -> int:
                token = csrf_of(client.get("/login").text)
                response = client.post(
                    "/login",
                    data={"email": members.a["viewer"], "password": password, "csrf_token": token},
                    follow_redirects=False,
                )
                return response.status_code

            assert attempt("correct horse battery") == 303
            client.cookies.clear()
            failures = [attempt("wrong password") for _ in range(6)]
    finally:
        app.state.engine.dispose()
    assert failures == [400] * 5 + [429]
