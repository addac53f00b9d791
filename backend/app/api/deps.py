"""Request dependencies: the transaction owner and the current user."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.api.errors import ForbiddenError, UnauthorizedError
from app.core.secret_box import SecretBox
from app.core.security import (
    CSRF_HEADER,
    SESSION_COOKIE,
    Principal,
    csrf_matches,
    read_access_token,
)
from app.core.settings import Settings
from app.models import User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def get_settings_from_app(request: Request) -> Settings:
    """The settings the app was built with (async: sync dependencies cost a thread hop)."""
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler succeeds, else rolled back."""
    async with request.app.state.session_factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session for requests that only read: autocommit, so no BEGIN/COMMIT round trips."""
    async with request.app.state.read_session_factory() as session:
        yield session


async def get_read_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    """A bare autocommit connection for the hottest reads (no ORM session around it)."""
    async with request.app.state.read_database.connect() as connection:
        yield connection


async def get_secret_box(request: Request) -> SecretBox:
    """What seals secrets at rest (built once at start-up from ENCRYPTION_KEYS)."""
    box: SecretBox = request.app.state.secret_box
    return box


# scope="function": the transaction commits (or fails, answered as an error) before the
# response is sent, so a client that got 201 can read what it wrote at once; FastAPI's
# default ("request") would run the commit after the answer had gone out.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
SecretBoxDep = Annotated[SecretBox, Depends(get_secret_box)]
ReadConnectionDep = Annotated[AsyncConnection, Depends(get_read_connection, scope="function")]
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_from_app)]

_LIVE_USER = select(User.id).where(User.is_active.is_(True), User.not_deleted())


class LiveUsers:
    """Which token holders are live, active users, remembered for a few seconds per process.

    Every request would otherwise pay a database round trip before its real work; the
    price is that a user deactivated or deleted keeps access for at most `ttl` seconds.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._until: dict[uuid.UUID, float] = {}

    async def is_live(self, database: AsyncEngine, user_id: uuid.UUID) -> bool:
        """True when the user may act now (looked up at most once per `ttl`)."""
        now = time.monotonic()
        if self._until.get(user_id, 0.0) > now:
            return True
        async with database.connect() as connection:
            live = await connection.scalar(_LIVE_USER.where(User.id == user_id)) is not None
        if live:
            if len(self._until) > _MAX_REMEMBERED:
                self._until.clear()
            self._until[user_id] = now + self.ttl
        else:
            self._until.pop(user_id, None)
        return live


_MAX_REMEMBERED = 100_000


async def get_current_user(
    request: Request,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal:
    """The live, active user named by the bearer token, or by the console's session cookie
    (whose requests that change state must carry its CSRF token: 403 otherwise); 401
    otherwise."""
    secret = settings.jwt_secret_value
    if not token and (cookie := request.cookies.get(SESSION_COOKIE)):
        if request.method not in SAFE_METHODS and not csrf_matches(
            cookie, request.headers.get(CSRF_HEADER), secret
        ):
            raise ForbiddenError("CSRF token missing or wrong: send the page's X-CSRF-Token")
        token = cookie
    user_id = read_access_token(token, secret) if token else None
    live_users: LiveUsers = request.app.state.live_users
    if user_id is not None and await live_users.is_live(request.app.state.read_database, user_id):
        return Principal(user_id)
    raise UnauthorizedError("Not authenticated")


CurrentUser = Annotated[Principal, Depends(get_current_user)]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
