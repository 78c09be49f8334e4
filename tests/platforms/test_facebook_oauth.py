"""Facebook Login against the fake: the dialog's checks (registered redirect, development
mode, refusal), the code → short-lived → long-lived exchange, the Pages and their tokens
(paged, without the Pages the owner may not analyse), every refusal of the token endpoint,
and Facebook's part of the generic consent (scopes, no PKCE, the Meta app fallback)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from openpost.config import Settings
from openpost.platforms.consent import ClientRejected, ManyAccounts, TokenRefused, TokenSet
from openpost.platforms.facebook.fake import FakeFacebook, FakeUser
from openpost.platforms.facebook.fake_oauth import LONG_LIFETIME
from openpost.platforms.facebook.oauth import CONSENT, FacebookLogin
from openpost.platforms.facebook.spec import SPEC
from tests.platforms.support import Clock

REDIRECT = "https://analytics.example.com/integrations/facebook/callback"


@pytest.fixture
def fake(frozen_clock: Clock) -> FakeFacebook:
    made = FakeFacebook(now=frozen_clock)
    made.oauth.redirect_uris.add(REDIRECT)
    return made


@pytest.fixture
def owner(fake: FakeFacebook) -> FakeUser:
    person = fake.add_user("Pat Owner")
    fake.oauth.consenting = person
    return person


def login(fake: FakeFacebook, secret: str | None = None) -> FacebookLogin:
    return FacebookLogin(
        app_id=fake.oauth.app_id,
        app_secret=fake.oauth.app_secret if secret is None else secret,
        base_url="https://graph.facebook.com",
        version="v25.0",
        transport=fake.transport(),
    )


@pytest.fixture
def fb(fake: FakeFacebook) -> Iterator[FacebookLogin]:
    made = login(fake)
    yield made
    made.close()


def dialog(fake: FakeFacebook, **extra: str) -> httpx.Response:
    query = {"client_id": fake.oauth.app_id, "redirect_uri": REDIRECT, "state": "st", **extra}
    with httpx.Client(transport=fake.transport()) as browser:
        return browser.get("https://www.facebook.com/v25.0/dialog/oauth", params=query)


def code_of(answer: httpx.Response) -> str:
    assert answer.status_code == 302, answer.text
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["state"] == ["st"]
    return query["code"][0]


def test_the_owner_connects_every_granted_page_they_may_analyse(
    fake: FakeFacebook, owner: FakeUser, fb: FacebookLogin, frozen_clock: Clock
) -> None:
    shop = fake.add_page(owner, "Shop", username="shop")
    fake.add_page(owner, "Ads", tasks=("ADVERTISE",))
    unticked = fake.add_page(owner, "Unticked")
    fake.oauth.granted = [p.id for p in fake.pages.values() if p.id != unticked.id]
    now = frozen_clock()
    short = fb.exchange_code(code_of(dialog(fake)), verifier=None, redirect_uri=REDIRECT, now=now)
    assert short.expires_at == now + timedelta(hours=1)
    kept = fb.long_lived(short, now=now)
    assert kept.expires_at == now + LONG_LIFETIME  # about 60 days, as the answer says
    assert kept.access_token != short.access_token
    assert kept.refresh_token is None  # Facebook Login has no refresh token
    assert isinstance(fb, ManyAccounts)
    (page,) = fb.accounts(kept, now=now)
    assert (page.account.external_account_id, page.account.username) == (shop.id, "shop")
    assert page.tokens.expires_at is None  # a Page token from a long-lived user token
    assert fake.tokens[page.tokens.access_token].page_id == shop.id
    assert fb.identify(kept.access_token).display_name == "Pat Owner"


def test_more_than_a_hundred_pages_are_paged(
    fake: FakeFacebook, owner: FakeUser, fb: FacebookLogin, frozen_clock: Clock
) -> None:
    for n in range(105):
        fake.add_page(owner, f"Branch {n}")
    now = frozen_clock()
    short = fb.exchange_code(code_of(dialog(fake)), verifier=None, redirect_uri=REDIRECT, now=now)
    pages = fb.accounts(fb.long_lived(short, now=now), now=now)
    assert len({p.account.external_account_id for p in pages}) == 105
    assert len(fake.calls("accounts")) == 2


def test_a_code_is_single_use_bound_to_its_redirect_and_expires(
    fake: FakeFacebook, owner: FakeUser, fb: FacebookLogin, frozen_clock: Clock
) -> None:
    fake.add_page(owner, "Shop")
    now = frozen_clock()
    code = code_of(dialog(fake))
    fb.exchange_code(code, verifier=None, redirect_uri=REDIRECT, now=now)
    with pytest.raises(TokenRefused):
        fb.exchange_code(code, verifier=None, redirect_uri=REDIRECT, now=now)
    other = code_of(dialog(fake))
    with pytest.raises(TokenRefused):
        fb.exchange_code(other, verifier=None, redirect_uri=REDIRECT + "x", now=now)
    late = code_of(dialog(fake))
    frozen_clock.now += timedelta(minutes=11)
    with pytest.raises(TokenRefused):
        fb.exchange_code(late, verifier=None, redirect_uri=REDIRECT, now=frozen_clock())


def test_a_wrong_secret_or_app_is_the_operators_to_fix(
    fake: FakeFacebook, owner: FakeUser, frozen_clock: Clock
) -> None:
    code = code_of(dialog(fake))
    for app_id, secret in ((fake.oauth.app_id, "wrong"), ("999", fake.oauth.app_secret), ("", "")):
        client = FacebookLogin(
            app_id=app_id,
            app_secret=secret,
            base_url="https://graph.facebook.com",
            version="v25.0",
            transport=fake.transport(),
        )
        with pytest.raises(ClientRejected) as caught:
            client.exchange_code(code, verifier=None, redirect_uri=REDIRECT, now=frozen_clock())
        assert "wrong" not in caught.value.message
        assert "secret" not in repr(client)
        client.close()


def test_a_page_token_cannot_be_renewed(fb: FacebookLogin, frozen_clock: Clock) -> None:
    with pytest.raises(TokenRefused):
        fb.renew(TokenSet("page-token", None, None, ""), now=frozen_clock())


def test_the_dialog_refuses_what_facebook_refuses(fake: FakeFacebook, owner: FakeUser) -> None:
    unregistered = dialog(fake, redirect_uri="https://evil.example/cb")
    assert unregistered.status_code == 400  # an error page, never a redirect
    assert "URL Blocked" in unregistered.text
    fake.oauth.consent = "deny"
    denied = dialog(fake)
    assert denied.status_code == 302
    assert parse_qs(urlsplit(denied.headers["location"]).query)["error"] == ["access_denied"]
    fake.oauth.consent = "approve"
    fake.oauth.roles.discard(owner.id)  # development mode: only people with a role on the app
    outsider = dialog(fake)
    assert outsider.status_code == 200
    assert "App not active" in outsider.text


def test_without_a_chosen_person_the_dialog_is_a_picker_of_test_users(
    fake: FakeFacebook, owner: FakeUser
) -> None:
    page = fake.add_page(owner, "Shop")
    fake.oauth.consenting = None
    picker = dialog(fake)
    assert picker.status_code == 200
    assert "Pat Owner" in picker.text
    assert "Shop" in picker.text
    query = {
        "client_id": fake.oauth.app_id,
        "redirect_uri": REDIRECT,
        "state": "st",
        "user": owner.id,
        "page": page.id,
    }
    with httpx.Client(transport=fake.transport()) as browser:
        chosen = browser.get("https://www.facebook.com/v25.0/dialog/oauth/confirm", params=query)
    assert fake.oauth.codes[code_of(chosen)].pages == (page.id,)


def test_facebooks_consent_asks_the_three_scopes_without_pkce(settings: Settings) -> None:
    meta = settings.model_copy(
        update={"meta_app_id": "111", "meta_app_secret": "s", "public_base_url": "https://a.b"}
    )
    url = CONSENT.authorize_url(meta, redirect_uri=REDIRECT, state="st", challenge=None)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith("https://www.facebook.com/v25.0/dialog/oauth?")
    assert query["scope"] == ["pages_show_list,pages_read_engagement,read_insights"]
    assert query["client_id"] == ["111"]  # the Meta app serves Facebook when no own id is set
    assert "code_challenge" not in query
    assert CONSENT.missing(meta) == []
    assert SPEC.configured(meta)
    own = meta.model_copy(update={"facebook_client_id": "222", "facebook_client_secret": ""})
    assert CONSENT.client_id(own) == "222"
    assert CONSENT.missing(own) == ["OPENPOST_FACEBOOK_CLIENT_SECRET"]
    assert not SPEC.configured(settings)  # nothing set: listed as needing app credentials
    assert not SPEC.configured(meta.model_copy(update={"public_base_url": ""}))
