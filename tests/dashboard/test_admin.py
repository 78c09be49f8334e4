"""What the forms do: keys shown once, member rules, connect and disconnect."""

from __future__ import annotations

import re
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from openpost.workspaces.models import Member, User
from tests.builders import World
from tests.dashboard.conftest import Members, page_csrf, sign_in


def _member_id(session: Session, email: str) -> str:
    return str(
        session.scalar(
            select(Member.id).join(User, User.id == Member.user_id).where(User.email == email)
        )
    )


def test_a_new_key_is_shown_once_and_works(
    client: TestClient, session: Session, world: World, members: Members
) -> None:
    sign_in(client, session, members.a["admin"])
    response = client.post(
        "/settings/keys", data={"name": "report <bot>", "csrf_token": page_csrf(client)}
    )
    assert response.status_code == 200
    key = re.search(r'<code id="new-key">(op_live_[A-Za-z0-9_-]{32})</code>', response.text)
    assert key is not None
    assert "report &lt;bot&gt;" in response.text
    api = client.get("/v1/analytics", headers={"Authorization": f"Bearer {key.group(1)}"})
    assert api.status_code == 200
    assert key.group(1) not in client.get("/settings").text  # never shown again
    assert (
        client.post(
            "/settings/keys", data={"name": "  ", "csrf_token": page_csrf(client)}
        ).status_code
        == 400
    )


def test_revoking_a_key_stops_it_at_once(
    client: TestClient, session: Session, world: World, members: Members
) -> None:
    sign_in(client, session, members.a["owner"])
    html = client.get("/settings").text
    key_id = re.search(r'action="/settings/keys/([0-9a-f-]{36})/revoke"', html)
    assert key_id is not None
    response = client.post(
        f"/settings/keys/{key_id.group(1)}/revoke",
        data={"csrf_token": page_csrf(client)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert client.get("/v1/analytics", headers=world.a.headers).status_code == 401
    assert "Key revoked" in client.get(response.headers["location"]).text


def test_member_rules(client: TestClient, session: Session, members: Members) -> None:
    sign_in(client, session, members.a["admin"])
    token = page_csrf(client)
    owner = _member_id(session, members.a["owner"])
    # An admin can neither touch an owner nor make one.
    assert (
        client.post(
            f"/settings/members/{owner}/role", data={"role": "viewer", "csrf_token": token}
        ).status_code
        == 403
    )
    assert (
        client.post(f"/settings/members/{owner}/remove", data={"csrf_token": token}).status_code
        == 403
    )
    assert (
        client.post(
            "/settings/members",
            data={"email": "boss@a.example", "role": "owner", "csrf_token": token},
        ).status_code
        == 403
    )
    # Adding someone new without a password generates one, shown once.
    added = client.post(
        "/settings/members",
        data={"email": "New.Person@A.example", "role": "editor", "csrf_token": token},
    )
    assert added.status_code == 200
    assert "new.person@a.example is now editor" in added.text
    assert re.search(r'<code id="new-password">[A-Za-z0-9_-]{16}</code>', added.text)
    again = client.post(
        "/settings/members",
        data={"email": "new.person@a.example", "role": "viewer", "csrf_token": token},
    )
    assert again.status_code == 400
    assert "already a member" in again.text
    bad = client.post(
        "/settings/members", data={"email": "x@a.example", "role": "boss", "csrf_token": token}
    )
    assert bad.status_code == 400


def test_the_last_owner_stays(client: TestClient, session: Session, members: Members) -> None:
    sign_in(client, session, members.a["owner"])
    token = page_csrf(client)
    owner = _member_id(session, members.a["owner"])
    demote = client.post(
        f"/settings/members/{owner}/role", data={"role": "admin", "csrf_token": token}
    )
    assert demote.status_code == 400
    assert "last owner" in demote.text
    assert (
        client.post(f"/settings/members/{owner}/remove", data={"csrf_token": token}).status_code
        == 400
    )
    # With a second owner, the first may step down.
    admin = _member_id(session, members.a["admin"])
    assert (
        client.post(
            f"/settings/members/{admin}/role",
            data={"role": "owner", "csrf_token": token},
            follow_redirects=False,
        ).status_code
        == 303
    )
    assert (
        client.post(
            f"/settings/members/{owner}/role",
            data={"role": "viewer", "csrf_token": token},
            follow_redirects=False,
        ).status_code
        == 303
    )
    session.expire_all()
    assert session.scalar(select(Member.role).where(Member.id == uuid.UUID(owner))) == "viewer"
    # The change applies at once: the former owner no longer reaches settings.
    assert client.get("/settings").status_code == 403


def test_live_connect_needs_the_platform_and_disconnect_keeps_history(
    client: TestClient, session: Session, world: World, members: Members
) -> None:
    sign_in(client, session, members.a["admin"])
    token = page_csrf(client)
    refused = client.post(
        "/integrations/connect",
        data={"platform": "pinterest", "username": "someone", "csrf_token": token},
    )
    assert refused.status_code == 400  # a consent-only platform is never connected by handle
    assert "only with their owner&#39;s consent" in refused.text
    gone = client.post(
        f"/integrations/{world.a.integration.id}/disconnect",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert gone.status_code == 303
    page = client.get(gone.headers["location"]).text
    assert "Disconnected" in page
    assert "disconnected" in page
    body = client.get(f"/posts/{world.a.post.id}").text  # history stays
    assert "150" in body


def test_settings_show_each_webhook_with_its_delivery_log(
    client: TestClient, session: Session, world: World, members: Members
) -> None:
    from openpost.core import clock
    from openpost.webhooks.events import emit
    from openpost.webhooks.models import EventType, WebhookDelivery

    assert world.a.webhook is not None
    emit(session, world.a.workspace.id, EventType.integration_needs_refresh, {"n": 1}, clock.now())
    session.commit()
    delivery = session.scalars(select(WebhookDelivery)).one()
    delivery.attempts, delivery.last_status = 2, 500
    delivery.last_error = "the receiver answered HTTP 500"
    session.commit()
    sign_in(client, session, members.a["owner"])
    page = client.get("/settings").text
    assert f'data-webhook-id="{world.a.webhook.id}"' in page
    assert "hooks.example.com" in page
    assert 'data-delivery-status="pending"' in page
    assert "HTTP 500 the receiver answered HTTP 500" in page
    assert world.b.webhook is not None
    assert str(world.b.webhook.id) not in page  # another workspace's webhooks stay hidden
