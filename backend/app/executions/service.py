"""Execution rules: who may read, run and cancel what (runtime.md, "API")."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.api.errors import ConflictError, NotFoundError
from app.core import metrics
from app.core.security import Principal
from app.executions import repository
from app.executions.schemas import ExecutionDetail, NodeRunRead
from app.models import ExecutionLog, ExecutionStatus, TriggerType, WorkflowExecution
from app.runtime.handoff import enqueue_executions
from app.workflows import service as workflows

_UNFINISHED = (ExecutionStatus.PENDING, ExecutionStatus.RUNNING)


async def require(
    session: AsyncSession, user: Principal, execution_id: uuid.UUID, *, lock: bool = False
) -> WorkflowExecution:
    """The user's execution; 404 when unknown or someone else's."""
    execution = await repository.get_owned(session, user.id, execution_id, lock=lock)
    if execution is None:
        raise NotFoundError("Execution not found")
    return execution


async def run(
    session: AsyncSession, user: Principal, workflow_id: uuid.UUID, run_input: dict[str, object]
) -> WorkflowExecution:
    """A pending manual execution of the user's workflow, handed to the queue in the same
    transaction; 409 when the workflow is inactive."""
    workflow = await workflows.require(session, user, workflow_id)
    if not workflow.is_active:
        raise ConflictError("Cannot run: the workflow is inactive")
    execution = WorkflowExecution(
        workflow_id=workflow.id, trigger_type=TriggerType.MANUAL, input_data=run_input
    )
    session.add(execution)
    await session.flush()
    await enqueue_executions(await session.connection(), [execution.id])
    return execution


async def detail(
    session: AsyncSession, user: Principal, execution_id: uuid.UUID
) -> ExecutionDetail:
    """The user's execution with its node runs."""
    execution = await require(session, user, execution_id)
    nodes = [NodeRunRead.of(row) for row in await repository.node_runs(session, execution.id)]
    return ExecutionDetail.model_validate(ExecutionDetail.columns_of(execution) | {"nodes": nodes})


async def list_page(
    session: AsyncSession,
    user: Principal,
    *,
    workflow_id: uuid.UUID | None,
    schedule_id: uuid.UUID | None,
    status: ExecutionStatus | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[WorkflowExecution], str | None]:
    """A page of the user's executions, newest first."""
    return await repository.list_owned(
        session, user.id, workflow_id=workflow_id, schedule_id=schedule_id, status=status,
        cursor=cursor, limit=limit,
    )  # fmt: skip


async def logs(
    session: AsyncSession, user: Principal, execution_id: uuid.UUID, *, cursor: str | None,
    limit: int,
) -> tuple[list[ExecutionLog], str | None]:  # fmt: skip
    """A page of the user's execution's log, oldest first."""
    execution = await require(session, user, execution_id)
    return await repository.logs(session, execution.id, cursor=cursor, limit=limit)


async def cancel(
    session: AsyncSession, user: Principal, execution_id: uuid.UUID
) -> WorkflowExecution:
    """Cancel a pending execution (it never starts) or a running one (its worker stops it
    within seconds); 409 once it has finished."""
    execution = await require(session, user, execution_id, lock=True)
    if execution.status not in _UNFINISHED:
        raise ConflictError(f"Cannot cancel: the execution is already {execution.status}")
    execution.cancel()
    execution.error_message = "cancelled by a user"
    # Its node runs end with it, whether or not a worker is there to notice.
    await repository.cancel_node_runs(session, execution.id)
    session.add(
        ExecutionLog(
            workflow_execution_id=execution.id, level="warning", message="cancel requested"
        )
    )
    await session.flush()
    metrics.EXECUTIONS_FINISHED.labels("cancelled").inc()
    return execution
