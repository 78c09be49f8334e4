"""Which answer comes first: 405 names every method of the path; a caller without a valid
key learns 401 before anything about its body (broken JSON, wrong content type)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openpost.app import create_app
from openpost.auth.models import ApiKey
from openpost.auth.service import revoke_key
from openpost.config import Settings
from tests.builders import World

BROKEN = b'{"platform": "bluesky", "username": '


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/v1/integrations", "GET, POST"),
        ("DELETE", "/v1/posts", "GET, POST"),
        ("POST", "/v1/integrations/00000000-0000-0000-0000-000000000000", "GET, DELETE"),
        ("POST", "/v1/analytics", "GET"),
        ("GET", "/v1/analytics/refresh", "POST"),
        ("DELETE", "/login", "GET, POST"),
    ],
)
def test_405_lists_every_method_of_the_path(
    client: TestClient, world: World, method: str, path: str, allow: str
) -> None:
    response = client.request(method, path, headers=world.a.headers)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.json() == {"error": "method not allowed"}


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer op_live_" + "A" * 32, "Basic abc", "Bearer nonsense"],
    ids=["missing", "unknown", "other-scheme", "malformed"],
)
@pytest.mark.parametrize(
    ("path", "content_type", "body"),
    [
        ("/v1/integrations", "application/json", BROKEN),
        ("/v1/posts", "application/json", b"\xff\xfe not utf-8"),
        ("/v1/analytics/refresh", "application/json", b"[1, 2"),
        ("/v1/integrations", "text/plain", b"hello"),
        ("/v1/integrations", "application/json", b'{"platform": "nowhere"}'),
    ],
)
def test_no_valid_key_is_401_whatever_the_body(
    client: TestClient,
    world: World,
    authorization: str | None,
    path: str,
    content_type: str,
    body: bytes,
) -> None:
    headers = {"Content-Type": content_type}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = client.post(path, content=body, headers=headers)
    assert response.status_code == 401, response.text
    assert response.json() == {"error": "Invalid API key"}


def test_a_revoked_key_with_a_broken_body_is_401(
    client: TestClient, session: Session, world: World
) -> None:
    key = session.scalars(select(ApiKey).where(ApiKey.workspace_id == world.a.workspace.id)).one()
    revoke_key(session, key.id, world.a.workspace.id)
    session.commit()
    response = client.post(
        "/v1/integrations",
        content=BROKEN,
        headers={**world.a.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 401


def test_an_authenticated_caller_still_gets_the_400_and_415(
    client: TestClient, world: World
) -> None:
    broken = client.post(
        "/v1/integrations",
        content=BROKEN,
        headers={**world.a.headers, "Content-Type": "application/json"},
    )
    assert broken.status_code == 400
    assert broken.json() == {"error": "request body is not valid JSON"}
    # The request was counted against the key's limit like any other.
    assert broken.headers["ratelimit-remaining"] == "599"
    as_text = client.post(
        "/v1/integrations", content=b"hi", headers={**world.a.headers, "Content-Type": "text/plain"}
    )
    assert as_text.status_code == 415
    assert as_text.headers["ratelimit-remaining"] == "598"


def test_an_authenticated_caller_over_its_limit_gets_429_before_the_body(
    settings: Settings, engine: Engine, world: World
) -> None:
    app = create_app(settings.model_copy(update={"api_rate_limit": "2/minute"}))
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            headers = {**world.a.headers, "Content-Type": "application/json"}
            statuses = [
                client.post("/v1/integrations", content=BROKEN, headers=headers).status_code
                for _ in range(3)
            ]
    finally:
        app.state.engine.dispose()
    assert statuses == [400, 400, 429]
