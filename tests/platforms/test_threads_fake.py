"""The fake Threads API as its own server process (``python -m
openpost.platforms.threads.fake --seed --app …``): Graph error bodies, the consent page, and
the seeded account read through the real client."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import httpx

from openpost.core import clock
from openpost.platforms.base import Account
from openpost.platforms.threads.client import MediaIds, ThreadsClient
from openpost.platforms.threads.oauth import ThreadsOAuth
from tests.platforms.support import fake_server

CALLBACK = "https://analytics.example.com/integrations/threads/callback"


def test_the_fake_serves_consent_tokens_and_reads() -> None:
    with fake_server(
        "threads", "--seed", "--seed-posts", "12", "--app", f"a1:s1:{CALLBACK}"
    ) as url:
        refused = httpx.get(url + "/v1.0/me", timeout=10)
        assert refused.status_code == 400
        error = refused.json()["error"]
        assert (error["code"], error["type"]) == (190, "OAuthException")
        assert "fbtrace_id" in error
        consent = httpx.get(
            url + "/oauth/authorize",
            params={
                "client_id": "a1",
                "redirect_uri": CALLBACK,
                "scope": "threads_basic,threads_manage_insights",
                "response_type": "code",
                "state": "x",
            },
            timeout=10,
        )
        assert consent.status_code == 302
        location = consent.headers["location"]
        assert location.endswith("#_")
        code = parse_qs(urlsplit(location.removesuffix("#_")).query)["code"][0]
        with ThreadsOAuth(client_id="a1", client_secret="s1", base_url=url) as oauth:
            short = oauth.exchange_code(code, verifier=None, redirect_uri=CALLBACK, now=_now())
            long = oauth.long_lived(short, now=_now())
            account = oauth.identify(long.access_token)
        assert account.username == "openpost"
        with ThreadsClient(base_url=url, media_ids=MediaIds()) as client:
            credentials = {"access_token": long.access_token}
            page = client.discover(
                Account(account.external_account_id, account.username, account.display_name),
                since_id=None,
                limit=20,
                credentials=credentials,
            )
            assert len(page.posts) == 12
            ids = [p.platform_post_id for p in page.posts[:3]]
            result = client.fetch_metrics(ids, credentials=credentials)
            assert set(result.readings) == set(ids)
            followers = client.fetch_accounts(
                [account.external_account_id], credentials=credentials
            )
            assert followers.readings[account.external_account_id].followers == 1234


def _now() -> datetime:
    return clock.now()
