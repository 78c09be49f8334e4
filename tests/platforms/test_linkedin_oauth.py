"""LinkedIn's consent against the fake: the consent URL, the token endpoint on its own host,
refusals, and what ``configured`` needs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from openpost.config import Settings
from openpost.platforms.consent import ClientRejected, TokenRefused
from openpost.platforms.linkedin.fake import FakeLinkedIn
from openpost.platforms.linkedin.oauth import CONSENT, SCOPES, LinkedInOAuth, configured
from openpost.platforms.specs import SPECS
from tests.platforms.support import Clock

CALLBACK = "https://op.test/integrations/linkedin/callback"
TOKEN_URL = "https://www.linkedin.com/oauth/v2/accessToken"


@pytest.fixture
def fake(frozen_clock: Clock) -> FakeLinkedIn:
    fake = FakeLinkedIn(now=frozen_clock)
    fake.add_oauth_client("cid", "secret", CALLBACK)
    ada = fake.add_member("Ada", "Admin")
    fake.add_organization("Acme", admin=ada)
    fake.set_consent("approve", ada)
    return fake


def oauth_for(fake: FakeLinkedIn, secret: str = "secret") -> LinkedInOAuth:  # noqa: S107
    return LinkedInOAuth(
        client_id="cid",
        client_secret=secret,
        token_url=TOKEN_URL,
        api_base_url="https://api.linkedin.com",
        version="202604",
        transport=fake.transport(),
    )


@pytest.fixture
def oauth(fake: FakeLinkedIn) -> Iterator[LinkedInOAuth]:
    client = oauth_for(fake)
    yield client
    client.close()


def consent_code(fake: FakeLinkedIn, settings: Settings, *, scopes: str | None = None) -> str:
    url = CONSENT.authorize_url(settings, redirect_uri=CALLBACK, state="s1", challenge=None)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if scopes is not None:
        query["scope"] = [scopes]
    with httpx.Client(transport=fake.transport()) as browser:
        back = browser.get(
            "https://www.linkedin.com/oauth/v2/authorization",
            params={k: v[0] for k, v in query.items()},
        )
    assert back.status_code == 302
    answer = parse_qs(urlsplit(back.headers["location"]).query)
    assert answer["state"] == ["s1"]
    return answer.get("code", answer.get("error", [""]))[0]


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "linkedin_client_id": "cid",
            "linkedin_client_secret": "secret",
            "public_base_url": "https://op.test",
        }
    )


def test_configured_needs_the_app_and_the_public_address(
    settings: Settings, app_settings: Settings
) -> None:
    assert not configured(settings)
    assert configured(app_settings)
    assert not configured(app_settings.model_copy(update={"public_base_url": ""}))
    assert SPECS["linkedin"].live
    assert SPECS["linkedin"].consent is CONSENT


def test_the_consent_url_asks_the_scopes_without_pkce(app_settings: Settings) -> None:
    url = CONSENT.authorize_url(app_settings, redirect_uri=CALLBACK, state="s", challenge=None)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith("https://www.linkedin.com/oauth/v2/authorization?")
    assert query["scope"] == [" ".join(SCOPES)]
    assert "code_challenge" not in query
    assert query["client_id"] == ["cid"]


def test_the_code_gives_sixty_days_and_a_consent_of_a_year(
    fake: FakeLinkedIn, oauth: LinkedInOAuth, app_settings: Settings, frozen_clock: Clock
) -> None:
    code = consent_code(fake, app_settings)
    tokens = oauth.exchange_code(code, verifier=None, redirect_uri=CALLBACK, now=frozen_clock())
    assert tokens.expires_at == frozen_clock() + timedelta(days=60)
    assert tokens.refresh_expires_at == frozen_clock() + timedelta(days=365)
    assert tokens.refresh_token
    assert "secret" not in repr(oauth)
    (logged,) = fake.calls("access_token")
    assert logged.params == {"grant_type": "authorization_code"}  # no code nor token kept
    with pytest.raises(TokenRefused):  # a code is used once
        oauth.exchange_code(code, verifier=None, redirect_uri=CALLBACK, now=frozen_clock())


def test_a_wrong_secret_is_the_operators_and_a_revoked_consent_the_owners(
    fake: FakeLinkedIn, oauth: LinkedInOAuth, app_settings: Settings, frozen_clock: Clock
) -> None:
    code = consent_code(fake, app_settings)
    wrong = oauth_for(fake, secret="nope")
    with pytest.raises(ClientRejected):
        wrong.exchange_code(code, verifier=None, redirect_uri=CALLBACK, now=frozen_clock())
    wrong.close()
    code = consent_code(fake, app_settings)
    tokens = oauth.exchange_code(code, verifier=None, redirect_uri=CALLBACK, now=frozen_clock())
    fake.revoke(next(iter(fake.members.values())))
    with pytest.raises(TokenRefused):
        oauth.renew(tokens, now=frozen_clock())


def test_the_consent_page_refuses_scopes_the_app_lacks_and_says_a_refusal(
    fake: FakeLinkedIn, app_settings: Settings
) -> None:
    assert consent_code(fake, app_settings, scopes="r_member_social") == "unauthorized_scope_error"
    fake.set_consent("deny")
    assert consent_code(fake, app_settings) == "user_cancelled_authorize"
