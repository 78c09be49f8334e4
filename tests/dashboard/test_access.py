"""Every role against every page and every form: the server decides, not the buttons."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from openpost.auth.models import ApiKey
from openpost.core import clock
from openpost.integrations.models import Integration
from openpost.refresh.models import RefreshState
from openpost.workspaces.models import Member, User
from tests.builders import World
from tests.dashboard.conftest import ROLES, Members, page_csrf, sign_in

PAGES = {
    "/": ROLES,
    "/posts": ROLES,
    "/post": ROLES,
    "/accounts": ROLES,
    "/integrations": ROLES,
    "/export.csv": ROLES,
    "/settings": ("admin", "owner"),
}


def _page(path: str, world: World) -> str:
    return f"/posts/{world.a.post.id}" if path == "/post" else path


@pytest.fixture
def test_mode(session: Session, world: World) -> World:
    world.a.workspace.mode = "test"  # synthetic connections are allowed
    state = session.get(RefreshState, world.a.targets[0].id)
    assert state is not None
    state.next_due_at = clock.now() + timedelta(hours=6)  # collected, next read later
    session.commit()
    return world


@pytest.mark.parametrize("role", ROLES)
def test_who_can_read_which_page(
    client: TestClient, session: Session, world: World, members: Members, role: str
) -> None:
    sign_in(client, session, members.a[role])
    for path, allowed in PAGES.items():
        response = client.get(_page(path, world), follow_redirects=False)
        expected = 200 if role in allowed else 403
        assert response.status_code == expected, (role, path, response.text[:300])


def test_settings_link_only_for_managers(
    client: TestClient, session: Session, members: Members
) -> None:
    sign_in(client, session, members.a["viewer"])
    assert 'href="/settings"' not in client.get("/").text
    sign_in(client, session, members.a["admin"])
    assert 'href="/settings"' in client.get("/").text


@dataclass(frozen=True)
class Ctx:
    world: World
    session: Session

    def scalar(self, query: Any) -> Any:
        return self.session.scalar(query)


@dataclass(frozen=True)
class Action:
    allowed: tuple[str, ...]
    path: Callable[[Ctx], str]
    fields: dict[str, str]
    changed: Callable[[Ctx], bool]


SUBJECT = "viewer@a.example"  # the member whose role changes or who is removed


def _subject_role(c: Ctx) -> str | None:
    return c.scalar(
        select(Member.role).join(User, User.id == Member.user_id).where(User.email == SUBJECT)
    )


def _subject_path(c: Ctx, verb: str) -> str:
    member_id = c.scalar(
        select(Member.id).join(User, User.id == Member.user_id).where(User.email == SUBJECT)
    )
    return f"/settings/members/{member_id}/{verb}"


def _key_id(c: Ctx) -> str:
    return str(c.scalar(select(ApiKey.id).where(ApiKey.workspace_id == c.world.a.workspace.id)))


def _claimed(c: Ctx) -> bool:
    """Claimed for an immediate read: its next read moved from 6 h away to the lease's end."""
    state = c.session.get(RefreshState, c.world.a.targets[0].id)
    return (
        state is not None
        and state.next_due_at is not None
        and state.next_due_at < clock.now() + timedelta(hours=1)
    )


ACTIONS = {
    "refresh": Action(
        ("editor", "admin", "owner"),
        lambda c: f"/posts/{c.world.a.post.id}/refresh",
        {},
        _claimed,
    ),
    "connect": Action(
        ("admin", "owner"),
        lambda _c: "/integrations/connect",
        {"platform": "bluesky", "username": "newaccount"},
        lambda c: (
            c.scalar(select(Integration.id).where(Integration.username == "newaccount")) is not None
        ),
    ),
    "disconnect": Action(
        ("admin", "owner"),
        lambda c: f"/integrations/{c.world.a.integration.id}/disconnect",
        {},
        lambda c: (
            c.scalar(select(Integration.status).where(Integration.id == c.world.a.integration.id))
            == "disconnected"
        ),
    ),
    "create key": Action(
        ("admin", "owner"),
        lambda _c: "/settings/keys",
        {"name": "made in the dashboard"},
        lambda c: (
            c.scalar(select(ApiKey.id).where(ApiKey.name == "made in the dashboard")) is not None
        ),
    ),
    "revoke key": Action(
        ("admin", "owner"),
        lambda c: f"/settings/keys/{_key_id(c)}/revoke",
        {},
        lambda c: (
            c.scalar(select(ApiKey.revoked_at).where(ApiKey.workspace_id == c.world.a.workspace.id))
            is not None
        ),
    ),
    "add member": Action(
        ("admin", "owner"),
        lambda _c: "/settings/members",
        {"email": "new@a.example", "role": "viewer", "password": "long enough pw"},
        lambda c: c.scalar(select(User.id).where(User.email == "new@a.example")) is not None,
    ),
    "change role": Action(
        ("admin", "owner"),
        lambda c: _subject_path(c, "role"),
        {"role": "editor"},
        lambda c: _subject_role(c) == "editor",
    ),
    "remove member": Action(
        ("admin", "owner"),
        lambda c: _subject_path(c, "remove"),
        {},
        lambda c: _subject_role(c) is None,
    ),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(ACTIONS))
def test_who_can_post_which_form(
    client: TestClient,
    session: Session,
    test_mode: World,
    members: Members,
    role: str,
    name: str,
) -> None:
    action, ctx = ACTIONS[name], Ctx(test_mode, session)
    sign_in(client, session, members.a[role])
    token = page_csrf(client)
    response = client.post(
        action.path(ctx), data={**action.fields, "csrf_token": token}, follow_redirects=False
    )
    session.expire_all()
    if role in action.allowed:
        assert response.status_code in (200, 303), response.text[:500]
        assert action.changed(ctx)
    else:
        assert response.status_code == 403, response.text[:500]
        assert not action.changed(ctx)


@pytest.mark.parametrize("name", list(ACTIONS))
def test_every_form_needs_its_csrf_token(
    client: TestClient, session: Session, test_mode: World, members: Members, name: str
) -> None:
    action, ctx = ACTIONS[name], Ctx(test_mode, session)
    sign_in(client, session, members.a["owner"])
    for token in (None, "forged-token"):
        data = dict(action.fields)
        if token:
            data["csrf_token"] = token
        response = client.post(action.path(ctx), data=data, follow_redirects=False)
        assert response.status_code == 403
        assert "security token" in response.text
        session.expire_all()
        assert not action.changed(ctx)


def test_forms_without_a_session_go_to_login(
    client: TestClient, session: Session, world: World, members: Members
) -> None:
    ctx = Ctx(world, session)
    for action in ACTIONS.values():
        response = client.post(action.path(ctx), data=action.fields, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")
        session.expire_all()
        assert not action.changed(ctx)


def test_logout_and_switch_need_csrf_too(
    client: TestClient, session: Session, members: Members
) -> None:
    sign_in(client, session, members.a["viewer"])
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200
