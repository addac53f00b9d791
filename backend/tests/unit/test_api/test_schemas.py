"""Read models are built one safe way (`of`, by column name); PATCH bodies share one rule."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from app.schedules.schemas import ScheduleRead, ScheduleUpdate
from app.workflows.schemas import WorkflowRead, WorkflowUpdate
from tests.factories import make_schedule, make_user, make_workflow


def test_a_schedule_read_model_takes_the_metadata_column_not_sqlalchemy_metadata() -> None:
    workflow = make_workflow(make_user())
    schedule = make_schedule(workflow, metadata_={"priority": "high", "tags": ["open"]})
    read = ScheduleRead.of(schedule)
    assert read.metadata == {"priority": "high", "tags": ["open"]}
    assert read.id == schedule.id
    assert read.schedule_description.startswith("At 09:00")


def test_read_models_cannot_be_built_from_attributes() -> None:
    """`model_validate(orm_object)` is not a way in: only `of` is."""
    now = datetime.now(UTC)
    workflow = make_workflow(make_user(), created_at=now, updated_at=now, config={}, variables={})
    with pytest.raises(ValueError, match="valid dictionary"):
        WorkflowRead.model_validate(workflow)
    assert WorkflowRead.of(workflow).id == workflow.id


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, {}),
        ({"name": None}, {}),
        ({"name": "new"}, {"name": "new"}),
        ({"description": None}, {"description": None}),
        ({"config": None, "is_active": None, "variables": {"a": 1}}, {"variables": {"a": 1}}),
    ],
)
def test_patch_leaves_absent_and_null_fields_alone_except_clearable_ones(
    body: dict[str, object], expected: dict[str, object]
) -> None:
    assert WorkflowUpdate.model_validate(body).changes() == expected


def test_schedule_patch_follows_the_same_rule() -> None:
    changes = ScheduleUpdate.model_validate(
        {"description": None, "timezone": None, "metadata": {"priority": "low"}}
    ).changes()
    assert changes == {"description": None, "metadata": {"priority": "low"}}
    with pytest.raises(ValueError, match="cannot be changed"):
        ScheduleUpdate.model_validate({"workflow_id": str(uuid.uuid4())})
