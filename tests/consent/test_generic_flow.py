"""The owner-consent flow is one flow for every platform: a second platform (the tiny test
provider: no PKCE, ``client_key``, comma-separated scopes, a long-lived step, rotating
refresh tokens) goes through the same routes and service as X, with the same guarantees:
state bound to the login, the workspace and the platform, ten minutes, single use. And a
platform without consent, or without its app's credentials, is a clear 404 or 400."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from openpost.app import create_app
from openpost.config import Settings
from openpost.consent import service
from openpost.consent.models import OAuthAttempt
from openpost.consent.service import Requester
from openpost.core import clock
from openpost.core.crypto import Sealer
from openpost.core.errors import BadRequest
from openpost.core.ids import new_id
from openpost.integrations.models import Integration
from openpost.platforms.consent import OwnerConsent
from openpost.platforms.x.oauth import CONSENT as X_CONSENT
from tests.builders import World
from tests.consent.tiny import (
    LONG_LIFETIME,
    ORIGIN,
    TinyProvider,
    redirect_target,
    tiny_consent,
)
from tests.dashboard.conftest import Members, page_csrf, sign_in
from tests.refresh.conftest import Clock

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)
BASE = "https://analytics.example.com"
CALLBACK = BASE + "/integrations/tiny/callback"
KEY, SECRET = "tiny-app", "tiny-app-secret-value"


@dataclass
class Setup:
    provider: TinyProvider
    consent: OwnerConsent
    settings: Settings
    clock: Clock


@pytest.fixture
def setup(settings: Settings) -> Iterator[Setup]:
    source = Clock(NOW)
    clock.set_clock(source)
    provider = TinyProvider(KEY, SECRET, CALLBACK, now=source)
    provider.add_account("acct-7", "tinyowner", "Tiny Owner")
    configured = settings.model_copy(update={"public_base_url": BASE})
    yield Setup(provider, tiny_consent(KEY, SECRET), configured, source)
    clock.set_clock(None)


def make_client(setup: Setup, consents: dict[str, OwnerConsent]) -> Iterator[TestClient]:
    app = create_app(setup.settings)
    app.state.owner_consents = consents
    app.state.platform_transports = {"pinterest": setup.provider.transport()}
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.state.engine.dispose()


@pytest.fixture
def admin(setup: Setup, engine: Engine, session: Session, members: Members) -> Iterator[TestClient]:
    for client in make_client(setup, {"x": X_CONSENT, "tiny": setup.consent}):
        sign_in(client, session, members.a["admin"])
        yield client


def start(client: TestClient) -> str:
    """Open ``GET /integrations/tiny/connect`` (SPEC §9.1): the consent URL sent to."""
    response = client.get("/integrations/tiny/connect", follow_redirects=False)
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def at_provider(setup: Setup, consent_url: str) -> str:
    """The browser at the provider's consent page: the callback path it is sent back to."""
    with httpx.Client(transport=setup.provider.transport()) as browser:
        response = browser.get(consent_url)
    assert response.status_code == 302, response.text
    target, _query = redirect_target(response)
    assert target == CALLBACK
    return str(response.headers["location"]).removeprefix(BASE)


def callback(client: TestClient, path: str) -> str:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def attempts(session: Session) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(OAuthAttempt)) or 0)


def tiny_integrations(session: Session, world: World) -> list[Integration]:
    session.expire_all()
    return list(
        session.scalars(
            select(Integration).where(
                Integration.workspace_id == world.a.workspace.id,
                Integration.platform == "pinterest",
            )
        )
    )


def test_a_second_platform_connects_through_the_same_routes(
    admin: TestClient, session: Session, world: World, setup: Setup
) -> None:
    consent_url = start(admin)
    assert consent_url.startswith(ORIGIN + "/oauth/authorize?")
    attempt = session.scalars(select(OAuthAttempt)).one()
    assert attempt.platform == "pinterest"
    assert attempt.expires_at == NOW + timedelta(minutes=10)
    assert Sealer(setup.settings.effective_secret_key).open(attempt.verifier_sealed) == {}

    back = at_provider(setup, consent_url)
    [asked] = setup.provider.seen_authorize
    assert asked["client_key"] == KEY
    assert asked["scope"] == "posts.read,account.read"
    assert asked["display"] == "page"
    assert asked["redirect_uri"] == CALLBACK
    assert "code_challenge" not in asked  # no PKCE here
    assert "client_id" not in asked

    assert callback(admin, back) == "/integrations?notice=tiny-connected"
    assert attempts(session) == 0
    [integration] = tiny_integrations(session, world)
    assert (integration.external_account_id, integration.username) == ("acct-7", "tinyowner")
    assert integration.display_name == "Tiny Owner"
    assert integration.status == "active"
    assert integration.credentials_encrypted is not None
    stored = Sealer(setup.settings.effective_secret_key).open(integration.credentials_encrypted)
    assert stored["kind"] == "tiny_oauth2"
    assert stored["integration_id"] == str(integration.id)
    assert stored["expires_at"] == "2026-05-16T10:00:00Z"  # the long-lived token's 30 days
    assert stored["refresh_expires_at"] == "2026-10-13T10:00:00Z"  # 180 days
    assert stored["refresh_token"] in setup.provider.refresh_tokens
    grant = setup.provider.access_tokens[stored["access_token"]]
    assert grant.expires_at == NOW + LONG_LIFETIME  # the long-lived one, not the hour's
    assert setup.provider.calls == {"token": 1, "long_lived": 1, "me": 1}

    page = admin.get("/integrations?notice=tiny-connected")
    assert "Pinterest account connected with its owner's consent" in page.text
    assert stored["access_token"] not in page.text


def test_the_page_offers_each_platform_and_lets_each_form_reach_its_consent_page(
    admin: TestClient, setup: Setup
) -> None:
    page = admin.get("/integrations")
    assert 'action="/integrations/tiny/connect"' in page.text
    assert 'id="x-consent-unavailable"' in page.text  # X's app is not configured here
    assert f"form-action 'self' {ORIGIN};" in page.headers["content-security-policy"]


def test_the_csrf_checked_form_starts_the_same_attempt(admin: TestClient, session: Session) -> None:
    refused = admin.post("/integrations/tiny/connect", data={}, follow_redirects=False)
    assert refused.status_code == 403
    assert attempts(session) == 0
    response = admin.post(
        "/integrations/tiny/connect",
        data={"csrf_token": page_csrf(admin, "/integrations")},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith(ORIGIN + "/oauth/authorize?")
    assert attempts(session) == 1


def test_a_state_is_single_use(admin: TestClient, session: Session, setup: Setup) -> None:
    back = at_provider(setup, start(admin))
    assert callback(admin, back) == "/integrations?notice=tiny-connected"
    assert callback(admin, back) == "/integrations?tiny_error=state_unknown"
    assert setup.provider.calls["token"] == 1  # the replay never reached the provider
    assert "already used" in admin.get("/integrations?tiny_error=state_unknown").text


def test_a_state_expires_after_ten_minutes(
    admin: TestClient, session: Session, setup: Setup
) -> None:
    back = at_provider(setup, start(admin))
    setup.clock.at = NOW + timedelta(minutes=10)
    assert callback(admin, back) == "/integrations?tiny_error=state_expired"
    assert setup.provider.calls["token"] == 0
    assert attempts(session) == 0


def test_a_state_belongs_to_its_login(
    admin: TestClient, session: Session, setup: Setup, members: Members, world: World
) -> None:
    back = at_provider(setup, start(admin))
    for other in make_client(setup, {"tiny": setup.consent}):
        sign_in(other, session, members.a["owner"])
        assert callback(other, back) == "/integrations?tiny_error=state_unknown"
    assert setup.provider.calls["token"] == 0
    assert attempts(session) == 1
    assert callback(admin, back) == "/integrations?notice=tiny-connected"


def test_a_state_belongs_to_its_workspace(
    admin: TestClient, session: Session, setup: Setup, world: World
) -> None:
    back = at_provider(setup, start(admin))
    session.execute(
        OAuthAttempt.__table__.update().values(workspace_id=world.b.workspace.id)  # type: ignore[attr-defined]
    )
    session.commit()
    assert callback(admin, back) == "/integrations?tiny_error=state_workspace"
    assert tiny_integrations(session, world) == []


def test_a_state_belongs_to_its_platform(admin: TestClient, session: Session, setup: Setup) -> None:
    back = at_provider(setup, start(admin))
    assert callback(admin, back.replace("/integrations/tiny/", "/integrations/x/")) == (
        "/integrations?x_error=state_unknown"
    )
    assert attempts(session) == 1  # still the tiny consent's to finish
    assert callback(admin, back) == "/integrations?notice=tiny-connected"


def test_denied_consent_and_a_provider_outage_are_messages(
    admin: TestClient, session: Session, setup: Setup, world: World
) -> None:
    setup.provider.deny = True
    assert callback(admin, at_provider(setup, start(admin))) == "/integrations?tiny_error=denied"
    setup.provider.deny = False
    setup.provider.failing = True
    back = at_provider(setup, start(admin))
    assert callback(admin, back) == "/integrations?tiny_error=tiny_unavailable"
    page = admin.get("/integrations?tiny_error=tiny_unavailable")
    assert page.status_code == 200
    assert "Pinterest could not complete the connection" in page.text
    assert tiny_integrations(session, world) == []
    assert attempts(session) == 0


def test_a_rejected_client_secret_names_the_settings_to_fix(
    session: Session, setup: Setup, members: Members, engine: Engine
) -> None:
    wrong = tiny_consent(KEY, "not-the-secret")
    for client in make_client(setup, {"tiny": wrong}):
        sign_in(client, session, members.a["admin"])
        back = at_provider(setup, start(client))
        assert callback(client, back) == "/integrations?tiny_error=tiny_oauth_client"
        page = client.get("/integrations?tiny_error=tiny_oauth_client").text
        assert "OPENPOST_TINY_CLIENT_ID / OPENPOST_TINY_CLIENT_SECRET" in page
        assert "not-the-secret" not in page


# ---- platforms without consent, or without their app's credentials -----------------------


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/integrations/nowhere/connect", 404, "No platform of that name"),
        ("/integrations/nowhere/callback?state=s&code=c", 404, "No platform of that name"),
        ("/integrations/bluesky/connect", 404, "connected by their handle"),
        ("/integrations/threads/connect", 404, "not available on this server yet"),
        ("/integrations/threads/callback?state=s&code=c", 404, "not available on this server"),
        ("/integrations/twitter/connect", 404, "consent is at /integrations/x/connect"),
        ("/integrations/x/connect", 400, "OPENPOST_X_CLIENT_ID"),
    ],
)
def test_platforms_without_consent_are_clear_pages_not_500s(
    admin: TestClient, session: Session, path: str, status: int, says: str
) -> None:
    response = admin.get(path, follow_redirects=False)
    assert response.status_code == status
    assert says in response.text
    assert attempts(session) == 0


def test_an_unconfigured_platform_says_what_to_set(
    session: Session, setup: Setup, members: Members, engine: Engine
) -> None:
    bare = setup.settings.model_copy(update={"public_base_url": ""})
    setup.settings = bare
    for client in make_client(setup, {"tiny": tiny_consent("", SECRET)}):
        sign_in(client, session, members.a["admin"])
        page = client.get("/integrations")
        assert 'id="tiny-consent-unavailable"' in page.text
        assert "OPENPOST_TINY_CLIENT_ID" in page.text
        assert "OPENPOST_PUBLIC_BASE_URL" in page.text
        assert "OPENPOST_TINY_CLIENT_SECRET" not in page.text
        assert "form-action 'self';" in page.headers["content-security-policy"]
        refused = client.get("/integrations/tiny/connect", follow_redirects=False)
        assert refused.status_code == 400
        assert "OPENPOST_TINY_CLIENT_ID, OPENPOST_PUBLIC_BASE_URL" in refused.text
    assert attempts(session) == 0


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_only_owners_and_admins_may_start_or_finish(
    session: Session, setup: Setup, members: Members, engine: Engine, role: str
) -> None:
    for client in make_client(setup, {"tiny": setup.consent}):
        sign_in(client, session, members.a[role])
        assert client.get("/integrations/tiny/connect", follow_redirects=False).status_code == 403
        finish = client.get("/integrations/tiny/callback?state=s&code=c", follow_redirects=False)
        assert finish.status_code == 403
    assert attempts(session) == 0


def test_a_test_workspace_is_refused(session: Session, setup: Setup, world: World) -> None:
    test_workspace = Requester(session_id=new_id(), workspace_id=world.a.workspace.id, live=False)
    with pytest.raises(BadRequest, match="consent is for live ones"):
        service.start(session, setup.settings, setup.consent, test_workspace, now=NOW)
    assert attempts(session) == 0
