import pytest

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
