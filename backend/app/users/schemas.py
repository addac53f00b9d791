"""Request and response bodies for users."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from app.api.schemas import ReadModel
from app.core.emails import EMAIL_MAX_LENGTH
from app.users.passwords import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, password_problem


class UserCreate(BaseModel):
    """Registration: an email and a password."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"email": "trader@example.com", "password": "kospi-open-9am"}]
        },
    )

    email: str = Field(min_length=3, max_length=EMAIL_MAX_LENGTH)
    password: str = Field(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH)

    @field_validator("password")
    @classmethod
    def _acceptable_password(cls, value: str, info: ValidationInfo) -> str:
        if (problem := password_problem(value, str(info.data.get("email", "")))) is not None:
            raise ValueError(problem)
        return value


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
