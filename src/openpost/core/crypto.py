"""Encryption at rest for platform credentials (Fernet, key derived from the secret key).

``Sealer(secret).seal({...})`` gives an opaque token for ``integrations.credentials_encrypted``;
``open`` reverses it. A token sealed under another secret, or tampered with, raises
``CredentialsUnreadable`` rather than returning anything.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"openpost/integration-credentials/v1"


class CredentialsUnreadable(Exception):
    """The stored credentials cannot be decrypted with the current secret key."""


def _derive_key(secret: str) -> bytes:
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret.encode())
    return base64.urlsafe_b64encode(raw)


class Sealer:
    def __init__(self, secret: str) -> None:
        self._fernet = Fernet(_derive_key(secret))

    def seal(self, credentials: dict[str, Any]) -> str:
        return self._fernet.encrypt(orjson.dumps(credentials)).decode("ascii")

    def open(self, token: str) -> dict[str, Any]:
        try:
            value = orjson.loads(self._fernet.decrypt(token.encode("ascii")))
        except (InvalidToken, ValueError) as exc:
            raise CredentialsUnreadable("stored credentials cannot be decrypted") from exc
        if not isinstance(value, dict):
            raise CredentialsUnreadable("stored credentials are not an object")
        return value
