"""Dashboard test helpers: members of every role, logging in, reading CSRF tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from openpost.dashboard.sessions import memberships, start_session
from openpost.workspaces.models import User
from openpost.workspaces.service import add_member, find_user, hash_password
from tests.builders import World

PASSWORD = "correct horse battery"
ROLES = ("viewer", "editor", "admin", "owner")

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Members:
    """One login per role in tenant A, and an owner of tenant B."""

    a: dict[str, str]
    b_owner: str


@pytest.fixture(scope="session")
def password_hash() -> str:
    """Argon2 is slow on purpose: hash the tests' password once per test session."""
    return hash_password(PASSWORD)


def make_user(session: Session, email: str, password_hash: str) -> User:
    user = User(email=email, password_hash=password_hash)
    session.add(user)
    session.flush()
    return user


@pytest.fixture
def members(session: Session, world: World, password_hash: str) -> Members:
    emails = {}
    for role in ROLES:
        email = f"{role}@a.example"
        make_user(session, email, password_hash)
        add_member(session, world.a.workspace, email=email, password="", role=role)
        emails[role] = email
    make_user(session, "owner@b.example", password_hash)
    add_member(session, world.b.workspace, email="owner@b.example", password="", role="owner")
    session.commit()
    return Members(a=emails, b_owner="owner@b.example")


def sign_in(client: TestClient, session: Session, email: str) -> None:
    """A logged-in browser without the (slow) password check: for tests about pages."""
    user = find_user(session, email)
    assert user is not None
    workspace_id = memberships(session, user.id)[0][0]
    token = start_session(session, user, workspace_id, timedelta(hours=1))
    session.commit()
    client.cookies.set("openpost_session", token)


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def login(client: TestClient, email: str, password: str = PASSWORD) -> None:
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    client.cookies.delete("openpost_login_csrf")


def page_csrf(client: TestClient, path: str = "/") -> str:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return csrf_of(response.text)
