"""Pinterest's OAuth side: the fake's consent page and Basic-auth token endpoint, and
``PinterestOAuth`` against it: code exchange, continuous refresh (a new refresh token and
expiry every time, the old one retired), a refresh token past its 60 days refused without a
call, apps from before 2025-09-25 sending ``continuous_refresh=true``, and no secret in any
message."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from openpost.config import Settings
from openpost.platforms.consent import ClientRejected, TokenRefused, TokenSet
from openpost.platforms.pinterest.fake import FakePinterest, FakeUser
from openpost.platforms.pinterest.oauth import CONSENT, SCOPES, PinterestOAuth
from tests.platforms.support import NOW, Clock

CLIENT_ID, SECRET = "pinterest-app-1", "pinterest-secret-value-1"
CALLBACK = "https://analytics.example.com/integrations/pinterest/callback"
FAKE = "https://api.pinterest.com"


@pytest.fixture
def fake(clock: Clock) -> FakePinterest:
    fake = FakePinterest(now=clock)
    fake.add_app(CLIENT_ID, SECRET, CALLBACK)
    return fake


@pytest.fixture
def owner(fake: FakePinterest) -> FakeUser:
    user = fake.add_user("openpost", business_name="OpenPost")
    fake.set_consent("approve", user)
    return user


def oauth_for(fake: FakePinterest, secret: str = SECRET, **kwargs: bool) -> PinterestOAuth:
    return PinterestOAuth(
        client_id=CLIENT_ID,
        client_secret=secret,
        base_url=FAKE,
        transport=fake.transport(),
        **kwargs,
    )


@pytest.fixture
def oauth(fake: FakePinterest) -> Iterator[PinterestOAuth]:
    with oauth_for(fake) as client:
        yield client


def consent_url(settings: Settings) -> str:
    configured = settings.model_copy(
        update={"pinterest_client_id": CLIENT_ID, "pinterest_client_secret": SECRET}
    )
    return CONSENT.authorize_url(configured, redirect_uri=CALLBACK, state="s-1", challenge=None)


def code_from(fake: FakePinterest, url: str) -> str:
    parts = urlsplit(url)
    with httpx.Client(transport=fake.transport()) as browser:
        answer = browser.get(f"https://www.pinterest.com{parts.path}?{parts.query}")
    assert answer.status_code == 302, answer.text
    back = parse_qs(urlsplit(answer.headers["location"]).query)
    assert back["state"] == ["s-1"]
    return back["code"][0]


def test_the_consent_url_is_pinterests(settings: Settings) -> None:
    url = consent_url(settings)
    assert url.startswith("https://www.pinterest.com/oauth/?")
    query = parse_qs(urlsplit(url).query)
    assert query["scope"] == [",".join(SCOPES)]
    assert query["response_type"] == ["code"]
    assert (query["client_id"], query["redirect_uri"]) == ([CLIENT_ID], [CALLBACK])
    assert "code_challenge" not in query  # no PKCE


def test_code_exchange_gives_continuous_tokens(
    fake: FakePinterest, owner: FakeUser, oauth: PinterestOAuth, settings: Settings
) -> None:
    code = code_from(fake, consent_url(settings))
    tokens = oauth.exchange_code(code, verifier=None, redirect_uri=CALLBACK, now=NOW)
    assert tokens.refresh_token
    assert tokens.expires_at == NOW + timedelta(days=30)
    assert tokens.refresh_expires_at == NOW + timedelta(days=60)
    assert tokens.scope == "boards:read,pins:read,user_accounts:read"
    assert oauth.identify(tokens.access_token).external_account_id == owner.id
    with pytest.raises(TokenRefused):  # a code works once
        oauth.exchange_code(code, verifier=None, redirect_uri=CALLBACK, now=NOW)


def test_a_wrong_secret_is_the_operators_to_fix(
    fake: FakePinterest, owner: FakeUser, settings: Settings
) -> None:
    code = code_from(fake, consent_url(settings))
    with oauth_for(fake, secret="wrong") as wrong, pytest.raises(ClientRejected) as caught:
        wrong.exchange_code(code, verifier=None, redirect_uri=CALLBACK, now=NOW)
    assert "wrong" not in caught.value.message
    assert SECRET not in caught.value.message
    assert fake.calls("oauth_token")[-1].status == 401


def test_each_refresh_returns_a_new_refresh_token_and_retires_the_old(
    fake: FakePinterest, owner: FakeUser, oauth: PinterestOAuth, clock: Clock
) -> None:
    issued = fake.issue_tokens(owner, client_id=CLIENT_ID)
    clock.now = NOW + timedelta(days=20)
    renewed = oauth.refresh(issued["refresh_token"], now=clock.now)
    assert renewed.refresh_token not in (None, issued["refresh_token"])
    assert renewed.refresh_expires_at == clock.now + timedelta(days=60)  # continuous
    with pytest.raises(TokenRefused):
        oauth.refresh(issued["refresh_token"], now=clock.now)
    assert oauth.identify(renewed.access_token).username == "openpost"


def test_a_refresh_token_past_its_expiry_is_refused_without_a_call(
    fake: FakePinterest, owner: FakeUser, oauth: PinterestOAuth
) -> None:
    issued = fake.issue_tokens(owner, client_id=CLIENT_ID)
    stored = TokenSet(
        access_token=issued["access_token"],
        refresh_token=issued["refresh_token"],
        expires_at=NOW,
        scope="pins:read",
        refresh_expires_at=NOW + timedelta(days=60),
    )
    later = NOW + timedelta(days=61)
    with pytest.raises(TokenRefused) as caught:
        oauth.renew(stored, now=later)
    assert caught.value.code == "pinterest_refresh_expired"
    assert fake.calls("oauth_token") == []
    assert oauth.renew(stored, now=NOW + timedelta(days=59)).refresh_token


def test_an_old_app_sends_continuous_refresh(fake: FakePinterest, owner: FakeUser) -> None:
    fake.oauth.legacy_app = True
    issued = fake.issue_tokens(owner, client_id=CLIENT_ID)
    with oauth_for(fake) as plain, pytest.raises(TokenRefused):
        plain.refresh(issued["refresh_token"], now=NOW)
    issued = fake.issue_tokens(owner, client_id=CLIENT_ID)
    with oauth_for(fake, continuous_refresh=True) as continuous:
        assert continuous.refresh(issued["refresh_token"], now=NOW).refresh_token
    assert fake.calls("oauth_token")[-1].params["continuous_refresh"] == "true"


def test_the_consent_page_lists_its_test_users_and_denies(
    fake: FakePinterest, settings: Settings
) -> None:
    fake.add_user("alice")
    fake.add_user("bob")
    url = consent_url(settings)
    parts = urlsplit(url)
    with httpx.Client(transport=fake.transport()) as browser:
        page = browser.get(f"https://www.pinterest.com{parts.path}?{parts.query}")
        assert page.status_code == 200
        assert "Give access as alice" in page.text
        assert "Give access as bob" in page.text
        chosen = browser.get(f"https://www.pinterest.com{parts.path}?{parts.query}&user=bob")
        assert chosen.status_code == 302
        assert "code=" in chosen.headers["location"]
        fake.set_consent("deny")
        denied = browser.get(f"https://www.pinterest.com{parts.path}?{parts.query}")
        assert "error=access_denied" in denied.headers["location"]
        unknown = browser.get("https://www.pinterest.com/oauth/?client_id=nobody")
        assert unknown.status_code == 400
