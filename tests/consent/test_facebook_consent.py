"""Facebook's consent through the dashboard (the fake in-process, playing Facebook and the
browser): one consent connects several Pages (``ManyAccounts``), no Page granted is a clear
failure, a refused consent says so, and a Page that needs a refresh is made active again by
a new consent, with its new Page token, on the same integration."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openpost.app import create_app
from openpost.config import Settings
from openpost.consent.tokens import OwnerTokens
from openpost.core import clock
from openpost.core.crypto import Sealer
from openpost.core.db import make_sessionmaker
from openpost.integrations.models import Integration
from openpost.platforms.consent import TokenRefused
from openpost.platforms.facebook.fake import (
    DEFAULT_APP_ID,
    DEFAULT_APP_SECRET,
    FakeFacebook,
    FakePage,
    FakeUser,
)
from tests.builders import World
from tests.dashboard.conftest import Members, page_csrf, sign_in
from tests.refresh.conftest import Clock

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)
BASE = "https://analytics.example.com"
GRAPH = "http://fake-graph.test"


@dataclass
class Setup:
    fake: FakeFacebook
    owner: FakeUser
    pages: list[FakePage]
    settings: Settings


@pytest.fixture
def setup(settings: Settings) -> Iterator[Setup]:
    clock.set_clock(Clock(NOW))
    fake = FakeFacebook()
    owner = fake.add_user("Pat Owner")
    pages = [fake.add_page(owner, "Shop", username="shop"), fake.add_page(owner, "Cafe")]
    fake.oauth.consenting = owner
    fake.oauth.redirect_uris.add(BASE + "/integrations/facebook/callback")
    configured = settings.model_copy(
        update={
            "public_base_url": BASE,
            "facebook_client_id": DEFAULT_APP_ID,
            "facebook_client_secret": DEFAULT_APP_SECRET,
            "facebook_api_base_url": GRAPH,
            "facebook_oauth_authorize_url": GRAPH + "/v25.0/dialog/oauth",
        }
    )
    yield Setup(fake, owner, pages, configured)
    clock.set_clock(None)


@pytest.fixture
def admin(setup: Setup, engine: Engine, session: Session, members: Members) -> Iterator[TestClient]:
    app = create_app(setup.settings)
    app.state.platform_transports = {"facebook": setup.fake.transport()}
    with TestClient(app, raise_server_exceptions=False) as client:
        sign_in(client, session, members.a["admin"])
        yield client
    app.state.engine.dispose()


def consent(client: TestClient, fake: FakeFacebook) -> str:
    """Press the connect button, pass Facebook's dialog, follow the callback."""
    pressed = client.post(
        "/integrations/facebook/connect",
        data={"csrf_token": page_csrf(client, "/integrations")},
        follow_redirects=False,
    )
    assert pressed.status_code == 303, pressed.text
    parts = urlsplit(pressed.headers["location"])
    with httpx.Client(transport=fake.transport()) as browser:
        answer = browser.get(f"{GRAPH}{parts.path}?{parts.query}")
    assert answer.status_code == 302, answer.text
    back = answer.headers["location"].removeprefix(BASE).split("#", 1)[0]
    landed = client.get(back, follow_redirects=False)
    assert landed.status_code == 303, landed.text
    return str(landed.headers["location"])


def pages_of(session: Session, world: World) -> dict[str, Integration]:
    session.expire_all()
    rows = session.scalars(
        select(Integration).where(
            Integration.workspace_id == world.a.workspace.id, Integration.platform == "facebook"
        )
    )
    return {row.external_account_id: row for row in rows}


def test_one_consent_connects_each_granted_page(
    admin: TestClient, session: Session, world: World, setup: Setup
) -> None:
    assert consent(admin, setup.fake) == "/integrations?notice=facebook-connected"
    connected = pages_of(session, world)
    assert set(connected) == {p.id for p in setup.pages}
    sealer = Sealer(setup.settings.effective_secret_key)
    tokens = set()
    for page in setup.pages:
        row = connected[page.id]
        assert row.display_name == page.name
        assert row.credentials_encrypted is not None
        sealed = sealer.open(row.credentials_encrypted)
        assert sealed["integration_id"] == str(row.id)
        assert setup.fake.tokens[sealed["access_token"]].page_id == page.id
        tokens.add(sealed["access_token"])
    assert len(tokens) == 2  # each Page its own token
    page = admin.get("/integrations?notice=facebook-connected")
    assert "Facebook account connected with its owner's consent" in page.text


def test_no_page_granted_connects_nothing_and_says_why(
    admin: TestClient, session: Session, world: World, setup: Setup
) -> None:
    setup.fake.oauth.granted = []
    landed = consent(admin, setup.fake)
    assert landed == "/integrations?facebook_error=facebook_no_accounts"
    assert pages_of(session, world) == {}
    assert "gave access to no account" in admin.get(landed).text


def test_a_refused_consent_connects_nothing(
    admin: TestClient, session: Session, world: World, setup: Setup
) -> None:
    setup.fake.oauth.consent = "deny"
    assert consent(admin, setup.fake) == "/integrations?facebook_error=denied"
    assert pages_of(session, world) == {}


def test_a_new_consent_revives_a_page_that_needs_a_refresh(
    admin: TestClient, session: Session, world: World, setup: Setup
) -> None:
    consent(admin, setup.fake)
    shop = pages_of(session, world)[setup.pages[0].id]
    shop.status = "needs_refresh"
    old = shop.credentials_encrypted
    session.commit()
    setup.fake.kill_tokens(setup.owner, subcode=460)  # the password changed
    assert consent(admin, setup.fake) == "/integrations?notice=facebook-attached"
    again = pages_of(session, world)
    assert len(again) == 2  # the same integrations, not new ones
    assert again[setup.pages[0].id].id == shop.id
    assert again[setup.pages[0].id].status == "active"
    assert again[setup.pages[0].id].credentials_encrypted != old


def test_page_tokens_are_never_renewed_and_a_forced_renewal_is_refused(
    admin: TestClient, session: Session, world: World, setup: Setup, engine: Engine
) -> None:
    consent(admin, setup.fake)
    row = pages_of(session, world)[setup.pages[0].id]
    assert row.credentials_encrypted is not None
    stored = Sealer(setup.settings.effective_secret_key).open(row.credentials_encrypted)
    source = OwnerTokens(
        make_sessionmaker(engine),
        setup.settings,
        transports={"facebook": setup.fake.transport()},
    )
    sent = len(setup.fake.requests)
    assert source(stored, force=False) == stored  # no expiry: used as it is
    with pytest.raises(TokenRefused):
        source(stored, force=True)  # there is no refresh: only a new consent helps
    assert len(setup.fake.requests) == sent
