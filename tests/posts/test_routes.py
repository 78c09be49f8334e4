"""/v1/posts: list, read and register published posts; every error path."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from openpost.core import clock
from openpost.posts.models import Post, PostTarget
from openpost.refresh.models import RefreshState
from tests.builders import World, make_integration, make_post

POST_FIELDS = {
    "id",
    "status",
    "content",
    "scheduled_at",
    "published_at",
    "tags",
    "created_at",
    "source",
    "post_targets",
}
TARGET_FIELDS = {
    "id",
    "integration_id",
    "status",
    "platform_post_id",
    "platform_post_url",
    "published_at",
    "integrations",
}
NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def fixed_clock() -> Iterator[datetime]:
    clock.set_clock(lambda: NOW)
    yield NOW
    clock.set_clock(None)


def register(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post("/v1/posts", headers=headers, json=body)


def target(integration_id: object, **fields: str) -> dict[str, str]:
    return {"integration_id": str(integration_id), **fields}


def count(session: Session, model: type[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


# --- GET /v1/posts --------------------------------------------------------------------


def test_list_shape(client: TestClient, world: World) -> None:
    response = client.get("/v1/posts", headers=world.a.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_cursor"] is None
    [post] = body["data"]
    assert set(post) == POST_FIELDS
    assert post["id"] == str(world.a.post.id)
    assert post["status"] == "published"
    assert post["content"] == "Hello world"
    assert post["scheduled_at"] is None
    assert post["source"] == "api"
    assert post["tags"] == []
    assert post["published_at"].endswith("Z")
    [only] = post["post_targets"]
    the_target = world.a.targets[0]
    assert only == {
        "id": str(the_target.id),
        "integration_id": str(world.a.integration.id),
        "status": "published",
        "platform_post_id": the_target.platform_post_id,
        "platform_post_url": the_target.post_url,
        "published_at": post["published_at"],
        "integrations": {"platform": "twitter"},
    }


def test_list_is_newest_first_and_filters_by_status(
    client: TestClient, session: Session, world: World
) -> None:
    workspace, integration = world.a.workspace, world.a.integration
    draft, _ = make_post(session, workspace, [integration], content="draft")
    draft.status = "draft"
    draft.created_at = clock.now() + timedelta(minutes=1)
    newest, _ = make_post(session, workspace, [integration], content="newest")
    newest.created_at = clock.now() + timedelta(minutes=2)
    session.commit()

    every = client.get("/v1/posts", headers=world.a.headers).json()["data"]
    published = client.get("/v1/posts?status=published", headers=world.a.headers).json()["data"]
    drafts = client.get("/v1/posts?status=draft", headers=world.a.headers).json()["data"]
    failed = client.get("/v1/posts?status=failed", headers=world.a.headers).json()["data"]

    assert [p["content"] for p in every] == ["newest", "draft", "Hello world"]
    assert [p["content"] for p in published] == ["newest", "Hello world"]
    assert [p["content"] for p in drafts] == ["draft"]
    assert failed == []


def test_list_pages_with_a_cursor(client: TestClient, session: Session, world: World) -> None:
    workspace, integration = world.a.workspace, world.a.integration
    base = clock.now()
    made = []
    for i in range(24):
        post, _ = make_post(session, workspace, [integration], content=f"post {i}")
        post.created_at = base + timedelta(seconds=i // 3)  # ties broken by id
        made.append(post)
    session.commit()

    default = client.get("/v1/posts", headers=world.a.headers).json()
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "7", **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/posts", headers=world.a.headers, params=params).json()
        assert len(page["data"]) <= 7
        seen.extend(p["id"] for p in page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert len(default["data"]) == 20
    assert default["next_cursor"] is not None
    everything = client.get("/v1/posts?limit=200", headers=world.a.headers).json()
    assert everything["next_cursor"] is None
    ordered = [p["id"] for p in everything["data"]]
    assert seen == ordered
    assert len(set(ordered)) == 25
    expected = sorted([*made, world.a.post], key=lambda p: (p.created_at, p.id), reverse=True)
    assert ordered == [str(p.id) for p in expected]


def test_list_reads_targets_in_one_query_whatever_the_page_size(
    app: FastAPI, client: TestClient, session: Session, world: World
) -> None:
    other = make_integration(session, world.a.workspace, platform="bluesky")
    for _ in range(30):
        make_post(session, world.a.workspace, [world.a.integration, other])
    session.commit()
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    client.get("/v1/posts?limit=1", headers=world.a.headers)  # the key's last-used write
    event.listen(app.state.engine, "before_cursor_execute", record)
    try:
        small = client.get("/v1/posts?limit=2", headers=world.a.headers)
        small_count = len(statements)
        statements.clear()
        large = client.get("/v1/posts?limit=31", headers=world.a.headers)
        large_count = len(statements)
    finally:
        event.remove(app.state.engine, "before_cursor_execute", record)

    assert len(small.json()["data"]) == 2
    assert len(large.json()["data"]) == 31
    assert sum(len(p["post_targets"]) for p in large.json()["data"]) == 61
    assert large_count == small_count


def test_list_shows_only_the_callers_posts(client: TestClient, world: World) -> None:
    ids = [p["id"] for p in client.get("/v1/posts", headers=world.b.headers).json()["data"]]
    assert ids == [str(world.b.post.id)]


def test_list_bad_query_is_400_naming_it(
    client: TestClient, world: World, subtests: pytest.Subtests
) -> None:
    for query, field in [
        ("status=posted", "status"),
        ("status=", "status"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("cursor=!!!", "cursor"),
        ("cursor=" + "a" * 201, "cursor"),
    ]:
        with subtests.test(query=query):
            response = client.get(f"/v1/posts?{query}", headers=world.a.headers)
            assert response.status_code == 400, response.text
            assert response.json()["error"].startswith(field)


def test_list_limit_200_is_allowed(client: TestClient, world: World) -> None:
    assert client.get("/v1/posts?limit=200", headers=world.a.headers).status_code == 200


# --- GET /v1/posts/{id} ---------------------------------------------------------------


def test_get_one(client: TestClient, world: World) -> None:
    response = client.get(f"/v1/posts/{world.a.post.id}", headers=world.a.headers)
    assert response.status_code == 200, response.text
    post = response.json()["data"]
    listed = client.get("/v1/posts", headers=world.a.headers).json()["data"][0]
    assert post == listed


def test_get_another_workspaces_post_is_404(client: TestClient, world: World) -> None:
    response = client.get(f"/v1/posts/{world.b.post.id}", headers=world.a.headers)
    assert response.status_code == 404
    assert response.json() == {"error": "post not found"}


def test_get_unknown_is_404_and_malformed_is_400(client: TestClient, world: World) -> None:
    unknown = client.get("/v1/posts/0190e0c0-0000-7000-8000-000000000000", headers=world.a.headers)
    malformed = client.get("/v1/posts/nope", headers=world.a.headers)
    assert unknown.status_code == 404
    assert malformed.status_code == 400
    assert malformed.json() == {"error": "post_id must be a UUID"}


# --- POST /v1/posts -------------------------------------------------------------------


def test_register_by_id_and_by_url(
    client: TestClient, session: Session, world: World, fixed_clock: datetime
) -> None:
    x = world.a.integration
    bluesky = make_integration(session, world.a.workspace, platform="bluesky", username="a.bsky")
    mastodon = make_integration(
        session, world.a.workspace, platform="mastodon", username="alice@mastodon.social"
    )
    session.commit()

    response = register(
        client,
        world.a.headers,
        content="Launch day",
        tags=[" launch ", "q2", "launch"],
        targets=[
            target(x.id, platform_post_id="1812345678901234567"),
            target(
                bluesky.id,
                post_url="https://bsky.app/profile/a.bsky/post/3lq2xyz",
                published_at="2026-04-16T08:30:00-01:00",
            ),
            target(
                mastodon.id,
                platform_post_id="113000000000000001",
                published_at="2026-04-15T09:00:00Z",
            ),
        ],
    )

    assert response.status_code == 201, response.text
    post = response.json()["data"]
    assert set(post) == POST_FIELDS
    assert post["status"] == "published"
    assert post["source"] == "api"
    assert post["content"] == "Launch day"
    assert post["tags"] == ["launch", "q2"]
    assert post["scheduled_at"] is None
    assert post["created_at"] == "2026-04-16T10:00:00Z"
    assert post["published_at"] == "2026-04-15T09:00:00Z"  # the earliest target's
    first, second, third = post["post_targets"]
    assert set(first) == TARGET_FIELDS
    assert first["integration_id"] == str(x.id)
    assert first["platform_post_id"] == "1812345678901234567"
    assert first["platform_post_url"] == f"https://x.com/{x.username}/status/1812345678901234567"
    assert first["published_at"] == "2026-04-16T10:00:00Z"  # defaults to now
    assert first["status"] == "published"
    assert first["integrations"] == {"platform": "twitter"}
    assert second["platform_post_id"] == "at://a.bsky/app.bsky.feed.post/3lq2xyz"
    assert second["platform_post_url"] == "https://bsky.app/profile/a.bsky/post/3lq2xyz"
    assert second["published_at"] == "2026-04-16T09:30:00Z"
    assert second["integrations"] == {"platform": "bluesky"}
    assert third["platform_post_url"] == "https://mastodon.social/@alice/113000000000000001"

    fetched = client.get(f"/v1/posts/{post['id']}", headers=world.a.headers).json()["data"]
    assert fetched == post
    listed = client.get("/v1/posts", headers=world.a.headers).json()["data"]
    assert [p for p in listed if p["id"] == post["id"]] == [post]


def test_register_creates_refresh_state_due_at_once(
    client: TestClient, session: Session, world: World, fixed_clock: datetime
) -> None:
    response = register(
        client,
        world.a.headers,
        targets=[target(world.a.integration.id, post_url="https://x.com/a/status/77")],
    )
    assert response.status_code == 201, response.text
    target_id = response.json()["data"]["post_targets"][0]["id"]

    state = session.get(RefreshState, uuid.UUID(target_id))
    assert state is not None
    assert state.outcome == "pending"
    assert state.next_due_at == fixed_clock
    assert state.workspace_id == world.a.workspace.id
    assert state.last_attempt_at is None
    assert state.latest_snapshot_id is None
    metrics = client.get(
        f"/v1/analytics/post/{response.json()['data']['id']}", headers=world.a.headers
    ).json()["data"]
    assert metrics["targets"][0]["refresh"]["outcome"] == "pending"
    assert metrics["targets"][0]["refresh"]["next_refresh_at"] == "2026-04-16T10:00:00Z"


def test_register_keeps_the_url_given(client: TestClient, world: World) -> None:
    url = "https://twitter.com/someone/status/20?s=46"
    response = register(
        client, world.a.headers, targets=[target(world.a.integration.id, post_url=url)]
    )
    assert response.status_code == 201, response.text
    [only] = response.json()["data"]["post_targets"]
    assert only["platform_post_id"] == "20"
    assert only["platform_post_url"] == url


def test_register_allows_content_of_10000_and_50_targets(client: TestClient, world: World) -> None:
    targets = [target(world.a.integration.id, platform_post_id=str(n)) for n in range(1, 51)]
    response = register(
        client, world.a.headers, content="x" * 10_000, tags=["t" * 100] * 50, targets=targets
    )
    assert response.status_code == 201, response.text
    post = response.json()["data"]
    assert [t["platform_post_id"] for t in post["post_targets"]] == [str(n) for n in range(1, 51)]


def test_an_already_tracked_post_is_400_naming_it(client: TestClient, world: World) -> None:
    tracked = world.a.targets[0]
    response = register(
        client,
        world.a.headers,
        targets=[
            target(
                world.a.integration.id,
                post_url=f"https://x.com/a/status/{tracked.platform_post_id}",
            )
        ],
    )
    assert response.status_code == 400
    message = response.json()["error"]
    assert message.startswith("targets.0:")
    assert tracked.platform_post_id in message
    assert str(world.a.post.id) in message


def test_the_same_post_on_another_integration_is_not_a_duplicate(
    client: TestClient, session: Session, world: World
) -> None:
    second = make_integration(session, world.a.workspace)
    session.commit()
    posted_id = world.a.targets[0].platform_post_id or ""
    response = register(
        client, world.a.headers, targets=[target(second.id, platform_post_id=posted_id)]
    )
    assert response.status_code == 201, response.text


def test_a_failed_registration_writes_nothing(
    client: TestClient, session: Session, world: World
) -> None:
    posts, targets, states = (
        count(session, Post),
        count(session, PostTarget),
        count(session, RefreshState),
    )
    response = register(
        client,
        world.a.headers,
        targets=[
            target(world.a.integration.id, platform_post_id="5"),
            target(world.a.integration.id, platform_post_id="5"),
        ],
    )
    assert response.status_code == 400
    assert response.json()["error"] == "targets.1: the same post is listed twice"
    session.expire_all()
    assert (count(session, Post), count(session, PostTarget), count(session, RefreshState)) == (
        posts,
        targets,
        states,
    )


def test_register_on_another_workspaces_integration_is_404(
    client: TestClient, world: World
) -> None:
    response = register(
        client,
        world.a.headers,
        targets=[
            target(world.a.integration.id, platform_post_id="1"),
            target(world.b.integration.id, platform_post_id="2"),
        ],
    )
    assert response.status_code == 404
    assert response.json() == {"error": "targets.1.integration_id: integration not found"}


def test_register_on_an_unknown_integration_is_404(client: TestClient, world: World) -> None:
    response = register(
        client,
        world.a.headers,
        targets=[target("0190e0c0-0000-7000-8000-000000000000", platform_post_id="1")],
    )
    assert response.status_code == 404


def test_register_on_a_disconnected_integration_is_400(client: TestClient, world: World) -> None:
    client.delete(f"/v1/integrations/{world.a.integration.id}", headers=world.a.headers)
    response = register(
        client, world.a.headers, targets=[target(world.a.integration.id, platform_post_id="1")]
    )
    assert response.status_code == 400
    assert response.json() == {"error": "targets.0.integration_id: the integration is disconnected"}


def test_register_on_an_integration_that_needs_refresh_is_allowed(
    client: TestClient, session: Session, world: World
) -> None:
    stale = make_integration(session, world.a.workspace, status="needs_refresh")
    session.commit()
    response = register(client, world.a.headers, targets=[target(stale.id, platform_post_id="1")])
    assert response.status_code == 201, response.text


def test_a_url_of_another_platform_is_400_saying_so(
    client: TestClient, session: Session, world: World
) -> None:
    bluesky = make_integration(session, world.a.workspace, platform="bluesky")
    session.commit()
    response = register(
        client,
        world.a.headers,
        targets=[target(bluesky.id, post_url="https://x.com/openpost/status/20")],
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "targets.0.post_url is an X URL, but the integration is a Bluesky account"
    }


# ``{ia}`` stands for world A's integration id; ``{ok}`` for one valid target.
BAD_BODIES: list[tuple[dict[str, Any], str]] = [
    ({"targets": []}, "targets"),
    ({"targets": "x"}, "targets"),
    ({}, "targets"),
    ({"targets": [{"platform_post_id": "1"}]}, "targets.0.integration_id"),
    (
        {"targets": [{"integration_id": "nope", "platform_post_id": "1"}]},
        "targets.0.integration_id",
    ),
    ({"targets": [{"integration_id": "{ia}"}]}, "targets.0: give exactly one"),
    (
        {
            "targets": [
                {
                    "integration_id": "{ia}",
                    "platform_post_id": "1",
                    "post_url": "https://x.com/a/status/1",
                }
            ]
        },
        "targets.0: give exactly one",
    ),
    (
        {"targets": [{"integration_id": "{ia}", "platform_post_id": ""}]},
        "targets.0.platform_post_id",
    ),
    (
        {"targets": [{"integration_id": "{ia}", "platform_post_id": 20}]},
        "targets.0.platform_post_id",
    ),
    (
        {"targets": [{"integration_id": "{ia}", "platform_post_id": "abc"}]},
        "targets.0.platform_post_id is not an X post id",
    ),
    (
        {"targets": [{"integration_id": "{ia}", "post_url": "https://x.com/a"}]},
        "targets.0.post_url is not an X post URL",
    ),
    ({"targets": [{"integration_id": "{ia}", "post_url": "u" * 2049}]}, "targets.0.post_url"),
    (
        {
            "targets": [
                {
                    "integration_id": "{ia}",
                    "platform_post_id": "1",
                    "published_at": "2026-04-16T10:00:00",
                }
            ]
        },
        "targets.0.published_at must carry a timezone",
    ),
    (
        {
            "targets": [
                {"integration_id": "{ia}", "platform_post_id": "1", "published_at": "yesterday"}
            ]
        },
        "targets.0.published_at",
    ),
    (
        {
            "targets": [
                {
                    "integration_id": "{ia}",
                    "platform_post_id": "1",
                    "published_at": "2026-04-16T10:06:00Z",
                }
            ]
        },
        "targets.0.published_at must not be in the future",
    ),
    (
        {"targets": [{"integration_id": "{ia}", "platform_post_id": "1", "platform": "twitter"}]},
        "targets.0.platform",
    ),
    ({"content": "x" * 10_001, "targets": "{ok}"}, "content"),
    ({"content": None, "targets": "{ok}"}, "content"),
    ({"tags": ["t"] * 51, "targets": "{ok}"}, "tags"),
    ({"tags": ["t" * 101], "targets": "{ok}"}, "tags.0"),
    ({"tags": ["  "], "targets": "{ok}"}, "tags.0"),
    ({"tags": [7], "targets": "{ok}"}, "tags.0"),
    ({"tags": "launch", "targets": "{ok}"}, "tags"),
    ({"schedule_at": "2026-05-01T00:00:00Z", "targets": "{ok}"}, "schedule_at"),
]


def test_register_bad_input_is_400_naming_the_field(
    client: TestClient, world: World, fixed_clock: datetime, subtests: pytest.Subtests
) -> None:
    ia = str(world.a.integration.id)
    for case, field in BAD_BODIES:
        body = {**case}
        if body.get("targets") == "{ok}":
            body["targets"] = [{"integration_id": ia, "platform_post_id": "1"}]
        elif isinstance(body.get("targets"), list):
            body["targets"] = [
                {k: (ia if v == "{ia}" else v) for k, v in t.items()} for t in body["targets"]
            ]
        with subtests.test(field=field, body=case):
            response = client.post("/v1/posts", headers=world.a.headers, json=body)
            assert response.status_code == 400, response.text
            assert response.json()["error"].startswith(field), response.json()


def test_more_than_50_targets_is_400(client: TestClient, world: World) -> None:
    targets = [target(world.a.integration.id, platform_post_id=str(n)) for n in range(51)]
    response = register(client, world.a.headers, targets=targets)
    assert response.status_code == 400
    assert response.json()["error"].startswith("targets")


def test_register_needs_a_json_body(client: TestClient, world: World) -> None:
    as_text = client.post(
        "/v1/posts",
        headers={**world.a.headers, "Content-Type": "text/plain"},
        content=b'{"targets": []}',
    )
    broken = client.post(
        "/v1/posts",
        headers={**world.a.headers, "Content-Type": "application/json"},
        content=b"{not json",
    )
    assert as_text.status_code == 415
    assert broken.status_code == 400
    assert broken.json() == {"error": "request body is not valid JSON"}


def test_every_endpoint_needs_a_key(
    client: TestClient, world: World, subtests: pytest.Subtests
) -> None:
    body = {"targets": [target(world.a.integration.id, platform_post_id="1")]}
    for method, path in [
        ("GET", "/v1/posts"),
        ("GET", "/v1/posts/0190e0c0-0000-7000-8000-000000000000"),
        ("POST", "/v1/posts"),
    ]:
        for headers in (
            {},
            {"Authorization": f"Bearer {world.a.key}x"},
            {"Authorization": "Basic x"},
        ):
            with subtests.test(method=method, path=path, headers=headers):
                response = client.request(method, path, headers=headers, json=body)
                assert response.status_code == 401
                assert response.json() == {"error": "Invalid API key"}


def test_a_bluesky_post_registered_by_url_is_the_one_discovery_finds(
    client: TestClient, session: Session, world: World
) -> None:
    did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
    bluesky = make_integration(
        session,
        world.a.workspace,
        platform="bluesky",
        username="alice.bsky.social",
        external_account_id=did,
    )
    session.commit()
    url = "https://bsky.app/profile/alice.bsky.social/post/3lq2xyzabc22k"
    response = register(client, world.a.headers, targets=[target(bluesky.id, post_url=url)])
    assert response.status_code == 201, response.text
    (stored,) = response.json()["data"]["post_targets"]
    assert stored["platform_post_id"] == f"at://{did}/app.bsky.feed.post/3lq2xyzabc22k"
    assert stored["platform_post_url"] == url  # kept as given

    # The same post by its DID form is the same post: refused as already tracked.
    again = register(
        client,
        world.a.headers,
        targets=[target(bluesky.id, platform_post_id=stored["platform_post_id"])],
    )
    assert again.status_code == 400
    assert "already tracked" in again.json()["error"]

    other = register(
        client,
        world.a.headers,
        targets=[target(bluesky.id, post_url="https://bsky.app/profile/bob.bsky.social/post/3x")],
    )
    assert other.status_code == 400
    assert other.json()["error"] == (
        "targets.0.post_url is a post of @bob.bsky.social, not of this integration's "
        "@alice.bsky.social (if the account changed its handle, connect it again)"
    )
