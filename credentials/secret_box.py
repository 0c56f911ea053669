"""Secrets Tracehouse must use later (model-connection API keys, their extra headers), encrypted at
rest with AES-256-GCM. The key lives outside the store: ``TRACEHOUSE_ENCRYPTION_KEY`` (32 bytes,
base64), or a file in the data directory created with mode 0600 on first use. A stolen copy of
the store alone reveals no secret; a decrypted secret never leaves through any API."""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tracehouse.errors import ConfigError

__all__ = ["KEY_ENV", "KEY_FILE", "SecretBox"]

KEY_ENV = "TRACEHOUSE_ENCRYPTION_KEY"
KEY_FILE = "encryption.key"
_VERSION = "v1"


def _decode_key(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{where}: the encryption key is not base64") from None
    if len(key) != 32:
        raise ConfigError(f"{where}: the encryption key must be 32 bytes (base64 of 32 random bytes)")
    return key


class SecretBox:
    """Encrypts and decrypts short secrets with one key."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @classmethod
    def load(cls, data_dir: Path | None) -> SecretBox:
        """The key from the environment, else the data directory's key file (made if missing)."""
        if os.environ.get(KEY_ENV):
            return cls(_decode_key(os.environ[KEY_ENV], KEY_ENV))
        if data_dir is None:
            raise ConfigError(f"set {KEY_ENV} (base64 of 32 random bytes) to store model-connection keys")
        path = Path(data_dir) / KEY_FILE
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(base64.b64encode(secrets.token_bytes(32)).decode())
        return cls(_decode_key(path.read_text(), str(path)))

    def seal(self, plain: str) -> str:
        """The secret encrypted, with a fresh nonce, as text."""
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, plain.encode(), _VERSION.encode())
        return f"{_VERSION}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, sealed: str) -> str:
        """The secret back; ConfigError if it was sealed with another key or altered."""
        version, _, body = sealed.partition(":")
        try:
            raw = base64.b64decode(body)
            return self._aead.decrypt(raw[:12], raw[12:], version.encode()).decode()
        except (InvalidTag, ValueError, binascii.Error):
            raise ConfigError("a stored secret cannot be decrypted: was the encryption key changed?") from None
