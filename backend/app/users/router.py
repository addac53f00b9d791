"""Routes: register, log in (OAuth2 password flow), who am I."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from app.api.deps import CurrentUser, ReadSessionDep, SessionDep, SettingsDep
from app.api.errors import CONFLICT_RESPONSE, ERROR_RESPONSES, RATE_LIMITED_RESPONSE
from app.api.rate_limits import RateLimits, client_address
from app.core.emails import EMAIL_MAX_LENGTH, normalise_email
from app.core.errors import FieldValidationError
from app.core.security import create_access_token
from app.users import service
from app.users.schemas import Token, UserCreate, UserRead

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    tags=["users"],
    responses={**CONFLICT_RESPONSE, **RATE_LIMITED_RESPONSE},
)
async def register_user(request: Request, data: UserCreate, session: SessionDep) -> UserRead:
    """Register a user with an email and a password (rate-limited per client address)."""
    limits: RateLimits = request.app.state.rate_limits
    await limits.hit(limits.registration_per_address, "register", client_address(request))
    return UserRead.of(await service.register(session, data))


@router.post("/auth/token", tags=["auth"], responses=RATE_LIMITED_RESPONSE)
async def issue_token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> Token:
    """OAuth2 password flow: `username` is the email; answers a bearer token.

    Attempts are rate-limited per client address and per account (429 with Retry-After).
    """
    limits: RateLimits = request.app.state.rate_limits
    await limits.hit(limits.login_per_address, "login", client_address(request))
    await limits.hit(limits.login_per_account, "login-account", account_key(form.username))
    user = await service.authenticate(session, form.username, form.password)
    lifetime = timedelta(minutes=settings.access_token_minutes)
    token = create_access_token(user.id, settings.jwt_secret_value, lifetime)
    return Token(access_token=token, expires_in=int(lifetime.total_seconds()))


def account_key(username: str) -> str:
    """The rate-limit key of the account a login names: its stored form (so look-alikes
    share one budget), or a bounded stand-in for text that is no address at all."""
    try:
        return normalise_email(username).lower()
    except FieldValidationError:
        return username[:EMAIL_MAX_LENGTH].strip().lower()


@router.get("/users/me", tags=["users"])
async def read_me(principal: CurrentUser, session: ReadSessionDep) -> UserRead:
    """The user the token belongs to."""
    return UserRead.of(await service.me(session, principal))
