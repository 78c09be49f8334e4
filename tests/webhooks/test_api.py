"""/v1/webhooks: the secret is shown once and sealed at rest, the URL guard refuses private
targets, deleting stops deliveries, and the delivery log shows each attempt."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openpost.core import clock
from openpost.webhooks.events import emit
from openpost.webhooks.models import EventType, Webhook, WebhookDelivery
from tests.builders import World

BODY = {"url": "https://hooks.example.com/openpost", "events": ["budget.exhausted"]}


def test_the_secret_is_shown_once_and_sealed_at_rest(
    client: TestClient, session: Session, world: World
) -> None:
    created = client.post("/v1/webhooks", json=BODY, headers=world.a.headers)
    assert created.status_code == 201, created.text
    hook = created.json()["data"]
    assert hook["secret"].startswith("whsec_")
    assert len(hook["secret"]) > 40
    listed = client.get("/v1/webhooks", headers=world.a.headers).json()["data"]
    assert hook["id"] in {h["id"] for h in listed}
    assert "secret" not in listed[0]
    assert hook["secret"] not in client.get("/v1/webhooks", headers=world.a.headers).text
    stored = session.scalar(select(Webhook.secret_sealed).where(Webhook.url == BODY["url"]))
    assert stored is not None
    assert hook["secret"] not in stored

    # A retried create (same Idempotency-Key) answers with the same webhook, no secret kept.
    headers = {**world.a.headers, "Idempotency-Key": "create-hook-1"}
    first = client.post("/v1/webhooks", json=BODY, headers=headers).json()["data"]
    again = client.post("/v1/webhooks", json=BODY, headers=headers).json()["data"]
    assert again["id"] == first["id"]
    assert first["secret"]
    assert again["secret"] == ""


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://hooks.example.com/x", "https"),
        ("https://127.0.0.1/x", "address"),
        ("https://10.1.2.3/x", "address"),
        ("https://[::1]/x", "address"),
        ("https://169.254.169.254/latest", "address"),
        ("https://localhost/x", "loopback"),
        ("https://hooks.example.com:8443/x", "port"),
        ("https://user:pw@hooks.example.com/x", "user name"),
        ("https://hooks.example.com/x#frag", "fragment"),
        ("not a url", "pattern"),
        ("https:///path-only", "no host"),
    ],
)
def test_the_url_guard_refuses_private_and_odd_targets(
    client: TestClient, world: World, url: str, says: str
) -> None:
    response = client.post("/v1/webhooks", json={**BODY, "url": url}, headers=world.a.headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith("url:")
    assert says in response.json()["error"]


def test_unknown_events_are_a_400(client: TestClient, world: World) -> None:
    response = client.post(
        "/v1/webhooks", json={**BODY, "events": ["post.deleted"]}, headers=world.a.headers
    )
    assert response.status_code == 400
    assert "events" in response.json()["error"]


def test_deleting_stops_deliveries_and_the_log_shows_them(
    client: TestClient, session: Session, world: World
) -> None:
    created = client.post(
        "/v1/webhooks",
        json={**BODY, "events": ["integration.needs_refresh"]},
        headers=world.a.headers,
    ).json()["data"]
    now = clock.now()
    for n in range(3):
        emit(session, world.a.workspace.id, EventType.integration_needs_refresh, {"n": n}, now)
    emit(session, world.a.workspace.id, EventType.budget_exhausted, {"not": "subscribed"}, now)
    session.commit()

    page = client.get(
        f"/v1/webhooks/{created['id']}/deliveries", params={"limit": 2}, headers=world.a.headers
    ).json()
    assert [d["status"] for d in page["data"]] == ["pending", "pending"]
    assert {d["type"] for d in page["data"]} == {"integration.needs_refresh"}
    rest = client.get(
        f"/v1/webhooks/{created['id']}/deliveries",
        params={"cursor": page["next_cursor"]},
        headers=world.a.headers,
    ).json()
    assert len(rest["data"]) == 1
    assert rest["next_cursor"] is None

    gone = client.delete(f"/v1/webhooks/{created['id']}", headers=world.a.headers)
    assert gone.status_code == 200
    session.expire_all()
    left = session.scalar(
        select(func.count())
        .select_from(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == uuid.UUID(created["id"]))
    )
    assert left == 0
    again = client.get(f"/v1/webhooks/{created['id']}/deliveries", headers=world.a.headers)
    assert again.status_code == 404
