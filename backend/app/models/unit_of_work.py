"""Unit-of-work rules: checked at every flush, whichever code path changed the objects.

- A workflow soft-deleted in this flush takes its live schedules with it (same
  timestamp); restoring it brings back exactly those (docs/data-model.md).
- Every new or changed schedule is validated and its `next_run_at` kept current.
- Every JSON column written is within the stored-value rules, also after an in-place
  change that no assignment saw (`app.core.json_values`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session, UOWTransaction

from app.core.clock import utc_now
from app.core.json_values import check_json_value
from app.models.base import Base
from app.models.column_guards import json_attributes
from app.models.schedule import Schedule
from app.models.workflow import Workflow


def _cascade_workflow_deletion(session: Session, workflow: Workflow) -> None:
    history = inspect(workflow).attrs.deleted_at.history
    if not history.has_changes():
        return
    before: datetime | None = history.deleted[0] if history.deleted else None
    after = workflow.deleted_at
    if before is None and after is not None:
        live = select(Schedule).where(Schedule.workflow_id == workflow.id, Schedule.not_deleted())
        pending = [
            obj
            for obj in session.new
            if isinstance(obj, Schedule) and obj.workflow_id == workflow.id and not obj.is_deleted
        ]
        for schedule in [*session.scalars(live), *pending]:
            schedule.soft_delete(at=after)
    elif before is not None and after is None:
        taken = select(Schedule).where(
            Schedule.workflow_id == workflow.id, Schedule.deleted_at == before
        )
        for schedule in session.scalars(taken):
            schedule.restore()


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, context: UOWTransaction, instances: Any) -> None:
    for obj in list(session.dirty):
        if isinstance(obj, Workflow):
            _cascade_workflow_deletion(session, obj)
    now = utc_now()
    new = set(session.new)
    for obj in [*new, *session.dirty]:
        if isinstance(obj, Schedule):
            obj.prepare_for_flush(now, is_new=obj in new)
        if isinstance(obj, Base):
            _check_json_columns(obj, is_new=obj in new)


def _check_json_columns(obj: Base, *, is_new: bool) -> None:
    state = inspect(obj)
    for key in json_attributes(state.mapper):
        if is_new or state.attrs[key].history.has_changes():
            value = getattr(obj, key)
            if value is not None:
                check_json_value(value, key.rstrip("_"))
