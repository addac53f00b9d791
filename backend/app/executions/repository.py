"""Execution queries, always scoped to the owner of the execution's workflow; none commits."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import RowMapping, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.pagination import decode_cursor, encode_cursor, page_of, paginate
from app.models import (
    ExecutionLog,
    ExecutionStatus,
    Node,
    NodeExecution,
    Workflow,
    WorkflowExecution,
)


def _owned(owner_id: uuid.UUID) -> Any:
    return (
        select(WorkflowExecution)
        .join(Workflow, Workflow.id == WorkflowExecution.workflow_id)
        .where(Workflow.owner_id == owner_id)
    )


async def get_owned(
    session: AsyncSession, owner_id: uuid.UUID, execution_id: uuid.UUID, *, lock: bool = False
) -> WorkflowExecution | None:
    """The execution when its workflow is the owner's, else None."""
    statement = _owned(owner_id).where(WorkflowExecution.id == execution_id)
    if lock:
        statement = statement.with_for_update(of=WorkflowExecution)
    execution: WorkflowExecution | None = await session.scalar(statement)
    return execution


async def list_owned(
    session: AsyncSession,
    owner_id: uuid.UUID,
    *,
    workflow_id: uuid.UUID | None,
    schedule_id: uuid.UUID | None,
    status: ExecutionStatus | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[WorkflowExecution], str | None]:
    """A page of the owner's executions, newest first."""
    statement = _owned(owner_id)
    if workflow_id is not None:
        statement = statement.where(WorkflowExecution.workflow_id == workflow_id)
    if schedule_id is not None:
        statement = statement.where(WorkflowExecution.schedule_id == schedule_id)
    if status is not None:
        statement = statement.where(WorkflowExecution.status == status)
    statement = paginate(
        statement, WorkflowExecution.created_at, WorkflowExecution.id, cursor, limit
    )
    return page_of(list(await session.scalars(statement)), limit)


async def node_runs(session: AsyncSession, execution_id: uuid.UUID) -> list[RowMapping]:
    """The execution's node runs with their node's name and type, in start order."""
    statement = (
        select(
            NodeExecution.__table__,
            Node.name.label("node_name"),
            Node.node_type.label("node_type"),
        )
        .join(Node, Node.id == NodeExecution.node_id)
        .where(NodeExecution.workflow_execution_id == execution_id)
        .order_by(NodeExecution.started_at, NodeExecution.created_at, NodeExecution.id)
    )
    return list((await session.execute(statement)).mappings())


async def logs(
    session: AsyncSession, execution_id: uuid.UUID, *, cursor: str | None, limit: int
) -> tuple[list[ExecutionLog], str | None]:
    """A page of the execution's log, oldest first."""
    statement = select(ExecutionLog).where(ExecutionLog.workflow_execution_id == execution_id)
    if cursor is not None:
        moment, row_id = decode_cursor(cursor)
        statement = statement.where(
            tuple_(ExecutionLog.timestamp, ExecutionLog.id) > tuple_(moment, row_id)
        )
    statement = statement.order_by(ExecutionLog.timestamp, ExecutionLog.id).limit(limit + 1)
    rows = list(await session.scalars(statement))
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor(last.timestamp, last.id)


async def cancel_node_runs(session: AsyncSession, execution_id: uuid.UUID) -> None:
    """End the execution's running node runs as cancelled."""
    await session.execute(
        update(NodeExecution)
        .where(
            NodeExecution.workflow_execution_id == execution_id,
            NodeExecution.status.in_([ExecutionStatus.RUNNING, ExecutionStatus.PENDING]),
        )
        .values(status=ExecutionStatus.CANCELLED, ended_at=func.now(), error_message="cancelled")
        .execution_options(synchronize_session=False)
    )
