"""A session of one workspace never shows another's data; user text is always escaped."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from openpost.auth.models import ApiKey
from openpost.dashboard.web import CONTENT_SECURITY_POLICY
from openpost.workspaces.models import Member, User
from openpost.workspaces.service import add_member
from tests.builders import World, add_snapshot, make_integration, make_post, make_workspace
from tests.dashboard.conftest import Members, page_csrf, sign_in

SCRIPT = '<script>alert("x")</script> & <b>bold</b>'


def test_another_workspaces_ids_are_not_found(
    client: TestClient, session: Session, world: World, members: Members
) -> None:
    sign_in(client, session, members.a["owner"])
    b = world.b
    b_key = session.scalar(select(ApiKey.id).where(ApiKey.workspace_id == b.workspace.id))
    b_member = session.scalar(
        select(Member.id).join(User, User.id == Member.user_id).where(User.email == members.b_owner)
    )
    for path in (
        f"/posts/{b.post.id}",
        f"/?integration={b.integration.id}",
        f"/posts?integration={b.integration.id}",
        f"/export.csv?post={b.post.id}",
        f"/export.csv?integration={b.integration.id}",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Not found" in response.text
    token = page_csrf(client)
    for path, fields in (
        (f"/posts/{b.post.id}/refresh", {}),
        (f"/integrations/{b.integration.id}/disconnect", {}),
        (f"/settings/keys/{b_key}/revoke", {}),
        (f"/settings/members/{b_member}/role", {"role": "viewer"}),
        (f"/settings/members/{b_member}/remove", {}),
    ):
        response = client.post(path, data={**fields, "csrf_token": token})
        assert response.status_code == 404, path
    session.expire_all()
    assert session.scalar(select(ApiKey.revoked_at).where(ApiKey.id == b_key)) is None
    assert session.scalar(select(Member.role).where(Member.id == b_member)) == "owner"


def test_pages_show_only_the_sessions_workspace(
    client: TestClient, session: Session, world: World, members: Members
) -> None:
    world.b.post.content = "secret plans of tenant B"
    world.b.integration.username = "tenant_b_account"
    session.commit()
    sign_in(client, session, members.a["owner"])
    for path in ("/", "/posts", "/accounts", "/integrations", "/settings", "/export.csv"):
        body = client.get(path).text
        assert "secret plans of tenant B" not in body
        assert "tenant_b_account" not in body
        assert str(world.b.post.id) not in body
        assert members.b_owner not in body


def test_malformed_ids_are_a_400_page(
    client: TestClient, session: Session, members: Members
) -> None:
    sign_in(client, session, members.a["viewer"])
    response = client.get("/posts/not-a-uuid")
    assert response.status_code == 400
    assert "post_id must be a UUID" in response.text
    for query in ("range=12", "range=custom&since=2026-01-05", "platform=myspace", "sort=x"):
        assert client.get(f"/posts?{query}").status_code == 400, query


def test_user_text_is_escaped_everywhere(
    client: TestClient, session: Session, world: World, members: Members
) -> None:
    integration = make_integration(
        session, world.a.workspace, platform="mastodon", username='"><img src=x onerror=alert(1)>'
    )
    post, targets = make_post(session, world.a.workspace, [integration], content=SCRIPT)
    targets[0].post_url = "javascript:alert(1)"
    add_snapshot(session, targets[0], post.published_at, impressions=None)  # type: ignore[arg-type]
    session.commit()
    sign_in(client, session, members.a["owner"])
    for path in (
        "/",
        "/posts",
        f"/posts/{post.id}",
        "/accounts",
        "/integrations",
        "/?platform=mastodon",
    ):
        body = client.get(path).text
        assert "<script>alert" not in body, path
        assert "<img src=x" not in body, path
        assert "<b>bold</b>" not in body, path
        assert 'href="javascript:' not in body, path
    detail = client.get(f"/posts/{post.id}").text
    text = detail.replace("<wbr>", "")  # long tokens may wrap after / ? & = , "
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in text
    # Not reported is "—", never 0; the measured zero shares stays 0.
    assert re.search(r'data-metric="impressions"><span class="num"[^>]*>—</span>', detail)
    assert re.search(r'data-metric="shares"><span class="num">0</span>', detail)
    # JSON embedded for the charts cannot close its <script> element either.
    for block in re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', detail, re.S):
        assert "<" not in block


def test_pages_carry_a_strict_content_security_policy(
    client: TestClient, session: Session, members: Members
) -> None:
    sign_in(client, session, members.a["viewer"])
    for path in ("/", "/posts", "/integrations", "/login", "/posts/not-a-uuid"):
        response = client.get(path)
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
        assert not re.search(r"<[^>]*\son[a-z]+\s*=", response.text)  # no inline handlers
        assert "<script>" not in response.text  # every script is an external file


def test_a_stored_media_preview_is_shown_and_its_host_allowed(
    client: TestClient, session: Session, world: World, members: Members
) -> None:
    integration = make_integration(session, world.a.workspace, platform="twitter")
    post, targets = make_post(session, world.a.workspace, [integration], content="with a photo")
    targets[0].platform_post_id = "1790000000000000001"
    targets[0].preview_url = "https://pbs.twimg.com/media/photo.jpg"
    add_snapshot(session, targets[0], post.published_at, impressions=10)  # type: ignore[arg-type]
    session.commit()
    sign_in(client, session, members.a["owner"])
    for path in ("/posts", f"/posts/{post.id}"):
        assert 'src="https://pbs.twimg.com/media/photo.jpg"' in client.get(path).text, path
    assert "https://pbs.twimg.com" in CONTENT_SECURITY_POLICY.split("img-src", 1)[1].split(";")[0]


def test_a_member_of_two_workspaces_sees_one_at_a_time(
    client: TestClient, session: Session, world: World, members: Members
) -> None:
    world.a.post.content = "only in A"
    world.b.post.content = "only in B"
    add_member(session, world.b.workspace, email=members.a["viewer"], password="", role="admin")
    session.commit()
    sign_in(client, session, members.a["viewer"])  # lands in A, the older membership
    assert "only in A" in client.get("/posts").text
    assert "only in B" not in client.get("/posts").text
    assert client.get("/settings").status_code == 403  # a viewer in A
    token = page_csrf(client)
    stranger = make_workspace(session)
    session.commit()
    refused = client.post(
        "/workspace", data={"workspace_id": str(stranger.id), "csrf_token": token}
    )
    assert refused.status_code == 404
    switched = client.post(
        "/workspace",
        data={"workspace_id": str(world.b.workspace.id), "csrf_token": token},
        follow_redirects=False,
    )
    assert switched.status_code == 303
    assert "only in B" in client.get("/posts").text
    assert "only in A" not in client.get("/posts").text
    assert client.get("/settings").status_code == 200  # an admin in B
    assert client.get(f"/posts/{world.a.post.id}").status_code == 404
