"""TikTok's Login Kit v2: the fake's consent page and token endpoint, and ``TikTokOAuth``
against it. The fake checks what TikTok checks (registered client key and exact redirect
URI, the PKCE verifier, single-use codes, rotating refresh tokens with a 180-day life,
sandbox target users); the client turns each refusal into the right error and never puts a
secret into a message."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from openpost.config import Settings
from openpost.platforms.consent import ClientRejected, TokenRefused
from openpost.platforms.tiktok.fake import FakeTikTok, FakeUser
from openpost.platforms.tiktok.fake_oauth import s256
from openpost.platforms.tiktok.oauth import CONSENT, SCOPES, TikTokOAuth
from openpost.platforms.tiktok.spec import SPEC
from tests.platforms.support import NOW, Clock

KEY, SECRET = "tiktok-key-1", "tiktok-secret-1"
CALLBACK = "https://analytics.example.com/integrations/tiktok/callback"
VERIFIER = "v" * 64
BASE = "https://open.tiktokapis.test"


@pytest.fixture
def fake(frozen_clock: Clock) -> FakeTikTok:
    return FakeTikTok(now=frozen_clock)


@pytest.fixture
def owner(fake: FakeTikTok) -> FakeUser:
    user = fake.add_user("openpost", display_name="OpenPost")
    fake.add_oauth_client(KEY, SECRET, CALLBACK)
    fake.set_consent("approve", user)
    return user


@pytest.fixture
def oauth(fake: FakeTikTok) -> Iterator[TikTokOAuth]:
    with TikTokOAuth(
        client_key=KEY, client_secret=SECRET, base_url=BASE, transport=fake.transport()
    ) as client:
        yield client


def consent(fake: FakeTikTok, **overrides: str) -> httpx.Response:
    params = {
        "client_key": KEY,
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": ",".join(SCOPES),
        "state": "state-1",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
        **overrides,
    }
    with httpx.Client(base_url="https://www.tiktok.com", transport=fake.transport()) as browser:
        return browser.get("/v2/auth/authorize/", params=params)


def back(response: httpx.Response) -> dict[str, list[str]]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(CALLBACK + "?")
    return parse_qs(urlsplit(location).query)


def code_of(response: httpx.Response) -> str:
    query = back(response)
    assert query["state"] == ["state-1"]
    return query["code"][0]


def test_the_consent_url_names_the_client_key_comma_scopes_and_the_challenge() -> None:
    settings = Settings(
        env="test",
        tiktok_client_id=KEY,
        tiktok_client_secret=SECRET,
        public_base_url="https://analytics.example.com",
    )
    url = CONSENT.authorize_url(
        settings, redirect_uri=CALLBACK, state="s", challenge=s256(VERIFIER)
    )
    assert url.startswith("https://www.tiktok.com/v2/auth/authorize/?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["client_key"] == KEY
    assert "client_id" not in query
    assert query["scope"] == "user.info.basic,user.info.profile,user.info.stats,video.list"
    assert (query["code_challenge"], query["code_challenge_method"]) == (s256(VERIFIER), "S256")
    assert SPEC.configured(settings)
    assert not SPEC.configured(settings.model_copy(update={"public_base_url": ""}))
    assert not SPEC.configured(Settings(env="test"))


def test_exchange_gives_two_hour_tokens_and_a_180_day_refresh_token(
    fake: FakeTikTok, owner: FakeUser, oauth: TikTokOAuth
) -> None:
    tokens = oauth.exchange_code(
        code_of(consent(fake)), verifier=VERIFIER, redirect_uri=CALLBACK, now=NOW
    )
    assert tokens.expires_at == NOW + timedelta(hours=2)
    assert tokens.refresh_expires_at == NOW + timedelta(days=180)
    assert tokens.refresh_token
    assert tokens.refresh_token.startswith("rft.")
    assert tokens.scope == ",".join(SCOPES)
    assert tokens.access_token not in repr(tokens)
    account = oauth.identify(tokens.access_token)
    assert (account.external_account_id, account.username, account.display_name) == (
        owner.open_id,
        "openpost",
        "OpenPost",
    )
    (token_call,) = fake.calls("oauth_token")
    assert token_call.params == {"grant_type": "authorization_code"}  # no secret logged


def test_a_wrong_or_missing_verifier_and_a_reused_code_are_refused(
    fake: FakeTikTok, owner: FakeUser, oauth: TikTokOAuth
) -> None:
    code = code_of(consent(fake))
    with pytest.raises(TokenRefused):
        oauth.exchange_code(code, verifier="w" * 64, redirect_uri=CALLBACK, now=NOW)
    with pytest.raises(TokenRefused):  # the failed attempt burnt the code
        oauth.exchange_code(code, verifier=VERIFIER, redirect_uri=CALLBACK, now=NOW)
    other = code_of(consent(fake))
    with pytest.raises(TokenRefused):
        oauth.exchange_code(other, verifier=None, redirect_uri=CALLBACK, now=NOW)


def test_an_expired_code_is_refused(
    fake: FakeTikTok, owner: FakeUser, oauth: TikTokOAuth, frozen_clock: Clock
) -> None:
    code = code_of(consent(fake))
    frozen_clock.now += timedelta(minutes=6)
    with pytest.raises(TokenRefused) as refused:
        oauth.exchange_code(code, verifier=VERIFIER, redirect_uri=CALLBACK, now=NOW)
    assert code not in refused.value.message


def test_every_refresh_rotates_and_the_old_refresh_token_dies(
    fake: FakeTikTok, owner: FakeUser, oauth: TikTokOAuth
) -> None:
    first = oauth.exchange_code(
        code_of(consent(fake)), verifier=VERIFIER, redirect_uri=CALLBACK, now=NOW
    )
    assert first.refresh_token is not None
    second = oauth.renew(first, now=NOW)
    assert second.refresh_token not in (None, first.refresh_token)
    assert second.access_token != first.access_token
    with pytest.raises(TokenRefused) as refused:
        oauth.renew(first, now=NOW)  # the rotated-away one
    assert refused.value.code == "tiktok_token_refused"
    assert first.refresh_token not in refused.value.message
    assert oauth.renew(second, now=NOW).refresh_token  # the newest still works


def test_a_refresh_token_past_180_days_is_refused_by_tiktok(
    fake: FakeTikTok, owner: FakeUser, oauth: TikTokOAuth, frozen_clock: Clock
) -> None:
    tokens = oauth.exchange_code(
        code_of(consent(fake)), verifier=VERIFIER, redirect_uri=CALLBACK, now=NOW
    )
    assert tokens.refresh_token is not None
    frozen_clock.now += timedelta(days=180, seconds=1)
    with pytest.raises(TokenRefused):
        oauth.refresh(tokens.refresh_token, now=frozen_clock.now)
    assert [r.status for r in fake.calls("oauth_token")] == [200, 400]


def test_a_wrong_secret_is_the_operators_problem(fake: FakeTikTok, owner: FakeUser) -> None:
    code = code_of(consent(fake))
    with (
        TikTokOAuth(
            client_key=KEY, client_secret="wrong", base_url=BASE, transport=fake.transport()
        ) as wrong,
        pytest.raises(ClientRejected) as rejected,
    ):
        wrong.exchange_code(code, verifier=VERIFIER, redirect_uri=CALLBACK, now=NOW)
    assert rejected.value.code == "tiktok_oauth_client"
    assert "wrong" not in rejected.value.message
    with (
        TikTokOAuth(client_key="", client_secret="", base_url=BASE) as unset,
        pytest.raises(ClientRejected),
    ):
        unset.refresh("rft.x", now=NOW)


def test_the_consent_page_refuses_what_tiktok_refuses(fake: FakeTikTok, owner: FakeUser) -> None:
    assert consent(fake, redirect_uri="https://evil.example/cb").status_code == 400
    assert "location" not in consent(fake, client_key="unknown").headers
    assert back(consent(fake, code_challenge=""))["error"] == ["invalid_request"]
    assert back(consent(fake, scope="user.info.basic,everything"))["error"] == ["invalid_scope"]
    assert back(consent(fake, response_type="token"))["error"] == ["unsupported_response_type"]
    fake.set_consent("deny")
    assert back(consent(fake))["error"] == ["access_denied"]


def test_a_sandbox_app_lets_only_its_target_users_consent(fake: FakeTikTok) -> None:
    invited = fake.add_user("invited_creator")
    stranger = fake.add_user("stranger")
    fake.add_oauth_client(KEY, SECRET, CALLBACK, sandbox=True, target_users=(invited,))
    fake.set_consent("approve", stranger)
    assert back(consent(fake))["error"] == ["access_denied"]
    fake.set_consent("approve", invited)
    assert "code" in back(consent(fake))

    fake.set_consent("ask")
    page = consent(fake)
    assert page.status_code == 200
    assert "@invited_creator" in page.text
    assert "@stranger" not in page.text


def test_revoking_kills_the_users_tokens(
    fake: FakeTikTok, owner: FakeUser, oauth: TikTokOAuth
) -> None:
    tokens = oauth.exchange_code(
        code_of(consent(fake)), verifier=VERIFIER, redirect_uri=CALLBACK, now=NOW
    )
    with httpx.Client(base_url=BASE, transport=fake.transport()) as http:
        revoked = http.post(
            "/v2/oauth/revoke/",
            data={"client_key": KEY, "client_secret": SECRET, "token": tokens.access_token},
        )
        assert revoked.status_code == 200
        info = http.get(
            "/v2/user/info/?fields=open_id",
            headers={"Authorization": f"Bearer {tokens.access_token}"},
        )
    assert info.json()["error"]["code"] == "access_token_invalid"
    with pytest.raises(TokenRefused):
        oauth.renew(tokens, now=NOW)
