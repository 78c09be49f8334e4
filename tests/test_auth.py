"""API keys: their format, what is stored, and the one 401 every auth failure gets."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from openpost.auth.keys import KEY_LENGTH, generate_key, hash_key, is_well_formed
from openpost.auth.models import ApiKey
from openpost.auth.service import create_key, revoke_key
from openpost.core import clock
from openpost.core.db import make_sessionmaker
from tests import builders
from tests.builders import World
from tests.core.api_routes import v1_operations

INVALID = {"error": "Invalid API key"}
URL_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")


# --- key format --------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "prefix"), [("live", "op_live_"), ("test", "op_test_")])
def test_generated_key_format(mode: str, prefix: str) -> None:
    keys = {generate_key(mode) for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert len(key) == KEY_LENGTH == 40
        assert key.startswith(prefix)
        assert URL_SAFE.match(key[len(prefix) :])
        assert len(key[len(prefix) :]) == 32
        assert is_well_formed(key)


@pytest.mark.parametrize(
    "key",
    [
        "",
        "op_live_",
        "op_live_" + "a" * 31,
        "op_live_" + "a" * 33,
        "op_prod_" + "a" * 32,
        "OP_LIVE_" + "a" * 32,
        "op_live_" + "a" * 31 + "=",
        "op_live_" + "a" * 31 + "+",
        "op_live_" + "a" * 31 + "/",
        "op_live_" + "a" * 31 + "\n",
        " op_live_" + "a" * 32,
    ],
)
def test_malformed_keys_are_not_well_formed(key: str) -> None:
    assert not is_well_formed(key)


def test_hash_is_sha256_hex() -> None:
    key = generate_key("live")
    assert hash_key(key) == hashlib.sha256(key.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", hash_key(key))


def test_plaintext_is_never_stored(engine: Engine, session: Session) -> None:
    workspace = builders.make_workspace(session)
    key, plaintext = create_key(session, workspace, "reporting")
    session.commit()

    with engine.connect() as conn:
        row = (
            conn.execute(
                text("SELECT * FROM api_keys WHERE key_hash = :h"), {"h": hash_key(plaintext)}
            )
            .mappings()
            .one()
        )
    secret_part = plaintext[len("op_live_") :]
    for column, value in row.items():
        assert plaintext not in str(value), column
        assert secret_part[:8] not in str(value), column
    assert row["key_hash"] == hashlib.sha256(plaintext.encode()).hexdigest()
    assert row["last4"] == plaintext[-4:]
    assert key.key_hash == row["key_hash"]


# --- the 401 -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic b3BlbnBvc3Q6c2VjcmV0",
        "Token {key}",
        "{key}",
        "Bearer{key}",
        "Bearer op_live_short",
        "Bearer {key}x",
        "Bearer {key_upper}",
        "Bearer " + "op_live_" + "A" * 32,
        "Bearer op_live_" + "é" * 32,
    ],
)
def test_auth_failures_are_one_401(
    client: TestClient, world: World, authorization: str | None
) -> None:
    headers: dict[str, str] = {}
    if authorization is not None:
        key = world.a.key
        value = authorization.format(key=key, key_upper=key[:8] + key[8:].swapcase())
        headers["Authorization"] = value
    response = client.get("/v1/analytics", headers={k: v.encode() for k, v in headers.items()})
    assert response.status_code == 401
    assert response.json() == INVALID
    assert response.headers["www-authenticate"] == "Bearer"  # RFC 9110: a 401 names the scheme


def test_bearer_scheme_is_case_insensitive(client: TestClient, world: World) -> None:
    response = client.get("/v1/analytics", headers={"Authorization": f"bearer {world.a.key}"})
    assert response.status_code == 200


def test_every_v1_operation_requires_a_key(app: FastAPI, client: TestClient, world: World) -> None:
    operations = v1_operations(app)
    assert len(operations) >= 2
    for operation in operations:
        path = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), operation.path)
        for headers in ({}, {"Authorization": "Bearer op_live_" + "x" * 32}):
            response = client.request(operation.method, path, headers=headers, json={})
            assert response.status_code == 401, (str(operation), response.text)
            assert response.json() == INVALID, str(operation)
            assert response.headers["www-authenticate"] == "Bearer", str(operation)


def test_revoked_key_stops_at_once(client: TestClient, world: World, session: Session) -> None:
    assert client.get("/v1/analytics", headers=world.a.headers).status_code == 200
    key_id = session.scalar(select(ApiKey.id).where(ApiKey.key_hash == hash_key(world.a.key)))
    assert key_id is not None
    revoke_key(session, key_id, world.a.workspace.id)
    session.commit()

    response = client.get("/v1/analytics", headers=world.a.headers)
    assert response.status_code == 401
    assert response.json() == INVALID
    # Other keys, even of the same workspace, keep working.
    assert client.get("/v1/analytics", headers=world.b.headers).status_code == 200


def test_another_key_of_the_workspace_survives_a_revocation(
    client: TestClient, world: World, session: Session
) -> None:
    spare = builders.make_key(session, world.a.workspace, "spare")
    key_id = session.scalar(select(ApiKey.id).where(ApiKey.key_hash == hash_key(world.a.key)))
    assert key_id is not None
    revoke_key(session, key_id)
    session.commit()
    assert client.get("/v1/analytics", headers=world.a.headers).status_code == 401
    response = client.get("/v1/analytics", headers={"Authorization": f"Bearer {spare}"})
    assert response.status_code == 200
    assert len(response.json()["data"]) == 2


def test_unknown_well_formed_key_is_401(client: TestClient, world: World) -> None:
    response = client.get(
        "/v1/analytics", headers={"Authorization": f"Bearer {generate_key('live')}"}
    )
    assert response.status_code == 401
    assert response.json() == INVALID


def test_test_workspace_keys_start_op_test(client: TestClient, session: Session) -> None:
    workspace = builders.make_workspace(session, mode="test")
    key = builders.make_key(session, workspace)
    session.commit()
    assert key.startswith("op_test_")
    assert len(key) == 40
    assert (
        client.get("/v1/analytics", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    )

    # The prefix is part of the key: the same secret under the other prefix is unknown.
    swapped = "op_live_" + key[len("op_test_") :]
    response = client.get("/v1/analytics", headers={"Authorization": f"Bearer {swapped}"})
    assert response.status_code == 401
    assert response.json() == INVALID


def test_live_workspace_keys_start_op_live(world: World) -> None:
    assert world.a.key.startswith("op_live_")


def test_auth_failure_says_nothing_else(client: TestClient, world: World, session: Session) -> None:
    """Revoked, unknown and malformed keys are indistinguishable to the caller."""
    key_id = session.scalar(select(ApiKey.id).where(ApiKey.key_hash == hash_key(world.b.key)))
    assert key_id is not None
    revoke_key(session, key_id)
    session.commit()
    bodies = set()
    for value in (world.b.key, generate_key("live"), "nonsense"):
        response = client.get("/v1/analytics", headers={"Authorization": f"Bearer {value}"})
        bodies.add((response.status_code, response.content, response.headers["content-type"]))
    assert len(bodies) == 1


# --- last_used_at ------------------------------------------------------------------------


@pytest.fixture
def frozen_clock() -> Iterator[list[datetime]]:
    """A clock the test moves by hand: ``frozen_clock[0] += timedelta(...)``."""
    current = [datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)]
    clock.set_clock(lambda: current[0])
    yield current
    clock.set_clock(None)


def _last_used(engine: Engine, key: str) -> datetime | None:
    with make_sessionmaker(engine)() as fresh:
        return fresh.scalar(select(ApiKey.last_used_at).where(ApiKey.key_hash == hash_key(key)))


def test_last_used_at_is_updated_at_most_once_a_minute(
    client: TestClient, engine: Engine, world: World, frozen_clock: list[datetime]
) -> None:
    start = frozen_clock[0]
    assert _last_used(engine, world.a.key) is None

    assert client.get("/v1/analytics", headers=world.a.headers).status_code == 200
    assert _last_used(engine, world.a.key) == start

    frozen_clock[0] = start + timedelta(seconds=59)
    assert client.get("/v1/analytics", headers=world.a.headers).status_code == 200
    assert _last_used(engine, world.a.key) == start

    frozen_clock[0] = start + timedelta(seconds=60)
    assert client.get("/v1/analytics", headers=world.a.headers).status_code == 200
    assert _last_used(engine, world.a.key) == start + timedelta(seconds=60)

    # Only the key that was used is touched.
    assert _last_used(engine, world.b.key) is None


def test_failed_auth_does_not_touch_last_used_at(
    client: TestClient, engine: Engine, world: World, frozen_clock: list[datetime]
) -> None:
    client.get("/v1/analytics", headers={"Authorization": f"Bearer {world.a.key}x"})
    assert _last_used(engine, world.a.key) is None
