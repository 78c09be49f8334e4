"""Connecting X with the owner's consent, end to end through the dashboard: the form, X's
consent page (the fake, in-process, playing the browser's part), the callback, the stored
integration, and a capture that reads with the owner's token. Then every way it can fail:
denied consent, a replayed, expired or foreign state, and X's token endpoint down."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from openpost.analytics.models import Snapshot
from openpost.app import create_app
from openpost.config import Settings
from openpost.consent import security
from openpost.consent.models import OAuthAttempt
from openpost.core import clock
from openpost.core.crypto import Sealer
from openpost.core.db import make_sessionmaker
from openpost.dashboard.sessions import hash_token
from openpost.integrations.models import Integration
from openpost.platforms.x.fake import DEFAULT_APP_TOKEN, FakeAccount, FakeX
from openpost.posts.models import PostTarget
from openpost.refresh import runner
from openpost.refresh.runner import Runtime
from tests import builders
from tests.builders import World
from tests.dashboard.conftest import Members, page_csrf, sign_in
from tests.refresh.conftest import Clock, no_discovery_today, track

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)
BASE = "https://analytics.example.com"
FAKE = "http://fake-x.test"
CLIENT_ID, SECRET = "openpost-client", "openpost-client-secret-value"
CALLBACK_PATH = "/integrations/x/callback"


@dataclass
class Setup:
    fake: FakeX
    owner: FakeAccount
    settings: Settings
    clock: Clock


@pytest.fixture
def world_now() -> Iterator[Clock]:
    source = Clock(NOW)
    clock.set_clock(source)
    yield source
    clock.set_clock(None)


@pytest.fixture
def setup(settings: Settings, world_now: Clock) -> Setup:
    fake = FakeX(app_token=DEFAULT_APP_TOKEN)
    owner = fake.add_account("openpost", name="OpenPost")
    fake.add_oauth_client(CLIENT_ID, SECRET, BASE + CALLBACK_PATH)
    fake.set_consent("approve", owner)
    configured = settings.model_copy(
        update={
            "x_api_base_url": FAKE,
            "x_bearer_token": DEFAULT_APP_TOKEN,
            "x_oauth_authorize_url": FAKE + "/i/oauth2/authorize",
            "x_client_id": CLIENT_ID,
            "x_client_secret": SECRET,
            "public_base_url": BASE,
        }
    )
    return Setup(fake, owner, configured, world_now)


def make_client(settings: Settings, fake: FakeX) -> Iterator[TestClient]:
    app = create_app(settings)
    app.state.platform_transports = {"twitter": fake.transport()}
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.state.engine.dispose()


@pytest.fixture
def browser(setup: Setup, engine: Engine) -> Iterator[TestClient]:
    yield from make_client(setup.settings, setup.fake)


@pytest.fixture
def admin(browser: TestClient, session: Session, members: Members) -> TestClient:
    sign_in(browser, session, members.a["admin"])
    return browser


def start(client: TestClient) -> str:
    """Press "Connect X with the owner's consent"; X's consent URL the browser is sent to."""
    response = client.post(
        "/integrations/x/connect",
        data={"csrf_token": page_csrf(client, "/integrations")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return response.headers["location"]


def at_x(fake: FakeX, consent_url: str) -> str:
    """The browser at X's consent page: where X sends it back (our callback URL)."""
    parts = urlsplit(consent_url)
    with httpx.Client(transport=fake.transport()) as x_browser:
        response = x_browser.get(f"{FAKE}{parts.path}?{parts.query}")
    assert response.status_code == 302
    back = response.headers["location"]
    assert back.startswith(BASE + CALLBACK_PATH + "?")
    return back.removeprefix(BASE)


def callback(client: TestClient, path: str) -> str:
    """Follow X's redirect back to the dashboard; where the dashboard sends the browser."""
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def integrations_of(session: Session, world: World) -> list[Integration]:
    session.expire_all()
    return list(
        session.scalars(
            select(Integration).where(
                Integration.workspace_id == world.a.workspace.id,
                Integration.platform == "twitter",
            )
        )
    )


def attempts(session: Session) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(OAuthAttempt)) or 0)


def server_logs(caplog: pytest.LogCaptureFixture) -> str:
    """Everything the service logged: messages and structured fields. The ``httpx2`` logger
    is left out: it is the browser's (Starlette's TestClient logs its own request URLs)."""
    return "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records if r.name != "httpx2")


# ---- PKCE and state -----------------------------------------------------------------------


def test_s256_challenge_matches_rfc_7636s_example() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert security.challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_verifiers_and_states_are_long_random_and_url_safe() -> None:
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    verifiers = {security.new_verifier() for _ in range(50)}
    states = {security.new_state() for _ in range(50)}
    assert len(verifiers) == len(states) == 50
    for verifier in verifiers:
        assert 43 <= len(verifier) <= 128
        assert set(verifier) <= allowed
    assert all(len(state) >= 43 for state in states)


# ---- the round trip -----------------------------------------------------------------------


def test_consent_connects_the_account_and_collection_reads_its_private_metrics(
    admin: TestClient, session: Session, world: World, setup: Setup, engine: Engine
) -> None:
    consent_url = start(admin)
    query = parse_qs(urlsplit(consent_url).query)
    assert consent_url.startswith(FAKE + "/i/oauth2/authorize?")
    assert query["scope"] == ["tweet.read users.read offline.access"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [BASE + "/integrations/x/callback"]
    assert query["client_id"] == [CLIENT_ID]
    state = query["state"][0]
    stored = session.scalars(select(OAuthAttempt)).one()
    assert stored.state_hash == hash_token(state)  # only the hash is kept
    assert stored.expires_at == NOW + timedelta(minutes=10)

    assert callback(admin, at_x(setup.fake, consent_url)) == "/integrations?notice=x-connected"
    assert attempts(session) == 0  # used up
    [integration] = [i for i in integrations_of(session, world) if i.username == "openpost"]
    assert integration.external_account_id == setup.owner.id
    assert integration.display_name == "OpenPost"
    assert integration.status == "active"
    sealed = integration.credentials_encrypted
    assert sealed is not None
    credentials = Sealer(setup.settings.effective_secret_key).open(sealed)
    assert setup.fake.user_tokens[credentials["access_token"]] == setup.owner.id
    assert credentials["access_token"] not in sealed
    assert credentials["integration_id"] == str(integration.id)
    assert credentials["expires_at"] == "2026-04-16T12:00:00Z"
    page = admin.get("/integrations?notice=x-connected").text
    assert "connected with its owner's consent" in page
    assert credentials["access_token"] not in page

    # Collection now reads with the owner's token: private metrics for a post under 30 days.
    young = setup.fake.add_post(setup.owner, created_at=NOW - timedelta(days=2), impressions=40)
    old = setup.fake.add_post(setup.owner, created_at=NOW - timedelta(days=40), impressions=9)
    for post in (young, old):
        track(session, integration, post.id, published_at=post.created_at)
    no_discovery_today(session, integration)
    session.commit()
    rt = Runtime.from_settings(
        setup.settings,
        factory=make_sessionmaker(engine),
        transports={"twitter": setup.fake.transport()},
    )
    try:
        runner.sweep(rt, NOW, workspace_id=world.a.workspace.id)
    finally:
        rt.close()
    reads = setup.fake.calls("tweets_lookup")
    assert {r.context for r in reads} == {f"user:{setup.owner.id}"}
    data = dict(
        session.execute(
            select(Snapshot.post_target_id, Snapshot.platform_data).where(
                Snapshot.integration_id == integration.id
            )
        ).all()
    )
    by_post = {
        t.platform_post_id: data[t.id]
        for t in session.scalars(
            select(PostTarget).where(PostTarget.integration_id == integration.id)
        )
    }
    assert by_post[young.id]["non_public_metrics"] == {
        "impression_count": 40,
        "url_link_clicks": 0,
        "user_profile_clicks": 0,
    }
    assert "non_public_metrics" not in by_post[old.id]  # X refuses them past 30 days


def test_the_get_link_of_spec_9_1_starts_the_same_x_consent(
    admin: TestClient, session: Session, world: World, setup: Setup
) -> None:
    """``GET /integrations/x/connect`` (the generic route, X's slug ``x``) as the form's POST."""
    response = admin.get("/integrations/x/connect", follow_redirects=False)
    assert response.status_code == 303
    consent_url = response.headers["location"]
    assert parse_qs(urlsplit(consent_url).query)["code_challenge_method"] == ["S256"]
    assert session.scalars(select(OAuthAttempt)).one().platform == "twitter"
    assert callback(admin, at_x(setup.fake, consent_url)) == "/integrations?notice=x-connected"
    assert [i.username for i in integrations_of(session, world) if i.username == "openpost"] == [
        "openpost"
    ]


def test_an_account_connected_by_handle_gets_the_owners_token_attached(
    admin: TestClient, session: Session, world: World, setup: Setup
) -> None:
    existing = builders.make_integration(
        session,
        world.a.workspace,
        username="OpenPost",
        external_account_id=setup.owner.id,
        status="needs_refresh",
    )
    session.commit()
    assert callback(admin, at_x(setup.fake, start(admin))) == "/integrations?notice=x-attached"
    [same] = [i for i in integrations_of(session, world) if i.id == existing.id]
    assert same.status == "active"
    assert same.username == "openpost"
    assert same.credentials_encrypted is not None
    assert (
        len([i for i in integrations_of(session, world) if i.external_account_id == setup.owner.id])
        == 1
    )


def test_denied_consent_says_so_and_connects_nothing(
    admin: TestClient, session: Session, world: World, setup: Setup
) -> None:
    before = len(integrations_of(session, world))
    setup.fake.set_consent("deny")
    assert callback(admin, at_x(setup.fake, start(admin))) == "/integrations?x_error=denied"
    assert len(integrations_of(session, world)) == before
    assert attempts(session) == 0
    assert setup.fake.calls("oauth2_token") == []
    page = admin.get("/integrations?x_error=denied")
    assert page.status_code == 200
    assert "did not give consent" in page.text


def test_a_replayed_state_is_refused(
    admin: TestClient, session: Session, world: World, setup: Setup
) -> None:
    back = at_x(setup.fake, start(admin))
    assert callback(admin, back).endswith("notice=x-connected")
    assert callback(admin, back) == "/integrations?x_error=state_unknown"
    assert len(setup.fake.calls("oauth2_token")) == 1  # the replay never reached X


def test_an_expired_state_is_refused(
    admin: TestClient, session: Session, world: World, setup: Setup
) -> None:
    back = at_x(setup.fake, start(admin))
    setup.clock.at = NOW + timedelta(minutes=10)
    assert callback(admin, back) == "/integrations?x_error=state_expired"
    assert setup.fake.calls("oauth2_token") == []
    assert attempts(session) == 0
    assert "took too long" in admin.get("/integrations?x_error=state_expired").text


def test_another_logins_state_is_refused(
    admin: TestClient,
    session: Session,
    world: World,
    setup: Setup,
    members: Members,
    engine: Engine,
) -> None:
    back = at_x(setup.fake, start(admin))
    for other in make_client(setup.settings, setup.fake):
        sign_in(other, session, members.a["owner"])
        assert callback(other, back) == "/integrations?x_error=state_unknown"
    assert setup.fake.calls("oauth2_token") == []
    assert attempts(session) == 1  # still the first login's to finish
    assert callback(admin, back).endswith("notice=x-connected")


def test_a_state_of_another_workspace_is_refused(
    admin: TestClient, session: Session, world: World, setup: Setup
) -> None:
    back = at_x(setup.fake, start(admin))
    session.execute(
        OAuthAttempt.__table__.update().values(workspace_id=world.b.workspace.id)  # type: ignore[attr-defined]
    )
    session.commit()
    assert callback(admin, back) == "/integrations?x_error=state_workspace"


def test_a_failing_token_endpoint_is_a_message_not_a_500(
    admin: TestClient,
    session: Session,
    world: World,
    setup: Setup,
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = len(integrations_of(session, world))
    setup.fake.inject("server_error", endpoint="oauth2_token")
    caplog.set_level(logging.DEBUG)
    back = at_x(setup.fake, start(admin))
    assert callback(admin, back) == "/integrations?x_error=x_unavailable"
    assert len(integrations_of(session, world)) == before
    page = admin.get("/integrations?x_error=x_unavailable")
    assert page.status_code == 200
    assert "could not complete the connection" in page.text
    code = parse_qs(urlsplit(back).query)["code"][0]
    logged = server_logs(caplog)
    assert code not in logged
    assert SECRET not in logged


def test_the_flow_logs_no_token_code_or_secret(
    admin: TestClient,
    session: Session,
    world: World,
    setup: Setup,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    back = at_x(setup.fake, start(admin))
    callback(admin, back)
    [integration] = [i for i in integrations_of(session, world) if i.username == "openpost"]
    assert integration.credentials_encrypted is not None
    credentials = Sealer(setup.settings.effective_secret_key).open(
        integration.credentials_encrypted
    )
    logged = server_logs(caplog)
    secrets = [credentials["access_token"], credentials["refresh_token"], SECRET]
    secrets.append(parse_qs(urlsplit(back).query)["code"][0])
    assert [s for s in secrets if s in logged] == []


def test_the_consent_form_is_allowed_to_reach_x(admin: TestClient, setup: Setup) -> None:
    response = admin.get("/integrations")
    assert "Connect X with the owner's consent" in response.text
    assert f"form-action 'self' {FAKE}" in response.headers["content-security-policy"]


def test_without_settings_the_page_says_what_to_set(
    session: Session, members: Members, engine: Engine, settings: Settings, setup: Setup
) -> None:
    bare = setup.settings.model_copy(update={"x_client_id": "", "public_base_url": ""})
    for client in make_client(bare, setup.fake):
        sign_in(client, session, members.a["admin"])
        page = client.get("/integrations")
        assert "OPENPOST_X_CLIENT_ID" in page.text
        assert "OPENPOST_PUBLIC_BASE_URL" in page.text
        assert "OPENPOST_X_CLIENT_SECRET" not in page.text  # that one is set
        assert "form-action 'self';" in page.headers["content-security-policy"]
        refused = client.post(
            "/integrations/x/connect",
            data={"csrf_token": page_csrf(client, "/integrations")},
            follow_redirects=False,
        )
        assert refused.status_code == 400
        assert "OPENPOST_X_CLIENT_ID" in refused.text


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_only_owners_and_admins_may_start(
    browser: TestClient, session: Session, members: Members, role: str
) -> None:
    sign_in(browser, session, members.a[role])
    assert "Connect X with the owner" not in browser.get("/integrations").text
    response = browser.post(
        "/integrations/x/connect",
        data={"csrf_token": page_csrf(browser, "/integrations")},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert attempts(session) == 0


def test_start_needs_the_csrf_token(admin: TestClient, session: Session) -> None:
    response = admin.post("/integrations/x/connect", data={}, follow_redirects=False)
    assert response.status_code == 403
    assert attempts(session) == 0


def test_a_callback_without_a_state_is_a_message(admin: TestClient) -> None:
    assert callback(admin, "/integrations/x/callback?code=abc") == (
        "/integrations?x_error=state_unknown"
    )
