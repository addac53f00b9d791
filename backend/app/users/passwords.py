"""Which passwords are refused at registration (after NIST SP 800-63B): blank or made only
of white space or control characters, the account's own email, or a commonly used one."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from zxcvbn.frequency_lists import FREQUENCY_LISTS

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 256


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    """The 30,000 most used passwords of the breach corpora zxcvbn ships."""
    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problem(password: str, email: str) -> str | None:
    """Why `password` is refused for the account `email`, or None when it is acceptable."""
    if all(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in password):
        return "must contain something other than white space and control characters"
    if password.casefold() == email.strip().casefold():
        return "must not be the account's email"
    if password.casefold() in _common_passwords():
        return "is one of the most commonly used passwords; choose another"
    return None
