"""Settings never show a secret when printed or logged: keys, tokens, passwords in URLs."""

from __future__ import annotations

import logging

import pytest

from openpost.config import Settings

SECRETS = {
    "secret_key": "s3cret-key-of-twenty-chars",
    "x_bearer_token": "BEARER-SECRET",
    "x_client_secret": "CLIENT-SECRET",
    "youtube_api_key": "YOUTUBE-KEY",
    "database_url": "postgresql+psycopg://app:DB-PASSWORD@db.internal/openpost",
    "queue_url": "redis://:QUEUE-PASSWORD@redis.internal:6379/0",
    "rate_limit_storage_url": "redis://:LIMIT-PASSWORD@redis.internal:6379/1",
}
SHOWN_NOWHERE = ("s3cret-key", "BEARER-SECRET", "CLIENT-SECRET", "YOUTUBE-KEY", "PASSWORD")


def test_secrets_are_left_out_of_repr_and_str(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(env="test", **SECRETS)
    with caplog.at_level(logging.INFO):
        logging.getLogger("openpost.test").info("settings %s %r", settings, settings)
    shown = f"{settings!r} {settings!s} {caplog.text}"
    assert [word for word in SHOWN_NOWHERE if word in shown] == []
    assert "env='test'" in repr(settings)  # the rest is still shown
