"""The worker's SQL: claim an execution, record node runs and log lines, finish.

Every write after the claim is fenced by the execution's `run_token`: a worker that lost
the execution (it went silent and another took over, or the execution was cancelled)
writes nothing more, and learns so from the row count.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models.base import not_deleted_sql

# The execution is still this worker run's to write.
_HELD = "EXISTS (SELECT 1 FROM workflow_executions h WHERE h.id = :execution_id AND h.run_token = :token AND h.status = 'running')"  # noqa: E501


def dumps(value: Any) -> str:
    """`value` as JSON text PostgreSQL's jsonb accepts (no NaN, no NUL characters)."""
    encoded = json.dumps(value, allow_nan=False, separators=(",", ":"))
    if "\\u0000" in encoded:
        raise ValueError("holds a NUL character, which PostgreSQL cannot store")
    return encoded


@dataclass(frozen=True, slots=True)
class ExecutionRow:
    """The execution as the worker reads it."""

    id: uuid.UUID
    workflow_id: uuid.UUID
    schedule_id: uuid.UUID | None
    status: str
    trigger_type: str
    scheduled_for: datetime | None
    started_at: datetime | None
    input_data: dict[str, Any]
    attempt: int
    run_token: uuid.UUID | None


_EXECUTION = """
    SELECT id, workflow_id, schedule_id, status, trigger_type, scheduled_for, started_at,
           input_data, attempt, run_token
      FROM workflow_executions WHERE id = :id
"""


async def read_execution(
    connection: AsyncConnection, execution_id: uuid.UUID, *, lock: bool = False
) -> ExecutionRow | None:
    """The execution, locked for this transaction when `lock`."""
    statement = _EXECUTION + (" FOR UPDATE" if lock else "")
    row = (await connection.execute(text(statement), {"id": execution_id})).one_or_none()
    return None if row is None else ExecutionRow(*row)


async def lock_schedule_metadata(
    connection: AsyncConnection, schedule_id: uuid.UUID
) -> dict[str, Any] | None:
    """Lock the schedule (the point where workers agree on max_instances); its metadata."""
    row = (
        await connection.execute(
            text("SELECT metadata FROM schedules WHERE id = :id FOR UPDATE"), {"id": schedule_id}
        )
    ).one_or_none()
    return None if row is None else dict(row[0] or {})


async def count_running(connection: AsyncConnection, schedule_id: uuid.UUID) -> int:
    """A schedule's running executions."""
    count: int = await connection.scalar(
        text(
            "SELECT count(*) FROM workflow_executions "
            "WHERE schedule_id = :id AND status = 'running'"
        ),
        {"id": schedule_id},
    )
    return count


async def skip_for_max_instances(
    connection: AsyncConnection, execution: ExecutionRow, running: int, limit: int
) -> None:
    """Skip a pending execution of a schedule at its limit, counted on the schedule."""
    reason = f"skipped: max_instances ({running} of {limit} running)"
    await connection.execute(
        text(
            "UPDATE workflow_executions SET status = 'skipped', ended_at = now(), "
            "error_message = :reason, updated_at = now() WHERE id = :id"
        ),
        {"id": execution.id, "reason": reason},
    )
    await connection.execute(
        text(
            "UPDATE schedules SET skipped_count = skipped_count + 1, "
            "last_skip_reason = 'max_instances', last_skipped_at = now() WHERE id = :id"
        ),
        {"id": execution.schedule_id},
    )
    await log(connection, execution.id, None, "warning", reason)


async def start(
    connection: AsyncConnection, execution_id: uuid.UUID, token: uuid.UUID, attempt: int
) -> datetime:
    """Mark the execution running under `token`; its start time (kept from attempt 1)."""
    started: datetime = await connection.scalar(
        text(
            "UPDATE workflow_executions SET status = 'running', attempt = :attempt, "
            "run_token = :token, started_at = COALESCE(started_at, now()), updated_at = now() "
            "WHERE id = :id RETURNING started_at"
        ),
        {"id": execution_id, "token": token, "attempt": attempt},
    )
    return started


async def interrupt_node_runs(
    connection: AsyncConnection, execution_id: uuid.UUID, status: str, reason: str
) -> int:
    """End the node runs left running (by a lost worker, or at cancel); how many."""
    result = await connection.execute(
        text(
            "UPDATE node_executions SET status = :status, ended_at = now(), "
            "error_message = :reason, updated_at = now() "
            "WHERE workflow_execution_id = :id AND status IN ('running', 'pending')"
        ),
        {"id": execution_id, "status": status, "reason": reason},
    )
    return result.rowcount


async def end_execution(
    connection: AsyncConnection,
    execution_id: uuid.UUID,
    status: str,
    *,
    token: uuid.UUID | None = None,
    output: dict[str, Any] | None = None,
    error: str | None = None,
) -> bool:
    """Finish a pending or running execution (only while `token` holds it, when given)."""
    fence = " AND run_token = :token" if token is not None else ""
    result = await connection.execute(
        text(
            "UPDATE workflow_executions SET status = :status, ended_at = now(), "
            "output_data = CAST(:output AS jsonb), error_message = :error, updated_at = now() "
            f"WHERE id = :id AND status IN ('pending', 'running'){fence}"
        ),
        {
            "id": execution_id,
            "status": status,
            "token": token,
            "output": None if output is None else dumps(output),
            "error": error,
        },
    )
    return result.rowcount == 1


async def log(
    connection: AsyncConnection,
    execution_id: uuid.UUID,
    node_execution_id: uuid.UUID | None,
    level: str,
    message: str,
    *,
    data: dict[str, Any] | None = None,
) -> None:
    """One line of the execution's log."""
    await connection.execute(
        text(
            "INSERT INTO execution_logs (id, workflow_execution_id, node_execution_id, level, "
            "message, data, timestamp) VALUES (gen_random_uuid(), :id, :node, :level, :message, "
            "CAST(:data AS jsonb), now())"
        ),
        {
            "id": execution_id,
            "node": node_execution_id,
            "level": level,
            "message": message,
            "data": None if data is None else dumps(data),
        },
    )


@dataclass(frozen=True, slots=True)
class GraphRows:
    """The workflow and its graph as stored, for one run."""

    is_active: bool
    deleted: bool
    owner_id: uuid.UUID
    variables: dict[str, Any]
    nodes: list[dict[str, Any]]
    edges: list[tuple[uuid.UUID, uuid.UUID, str | None]]


async def read_graph(connection: AsyncConnection, workflow_id: uuid.UUID) -> GraphRows | None:
    """The workflow, its nodes (with the tool or agent each uses, when usable by the owner:
    own or public, and not deleted) and its edges."""
    workflow = (
        await connection.execute(
            text(
                "SELECT is_active, deleted_at IS NOT NULL, owner_id, variables "
                "FROM workflows WHERE id = :id"
            ),
            {"id": workflow_id},
        )
    ).one_or_none()
    if workflow is None:
        return None
    usable = "({t}.owner_id = w.owner_id OR {t}.is_public) AND " + not_deleted_sql("{t}")
    nodes = await connection.execute(
        text(
            f"""
            SELECT n.id, n.name, n.node_type, n.config, n.timeout_seconds, n.retry_config,
                   t.name AS tool_name, t.tool_type, t.config AS tool_config, t.auth_config,
                   a.name AS agent_name, a.system_prompt, a.llm_config
              FROM nodes n JOIN workflows w ON w.id = n.workflow_id
              LEFT JOIN tools t ON t.id = n.tool_id AND {usable.format(t="t")}
              LEFT JOIN agents a ON a.id = n.agent_id AND {usable.format(t="a")}
             WHERE n.workflow_id = :id ORDER BY n.created_at, n.id
            """
        ),
        {"id": workflow_id},
    )
    edges = await connection.execute(
        text(
            "SELECT source_node_id, target_node_id, source_handle FROM edges "
            "WHERE workflow_id = :id ORDER BY priority, created_at, id"
        ),
        {"id": workflow_id},
    )
    return GraphRows(
        is_active=workflow[0],
        deleted=workflow[1],
        owner_id=workflow[2],
        variables=dict(workflow[3] or {}),
        nodes=[dict(row._mapping) for row in nodes],
        edges=[(row[0], row[1], row[2]) for row in edges],
    )


async def completed_node_runs(
    connection: AsyncConnection, execution_id: uuid.UUID
) -> dict[uuid.UUID, dict[str, Any]]:
    """Outputs of the nodes an earlier attempt completed (they are not run again)."""
    rows = await connection.execute(
        text(
            "SELECT node_id, output_data FROM node_executions "
            "WHERE workflow_execution_id = :id AND status = 'completed'"
        ),
        {"id": execution_id},
    )
    return {row[0]: dict(row[1] or {}) for row in rows}


async def begin_node_run(
    connection: AsyncConnection,
    execution_id: uuid.UUID,
    token: uuid.UUID,
    node_id: uuid.UUID,
    *,
    attempt: int,
    input_data: dict[str, Any],
) -> uuid.UUID | None:
    """A running node run; None when the execution is no longer this run's."""
    node_execution_id: uuid.UUID | None = await connection.scalar(
        text(
            "INSERT INTO node_executions (id, workflow_execution_id, node_id, status, "
            "started_at, input_data, attempt, retry_count, created_at, updated_at) "
            "SELECT gen_random_uuid(), :execution_id, :node_id, 'running', now(), "
            f"CAST(:input AS jsonb), :attempt, 0, now(), now() WHERE {_HELD} RETURNING id"
        ),
        {
            "execution_id": execution_id,
            "token": token,
            "node_id": node_id,
            "attempt": attempt,
            "input": dumps(input_data),
        },
    )
    return node_execution_id


async def end_node_run(
    connection: AsyncConnection,
    execution_id: uuid.UUID,
    token: uuid.UUID,
    node_execution_id: uuid.UUID,
    status: str,
    *,
    retry_count: int,
    output: dict[str, Any] | None = None,
    error: str | None = None,
) -> bool:
    """Finish a node run; False when the execution is no longer this run's."""
    result = await connection.execute(
        text(
            "UPDATE node_executions SET status = :status, ended_at = now(), "
            "output_data = CAST(:output AS jsonb), error_message = :error, "
            "retry_count = :retry_count, updated_at = now() "
            f"WHERE id = :node_execution_id AND {_HELD}"
        ),
        {
            "execution_id": execution_id,
            "token": token,
            "node_execution_id": node_execution_id,
            "status": status,
            "retry_count": retry_count,
            "output": None if output is None else dumps(output),
            "error": error,
        },
    )
    return result.rowcount == 1


async def record_node_runs(
    connection: AsyncConnection,
    execution_id: uuid.UUID,
    token: uuid.UUID,
    attempt: int,
    runs: list[tuple[uuid.UUID, str, dict[str, Any], dict[str, Any] | None]],
) -> bool:
    """Node runs that ended as they began (pure nodes; skips): (node id, status, input,
    output), in one statement. False when the execution is no longer this run's."""
    if not runs:
        return True
    result = await connection.execute(
        text(
            "INSERT INTO node_executions (id, workflow_execution_id, node_id, status, "
            "started_at, ended_at, input_data, output_data, attempt, retry_count, created_at, "
            "updated_at) "
            "SELECT gen_random_uuid(), :execution_id, r.node_id, r.status, now(), now(), "
            "CAST(r.input AS jsonb), CAST(r.output AS jsonb), :attempt, 0, now(), now() "
            "FROM unnest(CAST(:node_ids AS uuid[]), CAST(:statuses AS text[]), "
            "CAST(:inputs AS text[]), CAST(:outputs AS text[])) "
            f"AS r(node_id, status, input, output) WHERE {_HELD}"
        ),
        {
            "execution_id": execution_id,
            "token": token,
            "attempt": attempt,
            "node_ids": [run[0] for run in runs],
            "statuses": [run[1] for run in runs],
            "inputs": [dumps(run[2]) for run in runs],
            "outputs": [None if run[3] is None else dumps(run[3]) for run in runs],
        },
    )
    return result.rowcount == len(runs)


async def status_and_token(
    connection: AsyncConnection, execution_id: uuid.UUID
) -> tuple[str, uuid.UUID | None] | None:
    """The execution's status and holder (what the watcher polls)."""
    row = (
        await connection.execute(
            text("SELECT status, run_token FROM workflow_executions WHERE id = :id"),
            {"id": execution_id},
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])
