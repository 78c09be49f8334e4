"""/v1/integrations: list, read, connect by handle, disconnect; every error path."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openpost.analytics.models import Snapshot
from openpost.core import clock
from openpost.integrations.models import Integration, Platform
from openpost.posts.models import PostTarget
from tests.builders import World, make_integration, make_key, make_workspace

FIELDS = {
    "id",
    "platform",
    "username",
    "display_name",
    "status",
    "external_account_id",
    "analytics_enabled",
    "synthetic",
    "created_at",
}


@pytest.fixture
def test_headers(session: Session) -> dict[str, str]:
    """A key of a ``test`` workspace, where connecting by handle makes synthetic accounts."""
    workspace = make_workspace(session, mode="test")
    key = make_key(session, workspace)
    session.commit()
    return {"Authorization": f"Bearer {key}"}


def connect(client: TestClient, headers: dict[str, str], **body: object) -> dict[str, object]:
    response = client.post("/v1/integrations", headers=headers, json=body)
    assert response.status_code in (200, 201), response.text
    result: dict[str, object] = response.json()["data"]
    return result


# --- GET /v1/integrations -------------------------------------------------------------


def test_list_shows_the_workspaces_integrations_newest_first(
    client: TestClient, session: Session, world: World
) -> None:
    older = world.a.integration
    newer = make_integration(
        session,
        world.a.workspace,
        platform="bluesky",
        username="alice.bsky.social",
        display_name="Alice",
        created_at=clock.now() + timedelta(seconds=5),
        status="disconnected",
        credentials_encrypted="gAAAA-very-secret-token",
    )
    session.commit()

    response = client.get("/v1/integrations", headers=world.a.headers)

    assert response.status_code == 200, response.text
    rows = response.json()["data"]
    assert [row["id"] for row in rows] == [str(newer.id), str(older.id)]
    assert rows[0] == {
        "id": str(newer.id),
        "platform": "bluesky",
        "username": "alice.bsky.social",
        "display_name": "Alice",
        "status": "disconnected",
        "external_account_id": newer.external_account_id,
        "analytics_enabled": True,
        "synthetic": False,
        "created_at": rows[0]["created_at"],
    }
    assert rows[0]["created_at"].endswith("Z")
    assert "very-secret" not in response.text
    assert "credential" not in response.text


def test_list_is_empty_for_a_workspace_without_integrations(
    client: TestClient, test_headers: dict[str, str]
) -> None:
    response = client.get("/v1/integrations", headers=test_headers)
    assert response.status_code == 200
    assert response.json() == {"data": []}


# --- GET /v1/integrations/{id} --------------------------------------------------------


def test_get_one(client: TestClient, world: World) -> None:
    integration = world.a.integration
    response = client.get(f"/v1/integrations/{integration.id}", headers=world.a.headers)
    assert response.status_code == 200, response.text
    body = response.json()["data"]
    assert set(body) == FIELDS
    assert body["id"] == str(integration.id)
    assert body["platform"] == "twitter"
    assert body["username"] == integration.username
    assert body["status"] == "active"


def test_get_another_workspaces_integration_is_404(client: TestClient, world: World) -> None:
    response = client.get(f"/v1/integrations/{world.b.integration.id}", headers=world.a.headers)
    assert response.status_code == 404
    assert response.json() == {"error": "integration not found"}


def test_get_unknown_is_404(client: TestClient, world: World) -> None:
    response = client.get(
        "/v1/integrations/0190e0c0-0000-7000-8000-000000000000", headers=world.a.headers
    )
    assert response.status_code == 404


def test_get_malformed_id_is_400_naming_the_field(client: TestClient, world: World) -> None:
    response = client.get("/v1/integrations/not-a-uuid", headers=world.a.headers)
    assert response.status_code == 400
    assert response.json() == {"error": "integration_id must be a UUID"}


# --- POST /v1/integrations ------------------------------------------------------------


def test_connect_in_a_test_workspace_creates_a_synthetic_account(
    client: TestClient, test_headers: dict[str, str]
) -> None:
    response = client.post(
        "/v1/integrations",
        headers=test_headers,
        json={"platform": "twitter", "username": "  @OpenPost "},
    )

    assert response.status_code == 201, response.text
    body = response.json()["data"]
    assert set(body) == FIELDS
    assert body["platform"] == "twitter"
    assert body["username"] == "OpenPost"
    assert body["display_name"] == "OpenPost"
    assert body["status"] == "active"
    assert body["synthetic"] is True
    assert body["analytics_enabled"] is True
    assert body["external_account_id"] == "synthetic:twitter:openpost"

    listed = client.get("/v1/integrations", headers=test_headers).json()["data"]
    assert [row["id"] for row in listed] == [body["id"]]
    fetched = client.get(f"/v1/integrations/{body['id']}", headers=test_headers).json()["data"]
    assert fetched == body


def test_connect_works_for_every_platform_in_test_mode(
    client: TestClient, test_headers: dict[str, str], subtests: pytest.Subtests
) -> None:
    for platform in Platform:
        with subtests.test(platform=platform.value):
            body = connect(client, test_headers, platform=platform.value, username="openpost")
            assert body["platform"] == platform.value
            assert body["external_account_id"] == f"synthetic:{platform.value}:openpost"


def test_connecting_the_same_account_again_returns_it(
    client: TestClient, session: Session, test_headers: dict[str, str]
) -> None:
    first = client.post(
        "/v1/integrations", headers=test_headers, json={"platform": "bluesky", "username": "a.b"}
    )
    again = client.post(
        "/v1/integrations", headers=test_headers, json={"platform": "bluesky", "username": "@A.B"}
    )
    other_platform = client.post(
        "/v1/integrations", headers=test_headers, json={"platform": "mastodon", "username": "a.b"}
    )

    assert first.status_code == 201
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert other_platform.status_code == 201
    assert other_platform.json()["data"]["id"] != first.json()["data"]["id"]
    assert session.scalar(select(func.count()).select_from(Integration)) == 2


def test_connecting_finds_an_account_made_elsewhere_by_its_handle(
    client: TestClient, session: Session
) -> None:
    workspace = make_workspace(session, mode="test")
    headers = {"Authorization": f"Bearer {make_key(session, workspace)}"}
    seeded = make_integration(  # as the demo seeder makes them: the simulator's account id
        session,
        workspace,
        platform="bluesky",
        username="Demo.bsky.social",
        external_account_id="did:plc:seededbythedemo",
        synthetic=True,
        status="needs_refresh",
    )
    session.commit()

    response = client.post(
        "/v1/integrations",
        headers=headers,
        json={"platform": "bluesky", "username": "@demo.BSKY.social"},
    )

    assert response.status_code == 200, response.text
    body = response.json()["data"]
    assert body["id"] == str(seeded.id)
    assert body["external_account_id"] == "did:plc:seededbythedemo"
    assert body["status"] == "active"
    listed = client.get("/v1/integrations", headers=headers).json()["data"]
    assert [row["id"] for row in listed] == [str(seeded.id)]


def test_connecting_a_disconnected_account_reactivates_it(
    client: TestClient, test_headers: dict[str, str]
) -> None:
    created = connect(client, test_headers, platform="youtube", username="channel")
    deleted = client.delete(f"/v1/integrations/{created['id']}", headers=test_headers)
    assert deleted.json()["data"]["status"] == "disconnected"

    response = client.post(
        "/v1/integrations",
        headers=test_headers,
        json={"platform": "youtube", "username": "channel"},
    )

    assert response.status_code == 200, response.text
    assert response.json()["data"]["id"] == created["id"]
    assert response.json()["data"]["status"] == "active"


def test_a_consent_only_platform_is_not_connected_by_handle(
    client: TestClient, world: World
) -> None:
    # Pinterest connects only with its owner's consent: never by handle, and no call made.
    response = client.post(
        "/v1/integrations", headers=world.a.headers, json={"platform": "pinterest", "username": "a"}
    )
    assert response.status_code == 400
    message = response.json()["error"]
    assert "only with their owner's consent" in message
    assert "pinterest" in message


def test_username_of_100_characters_is_accepted(
    client: TestClient, test_headers: dict[str, str]
) -> None:
    body = connect(client, test_headers, platform="twitter", username="@" + "u" * 100)
    assert body["username"] == "u" * 100


BAD_BODIES: list[tuple[dict[str, object], str]] = [
    ({"platform": "myspace", "username": "a"}, "platform"),
    ({"platform": "Twitter", "username": "a"}, "platform"),
    ({"platform": 3, "username": "a"}, "platform"),
    ({"username": "a"}, "platform"),
    ({"platform": "twitter"}, "username"),
    ({"platform": "twitter", "username": ""}, "username"),
    ({"platform": "twitter", "username": "  @ "}, "username"),
    ({"platform": "twitter", "username": "u" * 101}, "username"),
    ({"platform": "twitter", "username": "two words"}, "username"),
    ({"platform": "twitter", "username": 12}, "username"),
    ({"platform": "twitter", "username": "a", "scopes": ["read"]}, "scopes"),
]


def test_connect_bad_input_is_400_naming_the_field(
    client: TestClient, test_headers: dict[str, str], subtests: pytest.Subtests
) -> None:
    for body, field in BAD_BODIES:
        with subtests.test(body=body):
            response = client.post("/v1/integrations", headers=test_headers, json=body)
            assert response.status_code == 400, response.text
            assert response.json()["error"].startswith(field)


def test_connect_needs_a_json_body(client: TestClient, test_headers: dict[str, str]) -> None:
    as_form = client.post(
        "/v1/integrations", headers=test_headers, data={"platform": "twitter", "username": "a"}
    )
    broken = client.post(
        "/v1/integrations",
        headers={**test_headers, "Content-Type": "application/json"},
        content=b'{"platform": "twitter",',
    )
    not_an_object = client.post("/v1/integrations", headers=test_headers, json=["twitter"])

    assert as_form.status_code == 415
    assert as_form.json() == {"error": "request body must be application/json"}
    assert broken.status_code == 400
    assert broken.json() == {"error": "request body is not valid JSON"}
    assert not_an_object.status_code == 400


# --- DELETE /v1/integrations/{id} -----------------------------------------------------


def test_disconnect_keeps_history(client: TestClient, session: Session, world: World) -> None:
    integration = world.a.integration

    response = client.delete(f"/v1/integrations/{integration.id}", headers=world.a.headers)

    assert response.status_code == 200, response.text
    body = response.json()["data"]
    assert set(body) == FIELDS
    assert body["status"] == "disconnected"
    fetched = client.get(f"/v1/integrations/{integration.id}", headers=world.a.headers)
    assert fetched.json()["data"]["status"] == "disconnected"
    listed = client.get("/v1/integrations", headers=world.a.headers).json()["data"]
    assert [row["status"] for row in listed] == ["disconnected"]
    # History stays: the targets and snapshots are all still there and still served.
    assert (
        session.scalar(
            select(func.count())
            .select_from(PostTarget)
            .where(PostTarget.integration_id == integration.id)
        )
        == 1
    )
    assert (
        session.scalar(
            select(func.count())
            .select_from(Snapshot)
            .where(Snapshot.integration_id == integration.id)
        )
        == 2
    )
    analytics = client.get("/v1/analytics", headers=world.a.headers).json()["data"]
    assert len(analytics) == 2
    again = client.delete(f"/v1/integrations/{integration.id}", headers=world.a.headers)
    assert again.status_code == 200
    assert again.json()["data"]["status"] == "disconnected"


def test_disconnect_another_workspaces_integration_is_404(client: TestClient, world: World) -> None:
    response = client.delete(f"/v1/integrations/{world.b.integration.id}", headers=world.a.headers)
    assert response.status_code == 404
    still = client.get(f"/v1/integrations/{world.b.integration.id}", headers=world.b.headers)
    assert still.json()["data"]["status"] == "active"


def test_disconnect_malformed_id_is_400(client: TestClient, world: World) -> None:
    response = client.delete("/v1/integrations/123", headers=world.a.headers)
    assert response.status_code == 400
    assert response.json() == {"error": "integration_id must be a UUID"}


# --- authentication -------------------------------------------------------------------


def test_every_endpoint_needs_a_key(
    client: TestClient, world: World, subtests: pytest.Subtests
) -> None:
    some_id = "0190e0c0-0000-7000-8000-000000000000"
    for method, path in [
        ("GET", "/v1/integrations"),
        ("GET", f"/v1/integrations/{some_id}"),
        ("POST", "/v1/integrations"),
        ("DELETE", f"/v1/integrations/{some_id}"),
    ]:
        body = {"platform": "twitter", "username": "a"} if method == "POST" else None
        for headers in ({}, {"Authorization": "Bearer op_live_" + "x" * 32}):
            with subtests.test(method=method, path=path, headers=headers):
                response = client.request(method, path, json=body, headers=headers)
                assert response.status_code == 401
                assert response.json() == {"error": "Invalid API key"}
