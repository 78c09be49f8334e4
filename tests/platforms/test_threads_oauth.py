"""Threads' consent side: the fake's consent page and token endpoints, ``ThreadsOAuth``
against them, the app credentials (Threads' own, else the Meta app's) and the callback
refusals Threads sends before App Review."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from openpost.config import Settings
from openpost.platforms.consent import ClientRejected, TokenRefused
from openpost.platforms.threads.fake import FakeThreads, FakeUser
from openpost.platforms.threads.oauth import (
    CONSENT,
    LONG_LIFETIME,
    ThreadsOAuth,
    app_credentials,
    configured,
    refusal,
)
from tests.platforms.support import NOW, Clock

APP, SECRET = "threads-app-1", "threads-secret-1"
CALLBACK = "https://analytics.example.com/integrations/threads/callback"
FAKE = "https://graph.threads.test"


@pytest.fixture
def fake(clock: Clock) -> FakeThreads:
    fake = FakeThreads(now=clock)
    fake.add_app(APP, SECRET, CALLBACK)
    return fake


@pytest.fixture
def owner(fake: FakeThreads) -> FakeUser:
    user = fake.add_user("openpost", name="OpenPost")
    fake.set_consent("approve", user)
    return user


@pytest.fixture
def oauth(fake: FakeThreads) -> Iterator[ThreadsOAuth]:
    with ThreadsOAuth(
        client_id=APP, client_secret=SECRET, base_url=FAKE, transport=fake.transport()
    ) as client:
        yield client


def consent(fake: FakeThreads, **overrides: str) -> dict[str, list[str]]:
    """The browser at the consent page: the query it is sent back to the callback with."""
    params = {
        "client_id": APP,
        "redirect_uri": CALLBACK,
        "scope": "threads_basic,threads_manage_insights",
        "response_type": "code",
        "state": "s1",
    } | overrides
    with httpx.Client(transport=fake.transport(), base_url=FAKE) as browser:
        response = browser.get("/oauth/authorize", params=params)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(CALLBACK + "?")
    return parse_qs(urlsplit(location).query)


def test_code_to_long_lived_token_to_account(
    fake: FakeThreads, owner: FakeUser, oauth: ThreadsOAuth
) -> None:
    code = consent(fake)["code"][0]
    short = oauth.exchange_code(code, verifier=None, redirect_uri=CALLBACK, now=NOW)
    assert short.expires_at == NOW + timedelta(hours=1)
    long = oauth.long_lived(short, now=NOW)
    assert long.access_token != short.access_token
    assert long.refresh_token is None
    assert long.expires_at == NOW + timedelta(seconds=5_183_944)
    assert long.scope == "threads_basic,threads_manage_insights"
    account = oauth.identify(long.access_token)
    assert (account.external_account_id, account.username, account.display_name) == (
        owner.id,
        "openpost",
        "OpenPost",
    )
    assert int(owner.id) > 2**53  # exact as a string, never through a float


def test_the_big_user_id_of_the_code_exchange_is_read_as_digits(
    fake: FakeThreads, owner: FakeUser
) -> None:
    code = consent(fake)["code"][0]
    with httpx.Client(transport=fake.transport(), base_url=FAKE) as http:
        raw = http.post(
            "/oauth/access_token",
            data={
                "client_id": APP,
                "client_secret": SECRET,
                "code": code,
                "grant_type": "authorization_code",
                "redirect_uri": CALLBACK,
            },
        ).text
    assert f'"user_id":{owner.id}' in raw  # a JSON number, as Threads writes it


def test_a_used_code_is_refused(fake: FakeThreads, owner: FakeUser, oauth: ThreadsOAuth) -> None:
    code = consent(fake)["code"][0]
    oauth.exchange_code(code, verifier=None, redirect_uri=CALLBACK, now=NOW)
    with pytest.raises(TokenRefused) as caught:
        oauth.exchange_code(code, verifier=None, redirect_uri=CALLBACK, now=NOW)
    assert code not in caught.value.message


def test_a_wrong_secret_is_the_operators_to_fix(fake: FakeThreads, owner: FakeUser) -> None:
    code = consent(fake)["code"][0]
    with (
        ThreadsOAuth(
            client_id=APP, client_secret="wrong", base_url=FAKE, transport=fake.transport()
        ) as wrong,
        pytest.raises(ClientRejected) as caught,
    ):
        wrong.exchange_code(code, verifier=None, redirect_uri=CALLBACK, now=NOW)
    assert "wrong" not in caught.value.message
    with (
        ThreadsOAuth(client_id="", client_secret="", base_url=FAKE) as unset,
        pytest.raises(ClientRejected),
    ):
        unset.exchange_code("c", verifier=None, redirect_uri=CALLBACK, now=NOW)


def test_an_expired_code_is_refused(
    fake: FakeThreads, owner: FakeUser, oauth: ThreadsOAuth, clock: Clock
) -> None:
    code = consent(fake)["code"][0]
    clock.now = NOW + timedelta(hours=1)
    with pytest.raises(TokenRefused):
        oauth.exchange_code(code, verifier=None, redirect_uri=CALLBACK, now=NOW)


def test_the_consent_page_refusals_come_back_with_their_codes(
    fake: FakeThreads, owner: FakeUser
) -> None:
    outsider = fake.add_user("outsider", tester=False)
    fake.set_consent("approve", outsider)
    back = consent(fake)
    assert back["error_code"] == ["1349245"]
    assert refusal({k: v[0] for k, v in back.items()}) == "not_tester"
    fake.oauth.facebook_app_ids.add("facebook-app")
    back = consent(fake, client_id="facebook-app")
    assert refusal({k: v[0] for k, v in back.items()}) == "facebook_app_id"
    fake.set_consent("deny", owner)
    back = consent(fake)
    assert back["error"] == ["access_denied"]
    assert refusal({k: v[0] for k, v in back.items()}) is None  # the generic "denied"


def test_the_authorize_url_has_comma_scopes_and_no_pkce(settings: Settings) -> None:
    configured_settings = settings.model_copy(
        update={"threads_client_id": APP, "threads_client_secret": SECRET}
    )
    url = CONSENT.authorize_url(
        configured_settings, redirect_uri=CALLBACK, state="st", challenge=None
    )
    query = parse_qs(urlsplit(url).query)
    assert url.startswith("https://threads.net/oauth/authorize?")
    assert query["scope"] == ["threads_basic,threads_manage_insights"]
    assert query["client_id"] == [APP]
    assert "code_challenge" not in query
    assert CONSENT.access_lifetime == LONG_LIFETIME


def test_the_app_credentials_fall_back_to_the_meta_apps_pair(settings: Settings) -> None:
    bare = settings.model_copy(
        update={"public_base_url": "https://a.example", "threads_client_id": "", "meta_app_id": ""}
    )
    assert app_credentials(bare) == {
        "OPENPOST_THREADS_CLIENT_ID": "",
        "OPENPOST_THREADS_CLIENT_SECRET": "",
    }
    assert not configured(bare)
    meta = bare.model_copy(update={"meta_app_id": "m1", "meta_app_secret": "ms"})
    assert app_credentials(meta) == {"OPENPOST_META_APP_ID": "m1", "OPENPOST_META_APP_SECRET": "ms"}
    assert configured(meta)
    own = meta.model_copy(update={"threads_client_id": "t1", "threads_client_secret": ""})
    # Threads' own id never goes with the Meta app's secret: its secret is what is missing.
    assert CONSENT.missing(own) == ["OPENPOST_THREADS_CLIENT_SECRET"]
    assert not configured(own)
    assert not configured(meta.model_copy(update={"public_base_url": ""}))


def test_a_token_renewed_lives_sixty_days_from_then(
    fake: FakeThreads, owner: FakeUser, oauth: ThreadsOAuth, clock: Clock
) -> None:
    code = consent(fake)["code"][0]
    long = oauth.long_lived(
        oauth.exchange_code(code, verifier=None, redirect_uri=CALLBACK, now=NOW), now=NOW
    )
    clock.now = NOW + timedelta(days=40)
    renewed = oauth.renew(long, now=clock.now)
    assert renewed.expires_at == clock.now + timedelta(seconds=5_183_944)
    assert fake.refreshes == 1
