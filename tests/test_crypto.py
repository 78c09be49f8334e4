import pytest
from pydantic import ValidationError

from openpost.config import Settings
from openpost.core import faults
from openpost.core.crypto import CredentialsUnreadable, Sealer


def test_round_trip_and_ciphertext_hides_the_token() -> None:
    sealer = Sealer("a-secret-key-of-some-length")
    token = sealer.seal({"access_token": "tok-123456", "refresh_token": "r-9"})
    assert "tok-123456" not in token
    assert sealer.open(token) == {"access_token": "tok-123456", "refresh_token": "r-9"}


def test_each_seal_is_different() -> None:
    sealer = Sealer("a-secret-key-of-some-length")
    assert sealer.seal({"a": 1}) != sealer.seal({"a": 1})


def test_another_secret_cannot_open() -> None:
    token = Sealer("a-secret-key-of-some-length").seal({"a": 1})
    with pytest.raises(CredentialsUnreadable):
        Sealer("another-secret-key-entirely").open(token)


@pytest.mark.parametrize("token", ["", "garbage", "gAAAAA" + "x" * 80])
def test_tampered_or_garbage_tokens_are_refused(token: str) -> None:
    with pytest.raises(CredentialsUnreadable):
        Sealer("a-secret-key-of-some-length").open(token)


def test_previous_keys_open_but_never_seal() -> None:
    old = Sealer("the-old-secret-key-0123").seal({"a": 1})
    rotated = Sealer("the-new-secret-key-0123", ["the-old-secret-key-0123"])
    assert rotated.open(old) == {"a": 1}
    assert not rotated.is_current(old)
    fresh = rotated.seal({"b": 2})
    assert rotated.is_current(fresh)
    assert Sealer("the-new-secret-key-0123").open(fresh) == {"b": 2}
    with pytest.raises(CredentialsUnreadable):
        Sealer("the-old-secret-key-0123").open(fresh)


def test_reseal_moves_a_token_to_the_current_key() -> None:
    old = Sealer("the-old-secret-key-0123").seal({"a": 1})
    resealed = Sealer("the-new-secret-key-0123", ["the-old-secret-key-0123"]).reseal(old)
    assert Sealer("the-new-secret-key-0123").open(resealed) == {"a": 1}
    with pytest.raises(CredentialsUnreadable):
        Sealer("the-new-secret-key-0123").reseal(old)  # the old key is no longer known


def test_previous_keys_setting() -> None:
    settings = Settings(
        secret_key="the-new-secret-key-0123",
        secret_key_previous=" the-old-secret-key-0123 , an-older-secret-key-01,",
    )
    assert settings.previous_secret_keys == ("the-old-secret-key-0123", "an-older-secret-key-01")
    token = Sealer("an-older-secret-key-01").seal({"a": 1})
    assert Sealer.from_settings(settings).open(token) == {"a": 1}
    with pytest.raises(ValidationError, match="16"):
        Settings(secret_key="the-new-secret-key-0123", secret_key_previous="short")


def test_fault_injection_is_refused_outside_tests() -> None:
    with pytest.raises(ValidationError, match="OPENPOST_ENV=test"):
        Settings(secret_key="the-new-secret-key-0123", fault_injection="capture.commit")
    with pytest.raises(ValidationError, match="unknown fault point"):
        Settings(env="test", fault_injection="capture.nowhere")
    with pytest.raises(ValidationError, match="number of seconds"):
        Settings(env="test", fault_injection="capture.fetch:soon")
    assert faults.parse("capture.commit, capture.fetch:0.5") == {
        "capture.commit": faults.KILL,
        "capture.fetch": 0.5,
    }
