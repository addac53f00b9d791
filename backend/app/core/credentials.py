"""Which keys name a credential: secrets never belong in free-form JSON we store.

A key names a credential when, split into words at `_`, `-`, spaces and case changes, it
has the word password, passwd, secret, token, credential or credentials, the pair
api key, access key or private key, or is `apikey` (docs/schedules.md, "Run options").
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping

_CREDENTIAL_WORDS = frozenset(
    {"password", "passwd", "secret", "token", "credential", "credentials"}
)
_CREDENTIAL_PAIRS = frozenset({("api", "key"), ("access", "key"), ("private", "key")})
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def key_words(key: str) -> list[str]:
    """Split a key into lower-case words at `_`, `-` and case changes (`accessKey`: access key)."""
    return [word.lower() for part in re.split(r"[_\-\s]+", key) for word in _WORD.findall(part)]


def names_credential(key: str) -> bool:
    """True when `key` names a secret (password, token, api key, ...) that must not be stored."""
    words = key_words(key)
    if any(word in _CREDENTIAL_WORDS or word == "apikey" for word in words):
        return True
    return any(pair in _CREDENTIAL_PAIRS for pair in itertools.pairwise(words))


def find_credential(value: object, path: str) -> str | None:
    """The path of the first key, at any depth of a JSON value, that names a credential."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            here = f"{path}.{key}"
            if names_credential(str(key)):
                return here
            if (found := find_credential(item, here)) is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if (found := find_credential(item, f"{path}[{index}]")) is not None:
                return found
    return None
