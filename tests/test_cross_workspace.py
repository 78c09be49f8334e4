"""Other workspaces do not exist: every /v1 operation given another workspace's ids is a 404.

``ID_CALLS`` says how each operation is called with one tenant's ids (in its path, query or
body). Each call is made with workspace A's key twice: with B's ids it must be a 404 (never
a 200 with data, never a 403) that leaves B's data untouched; with A's own ids it must
succeed, which proves the 404 is about ownership and not a malformed call.
Operations that take no id are in ``NO_ID_CALLS``: they must show nothing of B.

The operations are enumerated from the app's router: a new /v1 operation that is in
neither table fails ``test_every_operation_is_described``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openpost.analytics.models import Snapshot
from openpost.auth.models import IdempotencyRecord
from openpost.integrations.models import Integration
from openpost.posts.models import Post, PostTarget
from openpost.refresh.models import RefreshState
from openpost.webhooks.models import Webhook
from tests import builders
from tests.builders import Tenant, World
from tests.core.api_routes import (
    Operation,
    listing_app,
    openapi_document,
    openapi_operation,
    parameters,
    v1_operations,
)

OPERATIONS = v1_operations(listing_app())
_serial = itertools.count(1912345678901234567)


@dataclass(frozen=True)
class Call:
    path: str
    params: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None

    def ids(self) -> str:
        """Everything the call carries, as text: where an id must appear to be exercised."""
        return json.dumps([self.path, self.params, self.body])


def _hook(t: Tenant) -> str:
    assert t.webhook is not None
    return str(t.webhook.id)


def _target(t: Tenant) -> dict[str, str]:
    # A new platform post each time: registering one twice is a 400 of its own.
    return {"integration_id": str(t.integration.id), "platform_post_id": str(next(_serial))}


# (method, path) → the calls that carry the tenant's ids, one per id parameter.
ID_CALLS: dict[tuple[str, str], Callable[[Tenant], list[Call]]] = {
    ("GET", "/v1/analytics"): lambda t: [
        Call("/v1/analytics", {"integration_id": str(t.integration.id)})
    ],
    ("GET", "/v1/analytics/post/{post_id}"): lambda t: [Call(f"/v1/analytics/post/{t.post.id}")],
    ("GET", "/v1/analytics/accounts"): lambda t: [
        Call("/v1/analytics/accounts", {"integration_id": str(t.integration.id)})
    ],
    ("GET", "/v1/analytics/accounts/{integration_id}"): lambda t: [
        Call(f"/v1/analytics/accounts/{t.integration.id}")
    ],
    ("GET", "/v1/analytics/growth"): lambda t: [
        Call("/v1/analytics/growth", {"integration_id": str(t.integration.id)})
    ],
    ("GET", "/v1/analytics/tags"): lambda t: [
        Call("/v1/analytics/tags", {"integration_id": str(t.integration.id)})
    ],
    ("GET", "/v1/analytics/posting-times"): lambda t: [
        Call("/v1/analytics/posting-times", {"integration_id": str(t.integration.id)})
    ],
    ("GET", "/v1/analytics/export"): lambda t: [
        Call("/v1/analytics/export", {"integration_id": str(t.integration.id)}),
        Call("/v1/analytics/export", {"post_id": str(t.post.id)}),
        Call("/v1/analytics/export", {"post_id": str(t.post.id), "view": "latest"}),
    ],
    ("POST", "/v1/analytics/refresh"): lambda t: [
        Call("/v1/analytics/refresh", body={"post_id": str(t.post.id)}),
        Call("/v1/analytics/refresh", body={"integration_id": str(t.integration.id)}),
    ],
    ("GET", "/v1/integrations/{integration_id}"): lambda t: [
        Call(f"/v1/integrations/{t.integration.id}")
    ],
    ("GET", "/v1/posts/{post_id}"): lambda t: [Call(f"/v1/posts/{t.post.id}")],
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): lambda t: [
        Call(f"/v1/webhooks/{_hook(t)}/deliveries")
    ],
    ("DELETE", "/v1/webhooks/{webhook_id}"): lambda t: [Call(f"/v1/webhooks/{_hook(t)}")],
    ("POST", "/v1/posts"): lambda t: [
        Call("/v1/posts", body={"content": "cross", "targets": [_target(t)]})
    ],
    # Last on purpose in each run: A's own call disconnects A's integration.
    ("DELETE", "/v1/integrations/{integration_id}"): lambda t: [
        Call(f"/v1/integrations/{t.integration.id}")
    ],
}


# (method, path) → a call without ids (an operation may be in both tables). Its response
# must show nothing of the other workspace; where ``shows_own`` is set it must show some of
# the caller's own ids, so the check looked at a real answer. ``b`` is passed so a call can
# use B's names (not ids) as bait.
@dataclass(frozen=True)
class NoIdCall:
    build: Callable[[Tenant], Call]
    shows_own: bool


NO_ID_CALLS: dict[tuple[str, str], NoIdCall] = {
    ("GET", "/v1/analytics"): NoIdCall(lambda _b: Call("/v1/analytics"), shows_own=True),
    ("GET", "/v1/analytics/accounts"): NoIdCall(
        lambda _b: Call("/v1/analytics/accounts"), shows_own=True
    ),
    ("GET", "/v1/analytics/export"): NoIdCall(
        lambda _b: Call("/v1/analytics/export"), shows_own=True
    ),
    # Day buckets carry no ids: nothing of the caller's to look for in the answer.
    ("GET", "/v1/analytics/growth"): NoIdCall(
        lambda _b: Call("/v1/analytics/growth"), shows_own=False
    ),
    # Tag rows and weekday/hour cells carry no ids either.
    ("GET", "/v1/analytics/tags"): NoIdCall(lambda _b: Call("/v1/analytics/tags"), shows_own=False),
    ("GET", "/v1/analytics/posting-times"): NoIdCall(
        lambda _b: Call("/v1/analytics/posting-times"), shows_own=False
    ),
    ("GET", "/v1/analytics/status"): NoIdCall(
        lambda _b: Call("/v1/analytics/status"), shows_own=True
    ),
    ("GET", "/v1/integrations"): NoIdCall(lambda _b: Call("/v1/integrations"), shows_own=True),
    ("GET", "/v1/posts"): NoIdCall(lambda _b: Call("/v1/posts", {"limit": "200"}), shows_own=True),
    ("GET", "/v1/webhooks"): NoIdCall(lambda _b: Call("/v1/webhooks"), shows_own=True),
    ("POST", "/v1/webhooks"): NoIdCall(
        lambda _b: Call(
            "/v1/webhooks",
            body={"url": "https://hooks.example.com/a", "events": ["budget.exhausted"]},
        ),
        shows_own=False,
    ),
    # A live workspace connects through the platform (unreachable here: a 503); the test
    # workspace case is test_connecting_a_handle_another_workspace_has_makes_a_new_one.
    ("POST", "/v1/integrations"): NoIdCall(
        lambda b: Call(
            "/v1/integrations",
            body={"platform": b.integration.platform, "username": b.integration.username},
        ),
        shows_own=False,
    ),
}
UPSTREAM_UNAVAILABLE = {502, 503, 504}


def request(client: TestClient, tenant: Tenant, method: str, call: Call) -> Any:
    kwargs: dict[str, Any] = {"params": call.params, "headers": dict(tenant.headers)}
    if call.body is not None:
        kwargs["json"] = call.body
    return client.request(method, call.path, **kwargs)


def secrets_of(session: Session, tenant: Tenant) -> set[str]:
    """Every id of the tenant's rows: none may show up in another workspace's responses."""
    wid = tenant.workspace.id
    found = {str(wid), tenant.key}
    for model in (Integration, Post, PostTarget, Snapshot, Webhook):
        found |= {
            str(i) for i in session.scalars(select(model.id).where(model.workspace_id == wid))
        }
    found |= {
        str(i)
        for i in session.scalars(
            select(PostTarget.platform_post_id).where(PostTarget.workspace_id == wid)
        )
    }
    return found


def fingerprint(session: Session, tenant: Tenant) -> tuple[Any, ...]:
    """What a cross-workspace write could change in the tenant's data."""
    session.expire_all()
    wid = tenant.workspace.id

    def count(model: Any) -> int:
        return int(
            session.scalar(select(func.count()).select_from(model).where(model.workspace_id == wid))
            or 0
        )

    integrations = sorted(
        (str(i), s, a)
        for i, s, a in session.execute(
            select(Integration.id, Integration.status, Integration.analytics_enabled).where(
                Integration.workspace_id == wid
            )
        )
    )
    states = sorted(
        (str(t), o, str(d))
        for t, o, d in session.execute(
            select(
                RefreshState.post_target_id, RefreshState.outcome, RefreshState.next_due_at
            ).where(RefreshState.workspace_id == wid)
        )
    )
    return (
        integrations,
        states,
        count(Post),
        count(PostTarget),
        count(Snapshot),
        count(IdempotencyRecord),
        count(Webhook),
    )


def assert_no_leak(response: Any, secrets: set[str], where: str) -> None:
    text = response.text
    leaked = sorted(s for s in secrets if s in text)
    assert not leaked, f"{where} shows the other workspace's {leaked}"


def _is_id(name: str) -> bool:
    return name == "id" or name.endswith("_id")


def _body_id_fields(operation: Operation) -> set[str]:
    """Names of the id fields anywhere in the operation's documented request body."""
    names: set[str] = set()
    schemas = openapi_document().get("components", {}).get("schemas", {})

    def walk(schema: dict[str, Any], seen: frozenset[str]) -> None:
        if "$ref" in schema:
            ref = schema["$ref"].rsplit("/", 1)[-1]
            if ref not in seen:
                walk(schemas[ref], seen | {ref})
            return
        for name, sub in schema.get("properties", {}).items():
            if _is_id(name):
                names.add(name)
            walk(sub, seen)
        for key in ("items", "additionalProperties"):
            if isinstance(schema.get(key), dict):
                walk(schema[key], seen)
        for key in ("anyOf", "allOf", "oneOf"):
            for sub in schema.get(key, []):
                walk(sub, seen)

    body = openapi_operation(operation).get("requestBody", {})
    walk(body.get("content", {}).get("application/json", {}).get("schema", {}), frozenset())
    return names


def test_every_operation_is_described() -> None:
    missing = [str(op) for op in OPERATIONS if op.key not in ID_CALLS and op.key not in NO_ID_CALLS]
    assert not missing, (
        f"{missing}: add each to ID_CALLS (if it takes an id in its path, query or body) or "
        "NO_ID_CALLS in tests/test_cross_workspace.py, saying how to call it with another "
        "workspace's ids"
    )


ID_OPERATIONS = [op for op in OPERATIONS if op.key in ID_CALLS]


@pytest.mark.parametrize("operation", ID_OPERATIONS, ids=str)
def test_every_id_parameter_is_exercised(operation: Operation, world: World) -> None:
    """The table must carry B's id in every id parameter the operation documents."""
    ids_of_b = {str(world.b.workspace.id), str(world.b.integration.id), str(world.b.post.id)}
    ids_of_b |= {str(t.id) for t in world.b.targets}
    ids_of_b |= {str(world.b.webhook.id)} if world.b.webhook is not None else set()
    documented = {
        p["name"]
        for location in ("path", "query")
        for p in parameters(operation, location)
        if _is_id(p["name"])
    } | _body_id_fields(operation)
    calls = ID_CALLS[operation.key](world.b)
    for name in documented:
        exercised = [
            c
            for c in calls
            if (f"{{{name}}}" in operation.path and any(i in c.path for i in ids_of_b))
            or c.params.get(name) in ids_of_b
            or (c.body is not None and f'"{name}"' in json.dumps(c.body))
        ]
        assert exercised, (
            f"{operation}: no call in ID_CALLS of tests/test_cross_workspace.py puts another "
            f"workspace's id into {name!r}"
        )


@pytest.mark.parametrize("operation", ID_OPERATIONS, ids=str)
def test_other_workspaces_ids_are_404(
    client: TestClient, world: World, session: Session, operation: Operation
) -> None:
    before = fingerprint(session, world.b)
    secrets = secrets_of(session, world.b)
    for call in ID_CALLS[operation.key](world.b):
        response = request(client, world.a, operation.method, call)
        where = f"{operation.method} {call.path} {call.params} {call.body}"
        assert response.status_code == 404, f"{where}: {response.status_code} {response.text}"
        body = response.json()
        assert set(body) == {"error"}, where
        assert isinstance(body["error"], str), where
        assert_no_leak(response, secrets, where)
    assert fingerprint(session, world.b) == before, f"{operation} changed the other workspace"

    # The same calls with A's own ids succeed: the 404s above were about ownership.
    for call in ID_CALLS[operation.key](world.a):
        response = request(client, world.a, operation.method, call)
        where = f"{operation.method} {call.path} {call.params} {call.body} (own ids)"
        assert 200 <= response.status_code < 300, f"{where}: {response.status_code} {response.text}"
        assert_no_leak(response, secrets, where)


NO_ID_OPERATIONS = [op for op in OPERATIONS if op.key in NO_ID_CALLS]


@pytest.mark.parametrize("operation", NO_ID_OPERATIONS, ids=str)
def test_operations_without_ids_show_nothing_of_other_workspaces(
    client: TestClient, world: World, session: Session, operation: Operation
) -> None:
    before = fingerprint(session, world.b)
    secrets = secrets_of(session, world.b)
    entry = NO_ID_CALLS[operation.key]
    response = request(client, world.a, operation.method, entry.build(world.b))
    assert response.status_code < 500 or response.status_code in UPSTREAM_UNAVAILABLE, response.text
    assert response.status_code != 403
    assert_no_leak(response, secrets, str(operation))
    assert fingerprint(session, world.b) == before, f"{operation} changed the other workspace"
    if entry.shows_own:
        assert response.status_code == 200, response.text
        own = {s for s in secrets_of(session, world.a) if s in response.text}
        assert own, f"{operation} showed none of the caller's own data: {response.text[:300]}"


def test_a_post_mixing_own_and_foreign_integrations_is_404_and_writes_nothing(
    client: TestClient, world: World, session: Session
) -> None:
    before_a, before_b = fingerprint(session, world.a), fingerprint(session, world.b)
    body = {"content": "mixed", "targets": [_target(world.a), _target(world.b)]}
    response = client.post("/v1/posts", json=body, headers=world.a.headers)
    assert response.status_code == 404, response.text
    assert fingerprint(session, world.a) == before_a
    assert fingerprint(session, world.b) == before_b


def test_same_idempotency_key_in_two_workspaces_is_independent(
    client: TestClient, world: World
) -> None:
    """A replay never hands one workspace the response stored for another."""
    key = {"Idempotency-Key": "shared-key-1"}
    first = client.post(
        "/v1/analytics/refresh",
        json={"post_id": str(world.b.post.id)},
        headers={**world.b.headers, **key},
    )
    assert first.status_code == 202, first.text
    second = client.post(
        "/v1/analytics/refresh",
        json={"post_id": str(world.b.post.id)},
        headers={**world.a.headers, **key},
    )
    assert second.status_code == 404, second.text
    assert "idempotent-replayed" not in second.headers


def test_connecting_a_handle_another_workspace_has_makes_a_new_one(
    client: TestClient, world: World, session: Session
) -> None:
    """Connecting the same account as workspace B gives the caller its own integration."""
    workspace = builders.make_workspace(session, mode="test")
    key = builders.make_key(session, workspace)
    session.commit()
    before = fingerprint(session, world.b)
    body = {"platform": world.b.integration.platform, "username": world.b.integration.username}
    response = client.post(
        "/v1/integrations", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["id"] != str(world.b.integration.id)
    assert_no_leak(response, secrets_of(session, world.b), "POST /v1/integrations")
    assert fingerprint(session, world.b) == before
