"""Rules of the other models that need no database: enums, executions, edges, users."""

from __future__ import annotations

import uuid

import pytest

from app.core.errors import FieldValidationError
from app.models import (
    AuthMode,
    Edge,
    ExecutionStatus,
    LogLevel,
    ModelProvider,
    Node,
    NodeExecution,
    NodeType,
    ToolType,
    TriggerType,
    User,
    Workflow,
    WorkflowExecution,
)
from app.models.execution import InvalidTransitionError


@pytest.mark.parametrize(
    ("enum", "values"),
    [
        (NodeType, ["trigger", "tool", "agent", "condition", "adapter", "parallel", "aggregator"]),
        (ToolType, ["http", "mcp", "python", "shell", "builtin"]),
        (ModelProvider, ["anthropic", "openai", "glm"]),
        (ExecutionStatus, ["pending", "running", "completed", "failed", "skipped", "cancelled"]),
        (AuthMode, ["oauth", "standalone", "sdk", "glm"]),
        (TriggerType, ["schedule", "event", "manual"]),
        (LogLevel, ["debug", "info", "warning", "error"]),
    ],
)
def test_enum_values_and_str(enum: type, values: list[str]) -> None:
    assert [member.value for member in enum] == values
    assert [str(member) for member in enum] == values


def test_user_with_email_alone_is_valid() -> None:
    user = User(email="  Trader@Example.com ")
    assert user.email == "Trader@Example.com"
    assert user.is_active is True
    assert user.hashed_password is None


@pytest.mark.parametrize("email", ["", "no-at-sign", "@example.com", "a@b", "a b@example.com"])
def test_user_email_is_checked(email: str) -> None:
    with pytest.raises(FieldValidationError, match="email"):
        User(email=email)


def test_workflow_defaults() -> None:
    workflow = Workflow(owner_id=uuid.uuid4(), name="w")
    assert workflow.is_active is True
    assert workflow.version == 1
    assert workflow.deleted_at is None


def test_node_type_string_is_coerced_and_checked() -> None:
    node = Node(workflow_id=uuid.uuid4(), name="n", node_type="tool")
    assert node.node_type is NodeType.TOOL
    with pytest.raises(FieldValidationError, match="node_type"):
        Node(workflow_id=uuid.uuid4(), name="n", node_type="robot")


def test_node_timeout_must_be_positive() -> None:
    with pytest.raises(FieldValidationError, match="timeout_seconds"):
        Node(workflow_id=uuid.uuid4(), name="n", node_type="tool", timeout_seconds=0)


def test_edge_cannot_loop_on_one_node() -> None:
    node_id = uuid.uuid4()
    with pytest.raises(FieldValidationError, match="target_node_id"):
        Edge(workflow_id=uuid.uuid4(), source_node_id=node_id, target_node_id=node_id)
    edge = Edge(workflow_id=uuid.uuid4(), source_node_id=node_id, target_node_id=uuid.uuid4())
    with pytest.raises(FieldValidationError, match="source_node_id"):
        edge.source_node_id = edge.target_node_id


class TestExecutionTransitions:
    def execution(self) -> WorkflowExecution:
        return WorkflowExecution(workflow_id=uuid.uuid4(), trigger_type="manual")

    def test_happy_path(self) -> None:
        run = self.execution()
        assert run.status is ExecutionStatus.PENDING
        assert run.trigger_type is TriggerType.MANUAL
        run.start()
        assert run.status is ExecutionStatus.RUNNING
        assert run.started_at is not None
        run.complete({"orders": 3})
        assert run.status is ExecutionStatus.COMPLETED
        assert run.ended_at is not None
        assert run.output_data == {"orders": 3}
        assert run.is_finished is True

    def test_fail_records_reason(self) -> None:
        run = self.execution()
        run.start()
        run.fail("broker timeout")
        assert run.status is ExecutionStatus.FAILED
        assert run.error_message == "broker timeout"

    def test_cancel_and_skip_from_pending(self) -> None:
        cancelled, skipped = self.execution(), self.execution()
        cancelled.cancel()
        skipped.skip()
        assert cancelled.status is ExecutionStatus.CANCELLED
        assert skipped.status is ExecutionStatus.SKIPPED

    @pytest.mark.parametrize(
        ("prepare", "illegal"),
        [
            (lambda r: None, lambda r: r.complete()),
            (lambda r: r.start(), lambda r: r.start()),
            (lambda r: (r.start(), r.complete()), lambda r: r.fail("late")),
            (lambda r: r.cancel(), lambda r: r.start()),
            (lambda r: (r.start(), r.fail("x")), lambda r: r.cancel()),
            (lambda r: r.start(), lambda r: r.skip()),
        ],
    )
    def test_illegal_transitions_raise(self, prepare, illegal) -> None:  # type: ignore[no-untyped-def]
        run = self.execution()
        prepare(run)
        status = run.status
        with pytest.raises(InvalidTransitionError, match="status: cannot go from"):
            illegal(run)
        assert run.status is status

    def test_node_execution_has_the_same_lifecycle(self) -> None:
        node_run = NodeExecution(workflow_execution_id=uuid.uuid4(), node_id=uuid.uuid4())
        node_run.start()
        node_run.complete()
        assert node_run.status is ExecutionStatus.COMPLETED
        with pytest.raises(ValueError, match="cannot go from completed to running"):
            node_run.start()

    def test_unknown_status_is_refused(self) -> None:
        with pytest.raises(FieldValidationError, match="status"):
            WorkflowExecution(workflow_id=uuid.uuid4(), trigger_type="manual", status="done")


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Workflow(owner_id=uuid.uuid4(), name="a\x00b"), "name"),
        (lambda: Workflow(owner_id=uuid.uuid4(), name="w", config={"k\x00": 1}), "config.'k\\x00'"),
        (
            lambda: Workflow(owner_id=uuid.uuid4(), name="w", variables={"a": ["x\x00"]}),
            "variables.a[0]",
        ),
        (lambda: User(email="a\x00@example.com"), "email"),
    ],
)  # fmt: skip
def test_nul_characters_are_refused_naming_the_place(build: object, field: str) -> None:
    with pytest.raises(FieldValidationError) as caught:
        build()  # type: ignore[operator]
    assert caught.value.field == field
    assert "NUL" in caught.value.reason
