"""Users: owners of workflows, tools, agents and schedules."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app.core.emails import EMAIL_MAX_LENGTH, normalise_email
from app.models.base import Base, SoftDeleteMixin, TimestampMixin, UUIDMixin, not_deleted_sql

if TYPE_CHECKING:
    from app.models.agent import Agent
    from app.models.schedule import Schedule
    from app.models.tool import Tool
    from app.models.workflow import Workflow


class User(UUIDMixin, TimestampMixin, SoftDeleteMixin, Base):
    """A person or service account; `email` (stored in the form `app.core.emails` gives it)
    is unique among live users, ignoring case."""

    __tablename__ = "users"
    __table_args__ = (
        Index(
            "uq_users_email_live",
            func.lower(text("email")),
            unique=True,
            postgresql_where=text(not_deleted_sql()),
        ),
    )

    email: Mapped[str] = mapped_column(String(EMAIL_MAX_LENGTH))
    hashed_password: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))

    workflows: Mapped[list[Workflow]] = relationship(
        back_populates="owner", passive_deletes=True, lazy="raise"
    )
    tools: Mapped[list[Tool]] = relationship(
        back_populates="owner", passive_deletes=True, lazy="raise"
    )
    agents: Mapped[list[Agent]] = relationship(
        back_populates="owner", passive_deletes=True, lazy="raise"
    )
    schedules: Mapped[list[Schedule]] = relationship(
        back_populates="user", passive_deletes=True, lazy="raise"
    )

    @validates("email")
    def _validate_email(self, key: str, value: str) -> str:
        return normalise_email(value)
