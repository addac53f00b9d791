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
    """`value` as JSON text (already checked with app.core.json_values.check_json_value,
    which refuses what jsonb would: NaN, NUL characters, lone surrogates)."""
    return json.dumps(value, allow_nan=False, separators=(",", ":"))


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


@dataclass(frozen=True, slots=True)
class WorkflowRow:
    """The execution's workflow as the claim reads it."""

    version: int
    is_active: bool
    deleted: bool
    owner_id: uuid.UUID
    variables: dict[str, Any]


_CLAIM = text(
    """
    SELECT e.id, e.workflow_id, e.schedule_id, e.status, e.trigger_type, e.scheduled_for,
           e.started_at, e.input_data, e.attempt, e.run_token,
           w.version, w.is_active, w.deleted_at IS NOT NULL, w.owner_id, w.variables
      FROM workflow_executions e JOIN workflows w ON w.id = e.workflow_id
     WHERE e.id = :id
       FOR UPDATE OF e
    """
)


async def lock_execution(
    connection: AsyncConnection, execution_id: uuid.UUID
) -> tuple[ExecutionRow, WorkflowRow] | None:
    """The execution, locked for this transaction, with its workflow."""
    row = (await connection.execute(_CLAIM, {"id": execution_id})).one_or_none()
    if row is None:
        return None
    return ExecutionRow(*row[:10]), WorkflowRow(row[10], row[11], row[12], row[13], row[14] or {})


_LOCK_SCHEDULE = text("SELECT metadata FROM schedules WHERE id = :id FOR UPDATE")
_COUNT_RUNNING = text(
    "SELECT count(*) FROM workflow_executions WHERE schedule_id = :id AND status = 'running'"
)


async def lock_schedule_metadata(
    connection: AsyncConnection, schedule_id: uuid.UUID
) -> dict[str, Any] | None:
    """Lock the schedule (the point where workers agree on max_instances); its metadata."""
    row = (await connection.execute(_LOCK_SCHEDULE, {"id": schedule_id})).one_or_none()
    return None if row is None else dict(row[0] or {})


async def count_running(connection: AsyncConnection, schedule_id: uuid.UUID) -> int:
    """A schedule's running executions (counted after the schedule's lock is held, so the
    count includes every start committed before)."""
    count: int = await connection.scalar(_COUNT_RUNNING, {"id": schedule_id})
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


_START = text(
    """
    WITH started AS (
        UPDATE workflow_executions SET status = 'running', attempt = :attempt,
               run_token = :token, started_at = COALESCE(started_at, now()), updated_at = now()
         WHERE id = :id RETURNING id, started_at
    ), logged AS (
        INSERT INTO execution_logs (id, workflow_execution_id, level, message, timestamp)
        SELECT gen_random_uuid(), id, 'info', :message, clock_timestamp() FROM started
         WHERE CAST(:message AS text) IS NOT NULL
    )
    SELECT started_at FROM started
    """
)


async def start(
    connection: AsyncConnection,
    execution_id: uuid.UUID,
    token: uuid.UUID,
    attempt: int,
    message: str | None = None,
) -> datetime:
    """Mark the execution running under `token` (with a log line, when given); its start
    time (kept from attempt 1)."""
    started: datetime = await connection.scalar(
        _START, {"id": execution_id, "token": token, "attempt": attempt, "message": message}
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


_END_EXECUTION = text(
    """
    WITH ended AS (
        UPDATE workflow_executions SET status = :status, ended_at = now(),
               output_data = CAST(:output AS jsonb), error_message = :error, updated_at = now()
         WHERE id = :id AND status IN ('pending', 'running')
           AND (CAST(:token AS uuid) IS NULL OR run_token = CAST(:token AS uuid))
        RETURNING id
    ), logged AS (
        INSERT INTO execution_logs (id, workflow_execution_id, level, message, timestamp)
        SELECT gen_random_uuid(), id, :level, :message, clock_timestamp() FROM ended
    )
    SELECT id FROM ended
    """
)


async def end_execution(
    connection: AsyncConnection,
    execution_id: uuid.UUID,
    status: str,
    *,
    token: uuid.UUID | None = None,
    output: dict[str, Any] | None = None,
    error: str | None = None,
    log: tuple[str, str] | None = None,
) -> bool:
    """Finish a pending or running execution (only while `token` holds it, when given),
    with a log line: `log` (level, message), or the error at level error."""
    level, message = log or ("error", error or status)
    ended = await connection.scalar(
        _END_EXECUTION,
        {
            "id": execution_id,
            "status": status,
            "token": token,
            "output": None if output is None else dumps(output),
            "error": error,
            "level": level,
            "message": message,
        },
    )
    return ended is not None


_LOG = text(
    "INSERT INTO execution_logs (id, workflow_execution_id, node_execution_id, level, "
    "message, data, timestamp) VALUES (gen_random_uuid(), :id, :node, :level, :message, "
    "CAST(:data AS jsonb), clock_timestamp())"
)


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
        _LOG,
        {
            "id": execution_id,
            "node": node_execution_id,
            "level": level,
            "message": message,
            "data": None if data is None else dumps(data),
        },
    )


_NODES = text(
    "SELECT id, name, node_type, config, timeout_seconds, retry_config, tool_id, agent_id "
    "FROM nodes WHERE workflow_id = :id ORDER BY created_at, id"
)
_EDGES = text(
    "SELECT source_node_id, target_node_id, source_handle FROM edges "
    "WHERE workflow_id = :id ORDER BY priority, created_at, id"
)


async def read_graph(
    connection: AsyncConnection, workflow_id: uuid.UUID
) -> tuple[list[dict[str, Any]], list[tuple[uuid.UUID, uuid.UUID, str | None]]]:
    """A workflow's nodes and edges as stored (what its `version` names)."""
    nodes = await connection.execute(_NODES, {"id": workflow_id})
    edges = await connection.execute(_EDGES, {"id": workflow_id})
    return (
        [dict(row._mapping) for row in nodes],
        [(row[0], row[1], row[2]) for row in edges],
    )


# The tools and agents `owner_id` may use (own or public, not deleted), read at every run so
# that a change to one is seen by the next run.
_USABLE = text(
    f"""
    SELECT 'tool', id, name, tool_type, config, auth_config, NULL, NULL FROM tools
     WHERE id = ANY(CAST(:tool_ids AS uuid[])) AND (owner_id = :owner OR is_public)
       AND {not_deleted_sql()}
    UNION ALL
    SELECT 'agent', id, name, NULL, NULL, NULL, system_prompt, llm_config FROM agents
     WHERE id = ANY(CAST(:agent_ids AS uuid[])) AND (owner_id = :owner OR is_public)
       AND {not_deleted_sql()}
    """
)


async def usable_refs(
    connection: AsyncConnection,
    owner_id: uuid.UUID,
    tool_ids: list[uuid.UUID],
    agent_ids: list[uuid.UUID],
) -> dict[uuid.UUID, tuple[Any, ...]]:
    """By id: ('tool', id, name, tool_type, config, auth_config, ...) or ('agent', id, name,
    ..., system_prompt, llm_config), for those the owner may use."""
    if not tool_ids and not agent_ids:
        return {}
    rows = await connection.execute(
        _USABLE, {"owner": owner_id, "tool_ids": tool_ids, "agent_ids": agent_ids}
    )
    return {row[1]: tuple(row) for row in rows}


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


_BEGIN_NODE_RUNS = text(
    "INSERT INTO node_executions (id, workflow_execution_id, node_id, status, started_at, "
    "input_data, attempt, retry_count, created_at, updated_at) "
    "SELECT gen_random_uuid(), :execution_id, r.node_id, 'running', clock_timestamp(), "
    "CAST(r.input AS jsonb), :attempt, 0, now(), now() "
    "FROM unnest(CAST(:node_ids AS uuid[]), CAST(:inputs AS text[])) AS r(node_id, input) "
    f"WHERE {_HELD} RETURNING node_id, id"
)


async def begin_node_runs(
    connection: AsyncConnection,
    execution_id: uuid.UUID,
    token: uuid.UUID,
    attempt: int,
    runs: list[tuple[uuid.UUID, dict[str, Any]]],
) -> dict[uuid.UUID, uuid.UUID] | None:
    """Running node runs for (node id, input) in one statement: node id -> node run id;
    None when the execution is no longer this run's."""
    rows = await connection.execute(
        _BEGIN_NODE_RUNS,
        {
            "execution_id": execution_id,
            "token": token,
            "attempt": attempt,
            "node_ids": [node_id for node_id, _ in runs],
            "inputs": [dumps(node_input) for _, node_input in runs],
        },
    )
    started = {row[0]: row[1] for row in rows}
    return started if len(started) == len(runs) else None


_END_NODE_RUN = text(
    f"""
    WITH ended AS (
        UPDATE node_executions SET status = :status, ended_at = now(),
               output_data = CAST(:output AS jsonb), error_message = :error,
               retry_count = :retry_count, updated_at = now()
         WHERE id = :node_execution_id AND {_HELD}
        RETURNING id
    ), logged AS (
        INSERT INTO execution_logs (id, workflow_execution_id, node_execution_id, level,
                                    message, data, timestamp)
        SELECT gen_random_uuid(), :execution_id, id, :level, :message, CAST(:data AS jsonb),
               clock_timestamp() FROM ended
    )
    SELECT id FROM ended
    """
)


_COMPLETE_NODE_RUNS = text(
    f"""
    WITH done AS (
        SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:retry_counts AS integer[]),
                             CAST(:outputs AS text[]), CAST(:messages AS text[]),
                             CAST(:data AS text[]))
               AS u(id, retry_count, output, message, data)
    ), ended AS (
        UPDATE node_executions n SET status = 'completed', ended_at = now(),
               output_data = CAST(done.output AS jsonb), retry_count = done.retry_count,
               updated_at = now()
          FROM done WHERE n.id = done.id AND {_HELD}
        RETURNING n.id, done.message, done.data
    ), logged AS (
        INSERT INTO execution_logs (id, workflow_execution_id, node_execution_id, level,
                                    message, data, timestamp)
        SELECT gen_random_uuid(), :execution_id, id, 'info', message, CAST(data AS jsonb),
               clock_timestamp() FROM ended
    )
    SELECT count(*) FROM ended
    """
)


async def complete_node_runs(
    connection: AsyncConnection,
    execution_id: uuid.UUID,
    token: uuid.UUID,
    ends: list[tuple[uuid.UUID, int, dict[str, Any], str]],
) -> bool:
    """Node runs that completed: (node run id, retry count, output, log message), each with
    its log line, in one statement; False when the execution is no longer this run's."""
    if not ends:
        return True
    count: int = await connection.scalar(
        _COMPLETE_NODE_RUNS,
        {
            "execution_id": execution_id,
            "token": token,
            "ids": [end[0] for end in ends],
            "retry_counts": [end[1] for end in ends],
            "outputs": [dumps(end[2]) for end in ends],
            "messages": [end[3] for end in ends],
            "data": [dumps({"attempt": end[1] + 1}) for end in ends],
        },
    )
    return count == len(ends)


async def end_node_run(
    connection: AsyncConnection,
    execution_id: uuid.UUID,
    token: uuid.UUID,
    node_execution_id: uuid.UUID,
    status: str,
    *,
    retry_count: int,
    log: tuple[str, str, dict[str, Any]],
    output: dict[str, Any] | None = None,
    error: str | None = None,
) -> bool:
    """Finish a node run with its log line (level, message, data); False when the
    execution is no longer this run's."""
    level, message, data = log
    ended = await connection.scalar(
        _END_NODE_RUN,
        {
            "execution_id": execution_id,
            "token": token,
            "node_execution_id": node_execution_id,
            "status": status,
            "retry_count": retry_count,
            "output": None if output is None else dumps(output),
            "error": error,
            "level": level,
            "message": message,
            "data": dumps(data),
        },
    )
    return ended is not None


# clock_timestamp(): node runs written in one transaction keep the order they are given.
_RECORD_NODE_RUNS = text(
    "INSERT INTO node_executions (id, workflow_execution_id, node_id, status, "
    "started_at, ended_at, input_data, output_data, attempt, retry_count, created_at, "
    "updated_at) "
    "SELECT gen_random_uuid(), :execution_id, r.node_id, r.status, clock_timestamp(), "
    "clock_timestamp(), "
    "CAST(r.input AS jsonb), CAST(r.output AS jsonb), :attempt, 0, now(), now() "
    "FROM unnest(CAST(:node_ids AS uuid[]), CAST(:statuses AS text[]), "
    "CAST(:inputs AS text[]), CAST(:outputs AS text[])) "
    f"AS r(node_id, status, input, output) WHERE {_HELD}"
)


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
        _RECORD_NODE_RUNS,
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


_BEAT = text(
    """
    WITH beat AS (
        UPDATE workflow_executions SET updated_at = now()
         WHERE id = :id AND run_token = :token AND status = 'running'
    )
    SELECT status, run_token FROM workflow_executions WHERE id = :id
    """
)


async def beat(
    connection: AsyncConnection, execution_id: uuid.UUID, token: uuid.UUID
) -> tuple[str, uuid.UUID | None] | None:
    """The run's heartbeat (`updated_at`, while `token` holds it), and the execution's
    status and holder as they were (what the watcher polls)."""
    row = (await connection.execute(_BEAT, {"id": execution_id, "token": token})).one_or_none()
    return None if row is None else (row[0], row[1])
