"""Request dependencies: the transaction owner and the current user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.errors import UnauthorizedError
from app.core.security import Principal, read_access_token
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


SessionDep = Annotated[AsyncSession, Depends(get_session)]
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session)]
SettingsDep = Annotated[Settings, Depends(get_settings_from_app)]

_LIVE_USER = select(User.id).where(User.is_active.is_(True), User.deleted_at.is_(None))


async def get_current_user(
    request: Request,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal:
    """The live, active user named by the bearer token; 401 otherwise."""
    user_id = read_access_token(token, settings.jwt_secret_value) if token else None
    if user_id is not None:
        async with request.app.state.read_engine.connect() as connection:
            if await connection.scalar(_LIVE_USER.where(User.id == user_id)) is not None:
                return Principal(user_id)
    raise UnauthorizedError("Not authenticated")


CurrentUser = Annotated[Principal, Depends(get_current_user)]
