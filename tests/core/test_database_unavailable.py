"""A database that cannot be reached is a 503 with ``Retry-After``, never a 500."""

from __future__ import annotations

import socket
import time

from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError, OperationalError

from openpost.app import create_app
from openpost.auth.keys import generate_key
from openpost.config import Settings
from openpost.core import unavailable


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


def test_unreachable_database_is_503_with_retry_after() -> None:
    settings = Settings(
        env="test",
        database_url=f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/none",
    )
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        for path in ("/v1/analytics", "/v1/posts", "/v1/integrations"):
            response = client.get(path, headers={"Authorization": f"Bearer {generate_key('live')}"})
            assert response.status_code == 503, (path, response.text)
            assert response.json() == {"error": unavailable.MESSAGE}
            assert response.headers["retry-after"] == "5"
        assert client.get("/healthz").status_code == 200  # no database needed
    app.state.engine.dispose()


def test_what_counts_as_unavailable() -> None:
    refused = OperationalError("SELECT 1", {}, Exception("connection refused"))
    assert unavailable.is_database_unavailable(refused)
    assert unavailable.describe(refused) == "Exception: connection refused"
    broken = IntegrityError("INSERT", {}, Exception("duplicate key"))
    assert not unavailable.is_database_unavailable(broken)  # a bug: stays a 500


def test_the_warning_is_throttled() -> None:
    throttle = unavailable._Throttle(60.0)
    assert throttle.passes() == 0
    assert throttle.passes() is None
    assert throttle.passes() is None
    throttle._last = time.monotonic() - 61  # a minute later, as far as it knows
    assert throttle.passes() == 2  # the line stands for the two held back
