"""Instagram's two owner consents through the dashboard's generic routes, against the fake:
Instagram Login (code → one-hour token → 60-day token, renewed by ``ig_refresh_token``) and
Facebook Login (code → user token → 60-day token → the linked Page's token); the retired
scope names are never asked; refusals and renewals land where the generic flow puts them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openpost.app import create_app
from openpost.config import Settings
from openpost.consent.providers import all_consents
from openpost.consent.tokens import OwnerTokens
from openpost.core import clock
from openpost.core.crypto import Sealer
from openpost.core.db import make_sessionmaker
from openpost.integrations.models import Integration
from openpost.platforms.base import PermissionRequired
from openpost.platforms.instagram.client import FACEBOOK_LOGIN, INSTAGRAM_LOGIN
from openpost.platforms.instagram.fake import FakeAccount, FakeInstagram
from openpost.platforms.instagram.oauth import CONSENT, FACEBOOK_CONSENT, InstagramLogin
from openpost.platforms.instagram.spec import SPEC
from tests.builders import World
from tests.dashboard.conftest import Members, sign_in
from tests.refresh.conftest import Clock

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)
BASE = "https://analytics.example.com"
APP_ID, APP_SECRET = "1234567890", "meta-app-secret-value"
FAKE = "https://graph.fake.test"


@dataclass
class Setup:
    fake: FakeInstagram
    owner: FakeAccount
    settings: Settings
    clock: Clock


@pytest.fixture
def setup(settings: Settings) -> Iterator[Setup]:
    source = Clock(NOW)
    clock.set_clock(source)
    fake = FakeInstagram(now=source)
    owner = fake.add_account("openpost_ig", name="OpenPost IG", followers=10)
    fake.add_oauth_client(
        APP_ID,
        APP_SECRET,
        BASE + "/integrations/instagram/callback",
        BASE + "/integrations/instagram-facebook/callback",
    )
    fake.set_consent("approve", owner)
    configured = settings.model_copy(
        update={
            "public_base_url": BASE,
            "meta_app_id": APP_ID,
            "meta_app_secret": APP_SECRET,
            "instagram_oauth_authorize_url": FAKE + "/oauth/authorize",
            "facebook_oauth_authorize_url": FAKE + "/v25.0/dialog/oauth",
            "instagram_login_api_base_url": FAKE,
            "instagram_token_base_url": FAKE,
            "instagram_api_base_url": FAKE,
        }
    )
    yield Setup(fake, owner, configured, source)
    clock.set_clock(None)


@pytest.fixture
def admin(setup: Setup, engine: Engine, session: Session, members: Members) -> Iterator[TestClient]:
    app = create_app(setup.settings)
    app.state.owner_consents = {c.slug: c for c in (CONSENT, FACEBOOK_CONSENT)}
    app.state.platform_transports = {"instagram": setup.fake.transport()}
    with TestClient(app, raise_server_exceptions=False) as client:
        sign_in(client, session, members.a["admin"])
        yield client
    app.state.engine.dispose()


def round_trip(admin: TestClient, setup: Setup, slug: str) -> tuple[str, dict[str, list[str]]]:
    """Connect → the fake's consent page → the callback: where the dashboard sends us, and
    what the consent page was asked."""
    started = admin.get(f"/integrations/{slug}/connect", follow_redirects=False)
    assert started.status_code == 303, started.text
    consent_url = started.headers["location"]
    asked = parse_qs(urlsplit(consent_url).query)
    with httpx.Client(transport=setup.fake.transport()) as browser:
        answer = browser.get(consent_url)
    assert answer.status_code == 302, answer.text
    back = answer.headers["location"].removeprefix(BASE).split("#")[0]
    done = admin.get(back, follow_redirects=False)
    assert done.status_code == 303, done.text
    return done.headers["location"], asked


def integration(session: Session, world: World) -> Integration:
    session.expire_all()
    return session.scalars(
        select(Integration).where(
            Integration.workspace_id == world.a.workspace.id, Integration.platform == "instagram"
        )
    ).one()


def test_both_consents_are_offered_and_the_spec_is_configured(setup: Setup) -> None:
    consents = all_consents()
    assert consents["instagram"] is CONSENT
    assert consents["instagram-facebook"] is FACEBOOK_CONSENT
    assert SPEC.configured(setup.settings)
    assert not SPEC.configured(setup.settings.model_copy(update={"public_base_url": ""}))
    unset = setup.settings.model_copy(update={"meta_app_id": "", "meta_app_secret": ""})
    assert not SPEC.configured(unset)
    assert CONSENT.missing(unset) == ["OPENPOST_META_APP_ID", "OPENPOST_META_APP_SECRET"]


def test_instagram_login_connects_with_a_sixty_day_token(
    admin: TestClient, setup: Setup, session: Session, world: World
) -> None:
    where, asked = round_trip(admin, setup, "instagram")
    assert where == "/integrations?notice=instagram-connected"
    assert asked["scope"] == ["instagram_business_basic,instagram_business_manage_insights"]
    assert asked["client_id"] == [APP_ID]
    assert "code_challenge" not in asked
    row = integration(session, world)
    assert (row.external_account_id, row.username) == (setup.owner.id, "openpost_ig")
    sealed = Sealer(setup.settings.effective_secret_key).open(row.credentials_encrypted or "")
    assert sealed["kind"] == INSTAGRAM_LOGIN
    assert sealed["refresh_token"] is None
    token = setup.fake.tokens[sealed["access_token"]]
    assert token.kind == "ig_long"
    assert sealed["expires_at"] == "2026-06-15T09:59:04Z"  # 5,183,944 s: Meta's "60 days"
    assert [r.endpoint for r in setup.fake.requests] == ["authorize", "token", "long_lived", "node"]
    page = admin.get("/integrations?notice=instagram-connected")
    assert "Instagram account connected with its owner's consent" in page.text
    assert sealed["access_token"] not in page.text


@pytest.mark.parametrize("shape", ["data", "flat"])
def test_both_token_answer_shapes_are_read(setup: Setup, shape: str) -> None:
    setup.fake.oauth.token_shape = shape  # type: ignore[assignment]
    with httpx.Client(transport=setup.fake.transport()) as browser:
        answer = browser.get(
            FAKE + "/oauth/authorize",
            params={
                "client_id": APP_ID,
                "redirect_uri": BASE + "/integrations/instagram/callback",
                "response_type": "code",
                "scope": "instagram_business_basic",
            },
        )
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    with InstagramLogin(setup.settings, setup.fake.transport()) as login:
        tokens = login.exchange_code(
            code + "#_", verifier=None, redirect_uri=BASE + "/integrations/instagram/callback",
            now=NOW,
        )  # fmt: skip
        assert setup.fake.tokens[tokens.access_token].kind == "ig_short"
        assert tokens.expires_at == NOW + timedelta(hours=1)
        assert tokens.scope == "instagram_business_basic"
        account = login.identify(tokens.access_token)
    assert account.external_account_id == setup.owner.id  # a number past 2**53, kept exact
    assert int(account.external_account_id) > 2**53


def test_the_retired_scope_names_are_refused_by_the_consent_page(setup: Setup) -> None:
    with httpx.Client(transport=setup.fake.transport()) as browser:
        answer = browser.get(
            FAKE + "/oauth/authorize",
            params={
                "client_id": APP_ID,
                "redirect_uri": BASE + "/integrations/instagram/callback",
                "response_type": "code",
                "scope": "business_basic,business_manage_insights",
            },
        )
    assert answer.status_code == 400


def test_a_refused_consent_and_a_used_code_are_said_plainly(
    admin: TestClient, setup: Setup
) -> None:
    setup.fake.set_consent("deny", setup.owner)
    where, _ = round_trip(admin, setup, "instagram")
    assert where == "/integrations?instagram_error=denied"
    setup.fake.set_consent("approve", setup.owner)
    setup.fake.inject("transient", endpoint="token")
    where, _ = round_trip(admin, setup, "instagram")
    assert where == "/integrations?instagram_error=instagram_unavailable"


def test_facebook_login_keeps_the_linked_pages_token(
    admin: TestClient, setup: Setup, session: Session, world: World
) -> None:
    where, asked = round_trip(admin, setup, "instagram-facebook")
    assert where == "/integrations?notice=instagram-facebook-connected"
    assert asked["scope"] == [
        "instagram_basic,instagram_manage_insights,pages_show_list,pages_read_engagement"
    ]
    row = integration(session, world)
    assert row.external_account_id == setup.owner.id
    sealed = Sealer(setup.settings.effective_secret_key).open(row.credentials_encrypted or "")
    assert sealed["kind"] == FACEBOOK_LOGIN
    assert sealed["expires_at"] is None  # a Page token does not expire
    assert setup.fake.tokens[sealed["access_token"]].kind == "page"
    assert [r.endpoint for r in setup.fake.requests] == [
        "fb_authorize", "fb_token", "fb_token", "accounts", "node", "node",
    ]  # fmt: skip
    page = admin.get("/integrations")
    assert "Connect Instagram (Facebook Login) with the owner's consent" in page.text


def _connected(session: Session, setup: Setup, world: World, token: str) -> Integration:
    row = Integration(
        workspace_id=world.a.workspace.id,
        platform="instagram",
        external_account_id=setup.owner.id,
        username=setup.owner.username,
        display_name=setup.owner.name,
    )
    session.add(row)
    session.flush()
    expires = setup.fake.tokens[token].expires_at
    assert expires is not None
    row.credentials_encrypted = Sealer(setup.settings.effective_secret_key).seal(
        {
            "kind": INSTAGRAM_LOGIN,
            "integration_id": str(row.id),
            "access_token": token,
            "refresh_token": None,
            "expires_at": expires.isoformat(),
            "scope": ",".join(CONSENT.scopes),
        }
    )
    session.commit()
    return row


def test_the_long_lived_token_is_renewed_thirty_days_before_it_expires(
    setup: Setup, session: Session, world: World, engine: Engine
) -> None:
    token = setup.fake.issue_token(setup.owner)
    row = _connected(session, setup, world, token)
    tokens = OwnerTokens(
        make_sessionmaker(engine),
        setup.settings,
        consents=[CONSENT],
        transports={"instagram": setup.fake.transport()},
    )
    sealer = Sealer(setup.settings.effective_secret_key)
    credentials = sealer.open(row.credentials_encrypted or "")
    setup.clock.at = NOW + timedelta(days=20)  # 40 days left: kept
    assert tokens(credentials, force=False) is credentials
    setup.clock.at = NOW + timedelta(days=31)
    renewed = tokens(credentials, force=False)
    assert renewed["access_token"] != token
    assert setup.fake.tokens[renewed["access_token"]].kind == "ig_long"
    assert [r.endpoint for r in setup.fake.requests] == ["refresh"]
    session.expire_all()
    assert sealer.open(session.get(Integration, row.id).credentials_encrypted or "") == renewed  # type: ignore[union-attr]


def test_a_dead_token_cannot_be_renewed_and_needs_a_new_consent(
    setup: Setup, session: Session, world: World, engine: Engine
) -> None:
    token = setup.fake.issue_token(setup.owner, lifetime=timedelta(days=10))
    row = _connected(session, setup, world, token)
    tokens = OwnerTokens(
        make_sessionmaker(engine),
        setup.settings,
        consents=[CONSENT],
        transports={"instagram": setup.fake.transport()},
    )
    credentials = Sealer(setup.settings.effective_secret_key).open(row.credentials_encrypted or "")
    setup.clock.at = NOW + timedelta(days=11)  # expired at Instagram: no refresh is possible
    with pytest.raises(PermissionRequired) as refused:
        tokens(credentials, force=False)
    assert refused.value.code == "instagram_token_refused"
