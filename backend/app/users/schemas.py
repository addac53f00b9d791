"""Request and response bodies for users."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.api.schemas import ReadModel
from app.models.user import EMAIL_MAX_LENGTH

PASSWORD_MIN_LENGTH = 8


class UserCreate(BaseModel):
    """Registration: an email and a password."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"email": "trader@example.com", "password": "s3cret-pass"}]
        },
    )

    email: str = Field(min_length=3, max_length=EMAIL_MAX_LENGTH)
    password: str = Field(min_length=PASSWORD_MIN_LENGTH, max_length=256)


class UserRead(ReadModel):
    """A user as the API shows it (never the password hash)."""

    id: uuid.UUID
    email: str
    is_active: bool
    created_at: datetime


class Token(BaseModel):
    """An OAuth2 bearer token."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int
