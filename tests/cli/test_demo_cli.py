"""``openpost demo``: migrates, seeds, prints one JSON object (or text) with a working key."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from openpost.cli import app
from openpost.core import clock
from openpost.workspaces.demo import DEMO_EMAIL, DEMO_PASSWORD


@pytest.fixture
def still_clock() -> Iterator[None]:
    """Both runs at one instant, so the second has nothing new to record."""
    instant = clock.now()
    clock.set_clock(lambda: instant)
    yield
    clock.set_clock(None)


def test_demo_prints_json_with_a_working_key_then_reuses_the_workspace(
    database_url: str, engine: Engine, client: TestClient, still_clock: None
) -> None:
    runner = CliRunner()
    env = {"OPENPOST_DATABASE_URL": database_url, "OPENPOST_ENV": "test"}

    first = runner.invoke(app, ["demo", "--json"], env=env)
    assert first.exit_code == 0, first.output
    lines = first.stdout.strip().splitlines()
    assert len(lines) == 1
    payload = json.loads(lines[0])
    assert set(payload) == {
        "workspace_id",
        "key",
        "email",
        "password",
        "dashboard_url",
        "api_url",
    }
    assert payload["key"].startswith("op_test_")
    assert (payload["email"], payload["password"]) == (DEMO_EMAIL, DEMO_PASSWORD)
    assert payload["dashboard_url"] == "http://127.0.0.1:8000/"
    assert payload["api_url"] == "http://127.0.0.1:8000/v1"

    headers = {"Authorization": f"Bearer {payload['key']}"}
    response = client.get("/v1/analytics", params={"days": 1, "limit": 5}, headers=headers)
    assert response.status_code == 200, response.text
    rows = response.json()["data"]
    assert len(rows) == 5
    assert response.json()["next_cursor"]

    second = runner.invoke(app, ["demo"], env=env)
    assert second.exit_code == 0, second.output
    text = second.stdout
    assert payload["workspace_id"] in text
    assert "reused" in text
    assert "(0 written now)" in text
    assert f"login {DEMO_EMAIL} / {DEMO_PASSWORD}" in text
    key = next(word for word in text.split() if word.startswith("op_test_"))
    assert key != payload["key"]
    assert f'curl -s -H "Authorization: Bearer {key}"' in text
    assert "http://127.0.0.1:8000/v1/analytics?days=7&limit=5" in text
    for plaintext in (payload["key"], key):
        auth = {"Authorization": f"Bearer {plaintext}"}
        assert client.get("/v1/analytics", params={"limit": 1}, headers=auth).status_code == 200


def test_demo_reports_bad_settings_without_a_traceback() -> None:
    result = CliRunner().invoke(
        app, ["demo"], env={"OPENPOST_ENV": "production", "OPENPOST_SECRET_KEY": ""}
    )
    assert result.exit_code == 2
    assert "OPENPOST_SECRET_KEY must be set" in result.stderr
    assert result.stdout == ""
