"""Small builders for valid objects; tests override only what they are about."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Schedule, User, Workflow


def make_user(**overrides: Any) -> User:
    """A valid user with a unique email."""
    return User(**{"email": f"user-{uuid.uuid4().hex[:12]}@example.com", **overrides})


def make_workflow(owner: User, **overrides: Any) -> Workflow:
    """A valid workflow owned by `owner`."""
    return Workflow(**{"owner_id": owner.id, "name": "Market open", **overrides})


def make_schedule(workflow: Workflow, **overrides: Any) -> Schedule:
    """A valid weekday 09:00 cron schedule of `workflow`."""
    values: dict[str, Any] = {
        "workflow_id": workflow.id,
        "user_id": workflow.owner_id,
        "name": "KOSPI open",
        "schedule_type": "cron",
        "schedule_config": {"cron_expression": "0 9 * * 1-5"},
        "timezone": "Asia/Seoul",
        **overrides,
    }
    return Schedule(**values)


async def persisted_workflow(session: AsyncSession) -> Workflow:
    """A user and a workflow, flushed."""
    user = make_user()
    session.add(user)
    workflow = make_workflow(user)
    session.add(workflow)
    await session.flush()
    return workflow
