"""Passwords (argon2) and access tokens (signed JWT)."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.core.clock import utc_now


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a live, active user, as proven by a bearer token."""

    id: uuid.UUID


_hasher = PasswordHasher()
ALGORITHM = "HS256"
# Verified against when the email is unknown, so that both failures cost the same.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    """An argon2id hash of `password`."""
    return _hasher.hash(password)


def verify_password(password: str, hashed: str | None) -> bool:
    """True when `password` matches `hashed`; constant work when there is no hash."""
    try:
        return _hasher.verify(hashed or _DUMMY_HASH, password) and hashed is not None
    except (VerificationError, InvalidHashError):
        return False


def create_access_token(
    user_id: uuid.UUID, secret: str, lifetime: timedelta, now: datetime | None = None
) -> str:
    """A signed token naming the user, valid for `lifetime`."""
    issued = now or utc_now()
    claims = {"sub": str(user_id), "iat": issued, "exp": issued + lifetime}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_access_token(token: str, secret: str) -> uuid.UUID | None:
    """The user id in a valid, unexpired token; None for anything else."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp"]})
        return uuid.UUID(str(claims["sub"]))
    except (jwt.PyJWTError, KeyError, ValueError):
        return None


# The browser console's session: the same signed token, in an HttpOnly, SameSite=Strict
# cookie; requests that change state must also carry the session's CSRF token.
SESSION_COOKIE = "pt_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FORM_FIELD = "csrf_token"


def csrf_token_for(session_token: str, secret: str) -> str:
    """The CSRF token bound to one session (an HMAC of it, under a key derived from the
    signing secret for this use only: nothing to store)."""
    key = hmac.new(secret.encode(), b"pastetrader csrf key", hashlib.sha256).digest()
    return hmac.new(key, session_token.encode(), hashlib.sha256).hexdigest()


def csrf_matches(session_token: str, given: str | None, secret: str) -> bool:
    """True when `given` is the CSRF token of this session (compared in constant time)."""
    return given is not None and same_text(csrf_token_for(session_token, secret), given)


def same_text(expected: str, given: str) -> bool:
    """`expected == given` in constant time, for any text (hmac.compare_digest refuses
    strings with non-ASCII characters, which a hostile form or header may carry)."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogatepass"))
