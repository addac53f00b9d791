"""The Schedule model: when a workflow runs, and the record of its runs (docs/data-model.md)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, inspect, text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app.core.clock import utc_now
from app.models.base import (
    Base,
    SoftDeleteMixin,
    TimestampMixin,
    UUIDMixin,
    live_and_active_sql,
    not_deleted_sql,
)
from app.models.enums import ScheduleType
from app.models.json import ValidatedJSONObject
from app.models.types import UTCDateTime, coerce_enum, enum_type, require_aware
from app.timing import lifecycle
from app.timing.definitions import CONFIG_FIELD, ScheduleDefinition, parse_definition
from app.timing.errors import ScheduleValidationError
from app.timing.lifecycle import SkipReason, job_id_for
from app.timing.run_options import RunOptions, parse_run_options
from app.timing.triggers import ScheduleTrigger, build_trigger, trigger_of
from app.timing.zones import get_zone

if TYPE_CHECKING:
    from app.models.user import User
    from app.models.workflow import Workflow

NAME_MAX_LENGTH = 255
TIMEZONE_MAX_LENGTH = 50
PAUSE_NOTE_MAX_LENGTH = 1000
# Changes to these attributes move the next fire time.
_TIMING_ATTRIBUTES = ("schedule_type", "schedule_config", "timezone", "is_active", "deleted_at")


def generate_job_id(schedule_id: uuid.UUID) -> str:
    """The firing engine's job id for a schedule: `schedule_<uuid>`."""
    return job_id_for(schedule_id)


_SKIP_REASONS = ", ".join(f"'{reason.value}'" for reason in SkipReason)


class Schedule(UUIDMixin, TimestampMixin, SoftDeleteMixin, Base):
    """Workflow schedule configuration: cron, interval or one-time, in a time zone.

    Every write path validates `schedule_type`, `schedule_config`, `timezone` and
    `metadata` (ScheduleValidationError names the field); `next_run_at` is recomputed
    at flush whenever the timing, activity or deletion changes.
    """

    __tablename__ = "schedules"
    __table_args__ = (
        CheckConstraint("run_count >= 0", name="run_count_non_negative"),
        CheckConstraint("missed_count >= 0", name="missed_count_non_negative"),
        CheckConstraint("skipped_count >= 0", name="skipped_count_non_negative"),
        CheckConstraint(f"last_skip_reason IN ({_SKIP_REASONS})", name="last_skip_reason"),
        Index("idx_schedules_workflow", "workflow_id"),
        # Leads with user_id (the FK) and serves a user's pages, newest first (API lists).
        Index("idx_schedules_user", "user_id", "created_at", "id"),
        Index("idx_schedules_type", "schedule_type"),
        Index("idx_schedules_active", "is_active", postgresql_where=text("is_active")),
        Index(
            "idx_schedules_next_run",
            "next_run_at",
            postgresql_where=text("next_run_at IS NOT NULL"),
        ),
        Index("idx_schedules_job_id", "job_id", postgresql_where=text("job_id IS NOT NULL")),
        Index("idx_schedules_workflow_active", "workflow_id", "is_active"),
        Index("idx_schedules_not_deleted", "id", postgresql_where=text(not_deleted_sql())),
        # Live active schedules without a next fire time: normally none; the engine's
        # reconciliation pass looks for them (e.g. rows written by raw SQL).
        Index(
            "idx_schedules_unplanned",
            "id",
            postgresql_where=text(f"next_run_at IS NULL AND {live_and_active_sql()}"),
        ),
    )

    workflow_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    description: Mapped[str | None] = mapped_column(Text)
    schedule_type: Mapped[ScheduleType] = mapped_column(enum_type(ScheduleType, "schedule_type"))
    schedule_config: Mapped[dict[str, Any]] = mapped_column(ValidatedJSONObject)
    timezone: Mapped[str] = mapped_column(
        String(TIMEZONE_MAX_LENGTH), default="UTC", server_default="UTC"
    )
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    job_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    run_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", ValidatedJSONObject, default=dict, server_default=text("'{}'::jsonb")
    )
    # Fires that did not run (revision 0003): missed = beyond the misfire grace; skipped =
    # folded by coalesce, held back by max_instances, or the workflow was not runnable.
    missed_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    skipped_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    last_skip_reason: Mapped[str | None] = mapped_column(String(50))
    last_skipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set by pause, cleared by resume (revision 0004).
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pause_note: Mapped[str | None] = mapped_column(Text)

    workflow: Mapped[Workflow] = relationship(back_populates="schedules", lazy="raise")
    user: Mapped[User] = relationship(back_populates="schedules", lazy="raise")

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata_", {})
        super().__init__(**kwargs)

    # -- validation ---------------------------------------------------------------------

    @validates("name")
    def _validate_name(self, key: str, value: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ScheduleValidationError("name", "must be a non-empty string")
        if len(value) > NAME_MAX_LENGTH:
            raise ScheduleValidationError("name", f"longer than {NAME_MAX_LENGTH} characters")
        return value

    @validates("schedule_type")
    def _validate_schedule_type(self, key: str, value: Any) -> ScheduleType:
        kind = coerce_enum(ScheduleType, value, "schedule_type", ScheduleValidationError)
        self._check_timing(kind, self.schedule_config, self.timezone)
        return kind

    @validates("schedule_config")
    def _validate_schedule_config(self, key: str, value: Any) -> Any:
        self._check_timing(self.schedule_type, value, self.timezone)
        return value

    @validates("timezone")
    def _validate_timezone(self, key: str, value: Any) -> str:
        get_zone(value)
        if len(value) > TIMEZONE_MAX_LENGTH:  # pragma: no cover - no IANA name is this long
            raise ScheduleValidationError("timezone", "too long")
        self._check_timing(self.schedule_type, self.schedule_config, value)
        return str(value)

    @validates("metadata_")
    def _validate_metadata(self, key: str, value: Any) -> Any:
        parse_run_options(value)
        return value

    def validate_json_change(self, key: str, value: Mapping[str, Any]) -> None:
        """Validate an in-place change of `schedule_config` or `metadata` before it is kept."""
        if key == "schedule_config":
            self._check_timing(self.schedule_type, value, self.timezone)
        elif key == "metadata_":
            parse_run_options(value)

    def _check_timing(self, schedule_type: Any, config: Any, timezone: str | None) -> None:
        if config is not None and not isinstance(config, Mapping):
            raise ScheduleValidationError(CONFIG_FIELD, "must be a JSON object")
        if schedule_type is None or config is None:
            return  # completed by the other attribute, or refused at flush
        build_trigger(schedule_type, config, timezone or "UTC", self.created_at)

    def validate(self) -> None:
        """Check the whole schedule (run at flush, so no path can skip it)."""
        for required in ("name", "schedule_type", "schedule_config"):
            if getattr(self, required) is None:
                raise ScheduleValidationError(required, "is required")
        coerce_enum(ScheduleType, self.schedule_type, "schedule_type", ScheduleValidationError)
        get_zone(self.timezone or "UTC")
        self.trigger()
        parse_run_options(self.metadata_ or {})
        if (self.run_count or 0) < 0:
            raise ScheduleValidationError("run_count", "cannot be negative")

    # -- time ---------------------------------------------------------------------------

    def definition(self) -> ScheduleDefinition:
        """`schedule_config` parsed in the schedule's zone (dates as UTC instants)."""
        return parse_definition(
            self.schedule_type, self.schedule_config, get_zone(self.timezone or "UTC")
        )

    def trigger(self) -> ScheduleTrigger:
        """This schedule's fire times as an APScheduler trigger (the firing engine's math)."""
        return trigger_of(self.definition(), self.created_at)

    @property
    def options(self) -> RunOptions:
        """Parsed metadata with the engine options (max_instances, coalesce, grace)."""
        return parse_run_options(self.metadata_ or {})

    def next_run_after(self, moment: datetime) -> datetime | None:
        """The first fire time strictly after `moment` (aware), in UTC; None when none remains."""
        return self.trigger().next_after(moment)

    def is_expired_at(self, now: datetime) -> bool:
        """Whether no fire can happen any more as of `now` (docs/schedules.md, "Expiry")."""
        return lifecycle.definition_is_expired(
            self.definition(), ran=self.has_run, grace=self.options.misfire_grace, now=now
        )

    def never_fires_reason(self, now: datetime) -> str | None:
        """Why the schedule could never fire from `now` on, were it active; None if it can."""
        return lifecycle.never_fires_reason(
            self.definition(),
            self.trigger(),
            ran=self.has_run,
            grace=self.options.misfire_grace,
            now=now,
        )

    @property
    def has_run(self) -> bool:
        """True once the firing engine has fired the schedule."""
        return lifecycle.has_run(self.last_run_at, self.run_count)

    @property
    def is_expired(self) -> bool:
        """True when the schedule can never fire again (end passed; one-time done or missed)."""
        return self.is_expired_at(utc_now())

    @property
    def is_one_time(self) -> bool:
        """True for a DATE schedule."""
        return self.schedule_type == ScheduleType.DATE

    @property
    def is_recurring(self) -> bool:
        """True for CRON and INTERVAL schedules."""
        return self.schedule_type in (ScheduleType.CRON, ScheduleType.INTERVAL)

    @property
    def is_live_and_active(self) -> bool:
        """Enabled and not deleted: the schedule may fire (`live_and_active_sql()` in SQL)."""
        return bool(self.is_active) and not self.is_deleted

    def upcoming_run(self, now: datetime) -> datetime | None:
        """What `next_run_at` should be as of `now`: None when inactive, deleted or expired.

        A one-time schedule whose `run_date` just passed (within its grace) is still due.
        """
        if not self.is_live_and_active:
            return None
        return self.next_fire_from(now)

    def next_fire_from(self, now: datetime) -> datetime | None:
        """The fire time `next_run_at` would hold if the schedule were active and live."""
        return lifecycle.upcoming_fire(
            self.trigger(), now, ran=self.has_run, grace=self.options.misfire_grace
        )

    # -- state changes ------------------------------------------------------------------

    def record_execution(self, at: datetime | None = None) -> None:
        """Note a run: `last_run_at` = `at` (default now), `run_count` + 1."""
        self.last_run_at = require_aware(at, "last_run_at") if at else utc_now()
        self.run_count = (self.run_count or 0) + 1

    def activate(self) -> None:
        """Enable the schedule and compute its next fire time; refused when expired."""
        if self.is_expired:
            raise ScheduleValidationError("is_active", "Cannot activate an expired schedule")
        self.is_active = True
        self.next_run_at = self.upcoming_run(utc_now())

    def deactivate(self) -> None:
        """Pause the schedule: it keeps its settings but has no next fire time."""
        self.is_active = False
        self.next_run_at = None

    def pause(self, note: str | None = None) -> None:
        """Deactivate, remembering when and why (the note is shown until resume)."""
        self.deactivate()
        self.paused_at = utc_now()
        self.pause_note = note

    def resume(self) -> None:
        """Activate again and forget the pause; refused (ScheduleValidationError) when expired."""
        self.activate()
        self.paused_at = None
        self.pause_note = None

    def soft_delete(self, at: datetime | None = None) -> None:
        """Delete the schedule (it never fires again); `is_active` is left as it was."""
        super().soft_delete(at)
        self.next_run_at = None

    def restore(self) -> None:
        """Undelete: a paused schedule stays paused, an active one gets a fresh next fire time."""
        super().restore()
        self.next_run_at = self.upcoming_run(utc_now())

    def prepare_for_flush(self, now: datetime, is_new: bool) -> None:
        """Validate, fill in `created_at` and `job_id`, and refresh `next_run_at` if needed."""
        self.validate()
        if self.created_at is None:
            self.created_at = now
        if self.job_id is None:
            self.job_id = job_id_for(self.id)
        state = inspect(self)
        if is_new or any(state.attrs[name].history.has_changes() for name in _TIMING_ATTRIBUTES):
            self.next_run_at = self.upcoming_run(now)
