"""X's OAuth 2.0 side: the fake's consent page and token endpoint, and ``XOAuth`` against it.

The fake checks what X checks (registered callback, Basic client authentication, the PKCE
verifier, single-use codes and refresh tokens, two-hour access tokens); the client must turn
each refusal into the right error, and never put a secret in a message.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from openpost.platforms.base import PermissionRequired, PlatformError, TransientError
from openpost.platforms.x.client import XClient
from openpost.platforms.x.fake import FakeAccount, FakeX
from openpost.platforms.x.fake_oauth import s256
from openpost.platforms.x.oauth import TokenRefused, XOAuth
from tests.platforms.support import NOW, Clock

CLIENT_ID, SECRET = "client-1", "client-secret-1"
CALLBACK = "https://analytics.example.com/integrations/x/callback"
VERIFIER = "v" * 50
SCOPE = "tweet.read users.read offline.access"


@pytest.fixture
def fake(clock: Clock) -> FakeX:
    fake = FakeX(now=clock)
    fake.add_oauth_client(CLIENT_ID, SECRET, CALLBACK)
    return fake


@pytest.fixture
def owner(fake: FakeX) -> FakeAccount:
    account = fake.add_account("openpost", name="OpenPost")
    fake.set_consent("approve", account)
    return account


@pytest.fixture
def oauth(fake: FakeX) -> Iterator[XOAuth]:
    with XOAuth(
        client_id=CLIENT_ID,
        client_secret=SECRET,
        base_url="https://api.x.com",
        transport=fake.transport(),
    ) as client:
        yield client


def consent(fake: FakeX, **overrides: str) -> httpx.Response:
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": CALLBACK,
        "scope": SCOPE,
        "state": "state-1",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
        **overrides,
    }
    with httpx.Client(base_url="https://x.com", transport=fake.transport()) as browser:
        return browser.get("/i/oauth2/authorize", params=params)


def code_of(response: httpx.Response) -> str:
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["state"] == ["state-1"]
    return query["code"][0]


def test_consent_redirects_back_with_code_and_state(fake: FakeX, owner: FakeAccount) -> None:
    response = consent(fake)
    location = response.headers["location"]
    assert location.startswith(CALLBACK + "?")
    assert code_of(response)


def test_denied_consent_redirects_with_access_denied(fake: FakeX, owner: FakeAccount) -> None:
    fake.set_consent("deny")
    query = parse_qs(urlsplit(consent(fake).headers["location"]).query)
    assert query == {"error": ["access_denied"], "state": ["state-1"]}


def test_an_unregistered_callback_is_never_redirected_to(fake: FakeX, owner: FakeAccount) -> None:
    response = consent(fake, redirect_uri="https://evil.example/cb")
    assert response.status_code == 400
    assert "location" not in response.headers


def test_exchange_gives_two_hour_tokens_and_me_names_the_owner(
    fake: FakeX, owner: FakeAccount, oauth: XOAuth
) -> None:
    tokens = oauth.exchange_code(
        code_of(consent(fake)), verifier=VERIFIER, redirect_uri=CALLBACK, now=NOW
    )
    assert tokens.expires_at == NOW + timedelta(hours=2)
    assert tokens.refresh_token
    assert tokens.scope == SCOPE
    account = oauth.me(tokens.access_token)
    assert (account.external_account_id, account.username) == (owner.id, "openpost")
    assert tokens.access_token not in repr(tokens)


def test_a_wrong_verifier_a_reused_code_and_an_expired_code_are_refused(
    fake: FakeX, owner: FakeAccount, oauth: XOAuth, clock: Clock
) -> None:
    code = code_of(consent(fake))
    with pytest.raises(TokenRefused):
        oauth.exchange_code(code, verifier="w" * 50, redirect_uri=CALLBACK, now=NOW)
    with pytest.raises(TokenRefused):  # the failed attempt burnt the code
        oauth.exchange_code(code, verifier=VERIFIER, redirect_uri=CALLBACK, now=NOW)
    good = code_of(consent(fake))
    oauth.exchange_code(good, verifier=VERIFIER, redirect_uri=CALLBACK, now=NOW)
    with pytest.raises(TokenRefused) as reused:
        oauth.exchange_code(good, verifier=VERIFIER, redirect_uri=CALLBACK, now=NOW)
    assert reused.value.code == "x_token_refused"
    assert good not in reused.value.message
    late = code_of(consent(fake))
    clock.now = NOW + timedelta(seconds=31)
    with pytest.raises(TokenRefused):
        oauth.exchange_code(late, verifier=VERIFIER, redirect_uri=CALLBACK, now=clock.now)


@pytest.mark.parametrize("error", ["invalid_request", "invalid_grant"])
def test_refresh_rotates_and_the_old_refresh_token_is_refused(
    fake: FakeX, owner: FakeAccount, oauth: XOAuth, error: str
) -> None:
    fake.oauth.refused_error = error
    issued = fake.issue_user_token(owner, client_id=CLIENT_ID, scope=SCOPE)
    renewed = oauth.refresh(issued["refresh_token"], now=NOW)
    assert renewed.refresh_token not in (None, issued["refresh_token"])
    assert renewed.access_token != issued["access_token"]
    with pytest.raises(TokenRefused):
        oauth.refresh(issued["refresh_token"], now=NOW)
    assert oauth.refresh(str(renewed.refresh_token), now=NOW).access_token
    [call] = [c for c in fake.calls("oauth2_token") if c.status == 400]
    assert call.params == {"grant_type": "refresh_token"}  # the log holds no token


def test_a_rejected_client_secret_is_the_operators_problem_not_the_owners(
    fake: FakeX, owner: FakeAccount
) -> None:
    issued = fake.issue_user_token(owner, client_id=CLIENT_ID, scope=SCOPE)
    with (
        XOAuth(
            client_id=CLIENT_ID,
            client_secret="wrong-secret",
            base_url="https://api.x.com",
            transport=fake.transport(),
        ) as wrong,
        pytest.raises(PlatformError) as caught,
    ):
        wrong.refresh(issued["refresh_token"], now=NOW)
    assert not isinstance(caught.value, PermissionRequired)
    assert caught.value.code == "x_oauth_client"
    assert "wrong-secret" not in caught.value.message
    assert "wrong-secret" not in repr(wrong)


def test_token_endpoint_outage_is_transient(fake: FakeX, owner: FakeAccount, oauth: XOAuth) -> None:
    fake.inject("server_error", endpoint="oauth2_token")
    with pytest.raises(TransientError):
        oauth.refresh("anything", now=NOW)


def test_user_tokens_expire_after_two_hours_at_the_fake(
    fake: FakeX, owner: FakeAccount, clock: Clock
) -> None:
    issued = fake.issue_user_token(owner, client_id=CLIENT_ID, scope=SCOPE)
    post = fake.add_post(owner, created_at=NOW - timedelta(days=1), impressions=5)
    client = XClient(bearer_token="", base_url="https://api.x.com", transport=fake.transport())
    with client:
        credentials = {"access_token": issued["access_token"]}
        assert post.id in client.fetch_metrics([post.id], credentials=credentials).readings
        clock.now = NOW + timedelta(hours=2)
        with pytest.raises(PermissionRequired) as caught:
            client.fetch_metrics([post.id], credentials=credentials)
    assert caught.value.code == "x_user_unauthorized"


def test_the_client_refreshes_near_expiry_and_retries_once_after_a_401(
    fake: FakeX, owner: FakeAccount
) -> None:
    """The X client asks its token source before a user read (``force`` after a 401)."""
    post = fake.add_post(owner, created_at=NOW - timedelta(days=1), impressions=5)
    first = fake.issue_user_token(owner, client_id=CLIENT_ID, scope=SCOPE)
    second = fake.issue_user_token(owner, client_id=CLIENT_ID, scope=SCOPE)
    asked: list[bool] = []

    def source(credentials: dict[str, object], *, force: bool) -> dict[str, object]:
        asked.append(force)
        return {**credentials, "access_token": second["access_token"]} if force else credentials

    del fake.user_tokens[first["access_token"]]  # revoked at X: the next read is a 401
    client = XClient(
        bearer_token="",
        base_url="https://api.x.com",
        transport=fake.transport(),
        user_tokens=source,
    )
    with client:
        credentials = {"access_token": first["access_token"], "refresh_token": "r"}
        result = client.fetch_metrics([post.id], credentials=credentials)
    assert asked == [False, True]
    assert "non_public_metrics" in result.readings[post.id].platform_data
