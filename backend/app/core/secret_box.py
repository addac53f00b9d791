"""Secrets at rest: small JSON values sealed with Fernet, keys rotated with MultiFernet.

The first key seals; every key opens, so a new key goes first and the old ones stay
until `rotate` has re-sealed every row under the new one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretUnreadableError(ValueError):
    """A sealed value that none of the configured keys opens (or that is not a token)."""


def parse_keys(text: str) -> list[str]:
    """The Fernet keys in a comma- or space-separated list, newest first; ValueError names a
    bad one by position (never by value)."""
    keys = [key for key in re.split(r"[\s,]+", text) if key]
    if not keys:
        raise ValueError("no key given")
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ValueError(
                f"key {position} is not a Fernet key (32 url-safe base64-encoded bytes)"
            ) from None
    return keys


def generate_key() -> str:
    """A new random Fernet key, as text."""
    return Fernet.generate_key().decode("ascii")


class SecretBox:
    """Seals and opens JSON objects with a list of Fernet keys (the first one seals)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("a SecretBox needs at least one key")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def seal(self, value: Mapping[str, Any]) -> str:
        """`value` encrypted and authenticated under the first key."""
        plain = json.dumps(dict(value), separators=(",", ":")).encode("utf-8")
        return self._fernet.encrypt(plain).decode("ascii")

    def open(self, token: str) -> dict[str, Any]:
        """The JSON object sealed in `token`, with whichever key sealed it."""
        try:
            value = json.loads(self._fernet.decrypt(token.encode("ascii")))
        except (InvalidToken, UnicodeError, ValueError):
            raise SecretUnreadableError("no configured key opens this secret") from None
        if not isinstance(value, dict):
            raise SecretUnreadableError("the sealed value is not a JSON object")
        return value

    def rotate(self, token: str) -> str:
        """`token` re-sealed under the first key (unchanged secret, new ciphertext)."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise SecretUnreadableError("no configured key opens this secret") from None
