"""User rules: unique email (ignoring case) among live users, hashed passwords, login."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.errors import ConflictError, NotFoundError, UnauthorizedError
from app.core.security import Principal, hash_password, verify_password
from app.models import User
from app.users.schemas import UserCreate


async def find_live_by_email(session: AsyncSession, email: str) -> User | None:
    """The live user with this email, ignoring case."""
    statement = select(User).where(
        func.lower(User.email) == email.strip().lower(), User.not_deleted()
    )
    return (await session.scalars(statement)).first()


async def me(session: AsyncSession, principal: Principal) -> User:
    """The user a token belongs to (live and active: the token check said so)."""
    user = await session.get(User, principal.id)
    if user is None:  # pragma: no cover - deleted between the token check and this read
        raise NotFoundError("User not found")
    return user


async def register(session: AsyncSession, data: UserCreate) -> User:
    """Create a user; 409 when a live user has the email already."""
    user = User(email=data.email, hashed_password=hash_password(data.password))
    if await find_live_by_email(session, user.email) is not None:
        raise ConflictError("A user with this email exists", [("email", "already registered")])
    session.add(user)
    await session.flush()
    return user


async def authenticate(session: AsyncSession, email: str, password: str) -> User:
    """The user with these credentials; the same 401 for a wrong password or unknown email."""
    user = None if "\x00" in email else await find_live_by_email(session, email)
    valid = verify_password(password, user.hashed_password if user else None)
    if user is None or not valid or not user.is_active:
        raise UnauthorizedError("Incorrect email or password")
    return user
