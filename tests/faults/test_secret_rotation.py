"""Rotating ``OPENPOST_SECRET_KEY`` (issue 11, keys and data).

Tokens sealed under the old key (platform credentials, X owners' tokens among them, and a
consent attempt's PKCE verifier) open once the old key is in
``OPENPOST_SECRET_KEY_PREVIOUS``; ``openpost secrets reseal`` (a real process, in pages of
two) rewrites each under the new key, with progress on stderr and a summary; afterwards the
new key alone opens everything; a token under no configured key is reported by row id and
left as it is (exit code 1); a second run has nothing left to do.

Both passes (the database is the pass's).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from openpost.consent.models import OAuthAttempt
from openpost.core import clock
from openpost.core.crypto import CredentialsUnreadable, Sealer
from openpost.core.db import make_engine, make_sessionmaker, transaction
from openpost.dashboard.models import DashboardSession
from openpost.dashboard.sessions import find_user, hash_token, start_session
from openpost.integrations.models import Integration
from openpost.workspaces.service import add_member, create_workspace
from tests.faults import harness

OLD = "the-old-secret-key-0123456789"
NEW = "the-new-secret-key-9876543210"
STRANGER = "a-key-nobody-configured-000"


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with harness.pass_database(tmp_path) as url:
        yield url, tmp_path


def _arrange(engine: Engine) -> tuple[dict[uuid.UUID, dict[str, str]], uuid.UUID, uuid.UUID]:
    """Four integrations sealed under OLD, one under a key nobody configured, one without
    credentials, and one consent attempt in flight (its verifier under OLD)."""
    old, stranger = Sealer(OLD), Sealer(STRANGER)
    sealed: dict[uuid.UUID, dict[str, str]] = {}
    with transaction(make_sessionmaker(engine)) as session:
        workspace = create_workspace(session, "Rotation")
        for n in range(6):
            integration = Integration(
                workspace_id=workspace.id,
                platform="twitter",
                external_account_id=str(5000 + n),
                username=f"owner{n}",
                display_name=f"Owner {n}",
            )
            credentials = {"access_token": f"access-{n}", "refresh_token": f"refresh-{n}"}
            if n < 4:
                integration.credentials_encrypted = old.seal(credentials)
            elif n == 4:
                integration.credentials_encrypted = stranger.seal(credentials)
            session.add(integration)
            session.flush()
            if n < 4:
                sealed[integration.id] = credentials
            elif n == 4:
                lost = integration.id
        email = "owner@example.com"
        add_member(session, workspace, email=email, password="a-password", role="owner")
        user = find_user(session, email)
        assert user is not None
        token = start_session(session, user, workspace.id, timedelta(hours=1))
        session_id = session.scalar(
            select(DashboardSession.id).where(DashboardSession.token_hash == hash_token(token))
        )
        attempt = OAuthAttempt(
            state_hash=hash_token("state-1"),
            session_id=session_id,
            workspace_id=workspace.id,
            platform="twitter",
            verifier_sealed=old.seal({"verifier": "v" * 43}),
            created_at=clock.now(),
            expires_at=clock.now() + timedelta(minutes=10),
        )
        session.add(attempt)
        session.flush()
        attempt_id = attempt.id
    return sealed, lost, attempt_id


def _stored(engine: Engine) -> dict[uuid.UUID, str | None]:
    with engine.connect() as conn:
        return dict(conn.execute(select(Integration.id, Integration.credentials_encrypted)).all())


def test_rotation_and_reseal(database: tuple[str, Path]) -> None:
    url, folder = database
    engine = make_engine(url)
    try:
        sealed, lost, attempt_id = _arrange(engine)
        before = _stored(engine)
        token = next(v for k, v in before.items() if k in sealed)
        assert token is not None
        with pytest.raises(CredentialsUnreadable):
            Sealer(NEW).open(token)  # the new key alone: why the previous one is kept
        assert Sealer(NEW, [OLD]).open(token) in sealed.values()

        env = {
            "PATH": "/usr/bin:/bin",
            "OPENPOST_ENV": "production",
            "OPENPOST_DATABASE_URL": url,
            "OPENPOST_DATA_DIR": str(folder),
            "OPENPOST_SECRET_KEY": NEW,
            "OPENPOST_SECRET_KEY_PREVIOUS": f"{OLD}, another-retired-key-000",
        }
        procs = harness.Processes(env=env, logs=folder)
        first = procs.run("secrets", "reseal", "--batch-size", "2", "--json", check=False)
        assert first.returncode == 1, first.stderr  # one token under no configured key
        report = json.loads(first.stdout)
        assert report["integrations"] == {
            "seen": 5,
            "resealed": 4,
            "current": 0,
            "changed": 0,
            "unreadable": [str(lost)],
        }
        assert report["oauth_attempts"]["resealed"] == 1
        assert report["total"]["resealed"] == 5
        assert "integrations: 2/5" in first.stderr
        assert "integrations: 5/5" in first.stderr
        assert "oauth_attempts: 1/1" in first.stderr

        after = _stored(engine)
        new_only = Sealer(NEW)
        for integration_id, credentials in sealed.items():
            stored = after[integration_id]
            assert stored is not None
            assert stored != before[integration_id]
            assert new_only.open(stored) == credentials
        assert after[lost] == before[lost]  # left for its owner to reconnect
        with engine.connect() as conn:
            verifier = conn.scalar(
                select(OAuthAttempt.verifier_sealed).where(OAuthAttempt.id == attempt_id)
            )
        assert new_only.open(str(verifier)) == {"verifier": "v" * 43}

        second = procs.run("secrets", "reseal", check=False)
        assert second.returncode == 1
        assert "integrations: 0 resealed, 4 already current" in second.stdout
        assert f"unreadable under every configured key: integrations {lost}" in second.stdout
        assert _stored(engine) == after
    finally:
        engine.dispose()
