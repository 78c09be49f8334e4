"""Encryption at rest for platform credentials (Fernet, keys derived from the secret keys).

``Sealer.from_settings(settings).seal({...})`` gives an opaque token for
``integrations.credentials_encrypted`` (and ``oauth_attempts.verifier_sealed``); ``open``
reverses it. Tokens are always sealed with the current ``OPENPOST_SECRET_KEY``; ``open``
also accepts the keys of ``OPENPOST_SECRET_KEY_PREVIOUS``, so the secret can be rotated
without reconnecting anything, and ``reseal`` moves a token to the current key (what
``openpost secrets reseal`` does to every stored token). A token sealed under none of
these, or tampered with, raises ``CredentialsUnreadable`` rather than returning anything.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from openpost.config import Settings

_INFO = b"openpost/integration-credentials/v1"


class CredentialsUnreadable(Exception):
    """The stored credentials cannot be decrypted with the current secret key."""


def _derive_key(secret: str) -> bytes:
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret.encode())
    return base64.urlsafe_b64encode(raw)


class Sealer:
    def __init__(self, secret: str, previous: Sequence[str] = ()) -> None:
        self._current = Fernet(_derive_key(secret))
        self._any = MultiFernet([self._current, *(Fernet(_derive_key(k)) for k in previous)])

    @classmethod
    def from_settings(cls, settings: Settings) -> Sealer:
        return cls(settings.effective_secret_key, settings.previous_secret_keys)

    def seal(self, credentials: dict[str, Any]) -> str:
        return self._current.encrypt(orjson.dumps(credentials)).decode("ascii")

    def open(self, token: str) -> dict[str, Any]:
        try:
            value = orjson.loads(self._any.decrypt(token.encode("ascii")))
        except (InvalidToken, ValueError) as exc:
            raise CredentialsUnreadable("stored credentials cannot be decrypted") from exc
        if not isinstance(value, dict):
            raise CredentialsUnreadable("stored credentials are not an object")
        return value

    def is_current(self, token: str) -> bool:
        """Whether ``token`` is sealed with the current key (no reseal needed)."""
        try:
            self._current.decrypt(token.encode("ascii"))
        except (InvalidToken, ValueError):
            return False
        return True

    def reseal(self, token: str) -> str:
        """``token``'s content sealed with the current key (its timestamp kept)."""
        try:
            return self._any.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, ValueError) as exc:
            raise CredentialsUnreadable("stored credentials cannot be decrypted") from exc
