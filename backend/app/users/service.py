"""User rules: unique email (ignoring case) among live users, hashed passwords, login.

Hashing and verifying (argon2, tens of milliseconds of CPU each) run in a worker thread,
so they never block the event loop that serves other requests and the firing engine.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.errors import ConflictError, NotFoundError, UnauthorizedError
from app.core.emails import normalise_email
from app.core.errors import FieldValidationError
from app.core.security import Principal, hash_password, verify_password
from app.models import User
from app.users.schemas import UserCreate


async def find_live_by_email(session: AsyncSession, email: str) -> User | None:
    """The live user with this (stored-form) email, ignoring case as the unique index does:
    both sides are lower-cased by PostgreSQL, so exactly one account can match."""
    statement = select(User).where(func.lower(User.email) == func.lower(email), User.not_deleted())
    return (await session.scalars(statement)).first()


async def me(session: AsyncSession, principal: Principal) -> User:
    """The user a token belongs to (live and active: the token check said so)."""
    user = await session.get(User, principal.id)
    if user is None:  # pragma: no cover - deleted between the token check and this read
        raise NotFoundError("User not found")
    return user


async def register(session: AsyncSession, data: UserCreate) -> User:
    """Create a user; 409 when a live user has the email already."""
    hashed = await asyncio.to_thread(hash_password, data.password)
    user = User(email=data.email, hashed_password=hashed)
    if await find_live_by_email(session, user.email) is not None:
        raise ConflictError("A user with this email exists", [("email", "already registered")])
    session.add(user)
    await session.flush()
    return user


async def authenticate(session: AsyncSession, email: str, password: str) -> User:
    """The user with these credentials; the same 401 for a wrong password or unknown email."""
    try:
        stored_form = normalise_email(email)
    except FieldValidationError:
        stored_form = None
    user = None if stored_form is None else await find_live_by_email(session, stored_form)
    hashed = user.hashed_password if user else None
    valid = await asyncio.to_thread(verify_password, password, hashed)
    if user is None or not valid or not user.is_active:
        raise UnauthorizedError("Incorrect email or password")
    return user
