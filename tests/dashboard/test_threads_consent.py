"""Connecting Threads with the owner's consent through the dashboard: the connect button,
Threads' consent page (the fake, playing the browser's part), the callback, the sealed
long-lived token; and what the owner reads when Threads refuses: not a tester of the app
yet (1349245), a Facebook app id set as the Threads one (1349026), consent denied."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openpost.app import create_app
from openpost.config import Settings
from openpost.core import clock
from openpost.core.crypto import Sealer
from openpost.integrations.models import Integration
from openpost.platforms.threads.fake import FakeThreads, FakeUser
from tests.builders import World
from tests.dashboard.conftest import Members, page_csrf, sign_in
from tests.refresh.conftest import Clock

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)
BASE = "https://analytics.example.com"
FAKE = "http://fake-threads.test"
APP, SECRET = "threads-app-id", "threads-app-secret-value"
CALLBACK_PATH = "/integrations/threads/callback"


@dataclass
class Setup:
    fake: FakeThreads
    owner: FakeUser
    settings: Settings


@pytest.fixture
def setup(settings: Settings) -> Iterator[Setup]:
    clock.set_clock(Clock(NOW))
    fake = FakeThreads()
    owner = fake.add_user("openpost", name="OpenPost", followers=10)
    fake.add_app(APP, SECRET, BASE + CALLBACK_PATH)
    fake.set_consent("approve", owner)
    configured = settings.model_copy(
        update={
            "threads_api_base_url": FAKE,
            "threads_oauth_authorize_url": FAKE + "/oauth/authorize",
            "threads_client_id": APP,
            "threads_client_secret": SECRET,
            "public_base_url": BASE,
        }
    )
    yield Setup(fake, owner, configured)
    clock.set_clock(None)


@pytest.fixture
def admin(setup: Setup, engine: Engine, session: Session, members: Members) -> Iterator[TestClient]:
    app = create_app(setup.settings)
    app.state.platform_transports = {"threads": setup.fake.transport()}
    with TestClient(app, raise_server_exceptions=False) as client:
        sign_in(client, session, members.a["admin"])
        yield client
    app.state.engine.dispose()


def start(client: TestClient) -> str:
    response = client.post(
        "/integrations/threads/connect",
        data={"csrf_token": page_csrf(client, "/integrations")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def at_threads(fake: FakeThreads, consent_url: str) -> str:
    """The browser at Threads' consent page: the callback path it is sent back to (the
    ``#_`` Threads appends stays in the browser)."""
    parts = urlsplit(consent_url)
    with httpx.Client(transport=fake.transport()) as browser:
        response = browser.get(f"{FAKE}{parts.path}?{parts.query}")
    assert response.status_code == 302, response.text
    back = str(response.headers["location"]).split("#", 1)[0]
    assert back.startswith(BASE + CALLBACK_PATH + "?")
    return back.removeprefix(BASE)


def callback(client: TestClient, path: str) -> str:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def threads_integrations(session: Session, world: World) -> list[Integration]:
    session.expire_all()
    return list(
        session.scalars(
            select(Integration).where(
                Integration.workspace_id == world.a.workspace.id,
                Integration.platform == "threads",
            )
        )
    )


def test_consent_connects_the_account_with_a_sealed_sixty_day_token(
    admin: TestClient, session: Session, world: World, setup: Setup
) -> None:
    page = admin.get("/integrations")
    assert "Connect Threads with the owner&#39;s consent" in page.text or (
        "Connect Threads with the owner's consent" in page.text
    )
    assert f"form-action 'self' {FAKE}" in page.headers["content-security-policy"]
    assert 'data-platform="threads"' not in page.text.split('id="platforms-unavailable"', 1)[-1]
    consent_url = start(admin)
    query = parse_qs(urlsplit(consent_url).query)
    assert query["scope"] == ["threads_basic,threads_manage_insights"]
    assert query["client_id"] == [APP]
    assert "code_challenge" not in query
    assert callback(admin, at_threads(setup.fake, consent_url)) == (
        "/integrations?notice=threads-connected"
    )
    (integration,) = threads_integrations(session, world)
    assert (integration.external_account_id, integration.username) == (setup.owner.id, "openpost")
    assert integration.status == "active"
    assert integration.credentials_encrypted is not None
    sealed = Sealer(setup.settings.effective_secret_key).open(integration.credentials_encrypted)
    assert sealed["kind"] == "threads_oauth2"
    token = setup.fake.tokens[sealed["access_token"]]
    assert token.long_lived
    assert sealed["expires_at"] == "2026-06-15T09:59:04Z"  # 5,183,944 s from now
    assert sealed["access_token"] not in integration.credentials_encrypted
    assert [r.params.get("grant_type") for r in setup.fake.calls("oauth_token")] == [
        "authorization_code"
    ]
    assert len(setup.fake.calls("long_lived")) == 1


@pytest.mark.parametrize(
    ("arrange", "code", "words"),
    [
        ("not_tester", "threads_not_tester", "has not accepted the app's tester invitation"),
        ("facebook_id", "threads_facebook_app_id", "it is the Facebook app id"),
        ("deny", "denied", "did not give consent"),
    ],
)
def test_threads_refusals_are_explained_on_the_callback(
    admin: TestClient,
    session: Session,
    world: World,
    setup: Setup,
    arrange: str,
    code: str,
    words: str,
) -> None:
    if arrange == "not_tester":
        setup.fake.set_consent("approve", setup.fake.add_user("outsider", tester=False))
    elif arrange == "facebook_id":
        setup.fake.oauth.facebook_app_ids.add(APP)
    else:
        setup.fake.set_consent("deny")
    where = callback(admin, at_threads(setup.fake, start(admin)))
    assert where == f"/integrations?threads_error={code}"
    page = admin.get(where)
    assert page.status_code == 200
    assert words in page.text.replace("&#39;", "'")
    assert threads_integrations(session, world) == []
    assert setup.fake.calls("oauth_token") == []
