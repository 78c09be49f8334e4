"""Login, session cookie, logout, expiry, throttling, login CSRF, safe redirects."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from openpost.app import create_app
from openpost.config import Settings
from openpost.core import clock
from openpost.dashboard.models import DashboardSession
from openpost.workspaces.models import Member
from tests.dashboard.conftest import PASSWORD, Members, csrf_of, login, make_user


def _post_login(client: TestClient, email: str, password: str, **extra: str):  # type: ignore[no-untyped-def]
    token = csrf_of(client.get("/login").text)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token, **extra},
        follow_redirects=False,
    )


def test_pages_redirect_to_login_without_a_session(client: TestClient) -> None:
    response = client.get("/posts?range=7", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fposts%3Frange%3D7"


def test_login_sets_a_hardened_session_cookie(client: TestClient, members: Members) -> None:
    response = _post_login(client, members.a["viewer"], PASSWORD, next="/posts")
    assert response.status_code == 303
    assert response.headers["location"] == "/posts"
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith("openpost_session=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http here
    assert client.get("/posts").status_code == 200


def test_cookie_is_secure_over_https(app, members: Members) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app, base_url="https://testserver") as secure_client:
        response = _post_login(secure_client, members.a["viewer"], PASSWORD)
        cookie = next(
            h for h in response.headers.get_list("set-cookie") if h.startswith("openpost_session=")
        )
        assert "Secure" in cookie


def test_the_database_keeps_only_a_hash_of_the_token(
    client: TestClient, members: Members, session: Session
) -> None:
    login(client, members.a["viewer"])
    token = client.cookies["openpost_session"]
    stored = session.scalars(select(DashboardSession.token_hash)).all()
    assert len(stored) == 1
    assert token not in stored[0]


def test_wrong_password_and_unknown_email_look_the_same(
    client: TestClient, members: Members
) -> None:
    wrong = _post_login(client, members.a["viewer"], "not the password")
    unknown = _post_login(client, "nobody@a.example", "not the password")
    for response in (wrong, unknown):
        assert response.status_code == 400
        assert "That email and password do not match." in response.text
        assert "openpost_session" not in response.headers.get("set-cookie", "")


def test_login_without_its_csrf_token_is_refused(client: TestClient, members: Members) -> None:
    client.get("/login")
    response = client.post(
        "/login",
        data={"email": members.a["viewer"], "password": PASSWORD, "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 303


def test_five_failures_lock_that_email_and_address(client: TestClient, members: Members) -> None:
    email = members.a["viewer"]
    for _ in range(5):
        assert _post_login(client, email, "wrong password").status_code == 400
    locked = _post_login(client, email, PASSWORD)  # even the right password now
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    assert "Too many failed logins" in locked.text
    # Another email from the same address is not affected.
    assert _post_login(client, members.a["editor"], PASSWORD).status_code == 303


def test_a_success_clears_the_failure_count(
    settings: Settings, engine: Engine, members: Members
) -> None:
    # Two failures allowed (OPENPOST_LOGIN_MAX_FAILURES), so each step is one password check.
    app = create_app(settings.model_copy(update={"login_max_failures": 2}))
    with TestClient(app) as client:
        email = members.a["viewer"]
        assert _post_login(client, email, "wrong password").status_code == 400
        assert _post_login(client, email, PASSWORD).status_code == 303
        # Without the reset the count would reach 2 at the next failure and lock the one after.
        assert _post_login(client, email, "wrong password").status_code == 400
        assert _post_login(client, email, "wrong password").status_code == 400
        assert _post_login(client, email, PASSWORD).status_code == 429
    app.state.engine.dispose()


def test_logout_ends_the_session_for_good(client: TestClient, members: Members) -> None:
    login(client, members.a["viewer"])
    token = client.cookies["openpost_session"]
    html = client.get("/").text
    response = client.post("/logout", data={"csrf_token": csrf_of(html)}, follow_redirects=False)
    assert response.status_code == 303
    client.cookies.set("openpost_session", token)  # replaying the old cookie does nothing
    assert client.get("/", follow_redirects=False).status_code == 303


def test_sessions_expire(client: TestClient, members: Members) -> None:
    login(client, members.a["viewer"])
    later = clock.now() + timedelta(hours=168, seconds=1)
    clock.set_clock(lambda: later)
    try:
        assert client.get("/", follow_redirects=False).status_code == 303
    finally:
        clock.set_clock(None)


def test_a_removed_member_is_logged_out(
    client: TestClient, members: Members, session: Session
) -> None:
    login(client, members.a["viewer"])
    session.execute(delete(Member).where(Member.role == "viewer"))
    session.commit()
    assert client.get("/", follow_redirects=False).status_code == 303


def test_next_never_leaves_the_site(client: TestClient, members: Members) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "\\\\evil.example"):
        response = _post_login(client, members.a["viewer"], PASSWORD, next=target)
        assert response.headers["location"] == "/"


def test_a_user_in_no_workspace_cannot_log_in(
    client: TestClient, session: Session, password_hash: str
) -> None:
    make_user(session, "lonely@example.com", password_hash)
    session.commit()
    assert _post_login(client, "lonely@example.com", PASSWORD).status_code == 400
