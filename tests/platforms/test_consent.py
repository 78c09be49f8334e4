"""The per-platform part of owner consent: the consent URL an ``OwnerConsent`` builds, and
the standard token answer parsed into a ``TokenSet``."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from openpost.config import Settings
from openpost.platforms.base import MalformedResponse
from openpost.platforms.consent import token_set
from openpost.platforms.x.oauth import CONSENT as X_CONSENT
from tests.consent.tiny import tiny_consent
from tests.platforms.support import NOW


def bare(**fields: str) -> Settings:
    return Settings(env="test", secret_key="test-secret-key-0123456789", **fields)


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_xs_consent_url_carries_pkce_and_its_three_scopes() -> None:
    settings = bare(x_client_id="cid", x_client_secret="s")
    url = X_CONSENT.authorize_url(settings, redirect_uri="https://h/cb", state="st", challenge="c")
    assert url.startswith("https://x.com/i/oauth2/authorize?")
    assert query_of(url) == {
        "response_type": ["code"],
        "client_id": ["cid"],
        "redirect_uri": ["https://h/cb"],
        "scope": ["tweet.read users.read offline.access"],
        "state": ["st"],
        "code_challenge": ["c"],
        "code_challenge_method": ["S256"],
    }
    assert X_CONSENT.missing(settings) == []
    assert X_CONSENT.missing(bare()) == ["OPENPOST_X_CLIENT_ID", "OPENPOST_X_CLIENT_SECRET"]


def test_a_platform_without_pkce_names_its_client_and_scopes_its_own_way() -> None:
    consent = tiny_consent("key-1", "secret-1")
    url = consent.authorize_url(bare(), redirect_uri="https://h/cb", state="st", challenge=None)
    query = query_of(url)
    assert query["client_key"] == ["key-1"]
    assert query["scope"] == ["posts.read,account.read"]
    assert query["display"] == ["page"]
    assert "code_challenge" not in query
    assert "secret-1" not in url


def test_a_challenge_goes_only_with_pkce() -> None:
    with pytest.raises(ValueError, match="PKCE"):
        X_CONSENT.authorize_url(bare(), redirect_uri="r", state="s", challenge=None)
    with pytest.raises(ValueError, match="PKCE"):
        tiny_consent("k", "s").authorize_url(bare(), redirect_uri="r", state="s", challenge="c")


def test_token_answers_are_parsed_with_both_lifetimes() -> None:
    tokens = token_set(
        {
            "access_token": "a",
            "refresh_token": "r",
            "expires_in": 7200,
            "refresh_token_expires_in": 86400,
            "scope": "x y",
        },
        NOW,
    )
    assert tokens.expires_at == NOW + timedelta(hours=2)
    assert tokens.refresh_expires_at == NOW + timedelta(days=1)
    assert (tokens.refresh_token, tokens.scope) == ("r", "x y")
    assert "'a'" not in repr(tokens)
    tiktok_style = token_set({"access_token": "a", "refresh_expires_in": 60}, NOW)
    assert tiktok_style.refresh_expires_at == NOW + timedelta(seconds=60)
    assert tiktok_style.expires_at is None
    assert tiktok_style.refresh_token is None
    meta_style = token_set({"access_token": "a"}, NOW, default_lifetime=timedelta(days=60))
    assert meta_style.expires_at == NOW + timedelta(days=60)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"access_token": ""},
        {"access_token": "a", "refresh_token": 5},
        {"access_token": "a", "expires_in": "7200"},
        {"access_token": "a", "expires_in": 0},
        {"access_token": "a", "expires_in": True},
    ],
)
def test_malformed_token_answers_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(MalformedResponse) as caught:
        token_set(body, NOW, code="p_malformed")
    assert caught.value.code == "p_malformed"
