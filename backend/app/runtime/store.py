"""The worker's SQL: claim an execution, record node runs and log lines, finish.

Every write after the claim is fenced by the execution's `run_token`: a worker that lost
the execution (it went silent and another took over, or the execution was cancelled)
writes nothing more, and learns so from the row count.

Statements go straight to the pooled connection's asyncpg connection (`connect`): the
runtime's few statements are fixed text, and SQLAlchemy's execution layer costs more CPU
per statement than asyncpg's own round trip (DESIGN.md, "Group commit").
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.models.base import not_deleted_sql

# What a statement raises when the database is away or refuses it.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    DBAPIError,
)

# The execution is still this worker run's to write ($1 execution id, $2 run token).
_HELD = "EXISTS (SELECT 1 FROM workflow_executions h WHERE h.id = $1 AND h.run_token = $2 AND h.status = 'running')"  # noqa: E501


@contextlib.asynccontextmanager
async def connect(database: AsyncEngine, *, transaction: bool) -> AsyncIterator[Any]:
    """A connection of the pool of `database` (an autocommit engine: see `autocommit`),
    as its asyncpg connection: in a transaction (committed at the end, rolled back on an
    error), or autocommit. After any failure but a statement the server refused on a
    connection left idle (a cancel mid-statement, a broken socket), the connection is
    dropped from the pool rather than given back."""
    async with database.connect() as pooled:
        raw: Any = (await pooled.get_raw_connection()).driver_connection
        try:
            if transaction:
                async with raw.transaction():
                    yield raw
            else:
                yield raw
        except BaseException as exc:
            idle = not raw.is_closed() and not raw.is_in_transaction()
            if not (isinstance(exc, asyncpg.PostgresError) and idle):
                await pooled.invalidate()
            raise


def autocommit(database: AsyncEngine) -> AsyncEngine:
    """`database` with SQLAlchemy's transactions off, for `connect` (made once: each
    engine made this way costs a copy of the engine's options)."""
    return database.execution_options(isolation_level="AUTOCOMMIT")


def dumps(value: Any) -> str:
    """`value` as JSON text (already checked with app.core.json_values.check_json_value,
    which refuses what jsonb would, NaN, NUL characters and lone surrogates, and what
    orjson cannot write, integers beyond 64 bits and keys that are not text)."""
    return orjson.dumps(value).decode()


def _numbered(sql: str, names: Sequence[str]) -> str:
    """`sql` with its `:name` placeholders numbered ($1, $2, ...) in the order of `names`
    (long statements keep readable names; asyncpg takes numbers)."""
    for number, name in sorted(enumerate(names, 1), key=lambda item: -len(item[1])):
        sql = sql.replace(f":{name}", f"${number}")
    return sql


def _count(status: str) -> int:
    """Rows a command touched, from its status line ("UPDATE 3")."""
    return int(status.rsplit(" ", 1)[-1])


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


def _refs_of(workflows: str) -> str:
    """SQL: one row, `refs`, a JSON array of the tools and agents the nodes of
    `workflows` (a subquery) name, not deleted, with who may use them (their owner;
    anyone when public)."""
    return f"""
        WITH named AS (SELECT tool_id, agent_id FROM nodes WHERE workflow_id IN ({workflows}))
        SELECT jsonb_agg(r) AS refs FROM (
            SELECT 'tool' AS kind, id, name, tool_type, config, auth_config,
                   NULL AS system_prompt, NULL::jsonb AS llm_config, owner_id, is_public
              FROM tools WHERE id IN (SELECT tool_id FROM named) AND {not_deleted_sql()}
            UNION ALL
            SELECT 'agent', id, name, NULL, NULL, NULL, system_prompt, llm_config, owner_id,
                   is_public
              FROM agents WHERE id IN (SELECT agent_id FROM named) AND {not_deleted_sql()}
        ) r
    """


# The executions (in id order), each with its workflow and the statement's now(), and on
# the first row the tools and agents their workflows' nodes name, not deleted, with who
# may use them (their owner; anyone when public): read at every run so that a change to
# one is seen by the next run, in the claim's first round trip. No lock: what changes
# before the claim's start is seen by the start (store.start, lock_for_claim).
_READ = f"""
    WITH claimed AS (
        SELECT e.id, e.workflow_id, e.schedule_id, e.status, e.trigger_type,
               e.scheduled_for, e.started_at, e.input_data, e.attempt, e.run_token,
               w.version, w.is_active, w.deleted_at IS NOT NULL AS workflow_deleted,
               w.owner_id, w.variables
          FROM workflow_executions e JOIN workflows w ON w.id = e.workflow_id
         WHERE e.id = ANY($1::uuid[])
    ), refs AS ({_refs_of("SELECT workflow_id FROM claimed")})
    SELECT claimed.*, now(),
           CASE WHEN row_number() OVER (ORDER BY claimed.id) = 1
                THEN (SELECT refs FROM refs) END
      FROM claimed ORDER BY claimed.id
    """

# A tool or agent by id: ('tool', id, name, tool_type, config, auth_config, None, None,
# owner_id, is_public) or ('agent', id, name, None, None, None, system_prompt, llm_config,
# owner_id, is_public).
Refs = dict[uuid.UUID, tuple[Any, ...]]


async def read_executions(
    connection: Any, execution_ids: Sequence[uuid.UUID]
) -> tuple[dict[uuid.UUID, tuple[ExecutionRow, WorkflowRow]], datetime, Refs]:
    """The executions that exist, each with its workflow, without locks; the statement's
    `now()`, the start time of those a claim starts first; and the tools and agents their
    workflows name."""
    rows = await connection.fetch(_READ, list(execution_ids))
    found = {
        row[0]: (
            ExecutionRow(*row[:10]),
            WorkflowRow(row[10], row[11], row[12], row[13], row[14] or {}),
        )
        for row in rows
    }
    if not rows:
        return found, await connection.fetchval("SELECT now()"), {}
    refs = {uuid.UUID(ref["id"]): _ref_of(ref) for ref in rows[0][16] or ()}
    return found, rows[0][15], refs


def atomic(connection: Any, needed: bool) -> contextlib.AbstractAsyncContextManager[Any]:
    """A transaction around the statements that follow when `needed` and none is open
    (several writes that must commit together); else nothing."""
    if needed and not connection.is_in_transaction():
        return connection.transaction()  # type: ignore[no-any-return]
    return contextlib.nullcontext()


_REFS = _refs_of("SELECT unnest($1::uuid[])")


async def read_refs(connection: Any, workflow_ids: Sequence[uuid.UUID]) -> Refs:
    """The tools and agents the workflows' nodes name, as the lock's statement reads them,
    in a statement of its own (a snapshot taken now)."""
    refs = await connection.fetchval(_REFS, sorted(set(workflow_ids)))
    return {uuid.UUID(ref["id"]): _ref_of(ref) for ref in refs or ()}


def _ref_of(ref: dict[str, Any]) -> tuple[Any, ...]:
    """A tool or agent as `read_executions` reads it (JSON: ids as text) in the shape of `Refs`."""
    return (
        ref["kind"], uuid.UUID(ref["id"]), ref["name"], ref["tool_type"], ref["config"],
        ref["auth_config"], ref["system_prompt"], ref["llm_config"],
        uuid.UUID(ref["owner_id"]), ref["is_public"],
    )  # fmt: skip


_LOCK_SCHEDULES = (
    "SELECT id, metadata FROM schedules WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE"
)
# The executions to resume, locked in id order, as they are now; and the running
# executions of each schedule, counted by a statement that starts after the schedules'
# locks are held, so that the count includes every start committed before.
_LOCK_AND_COUNT = """
    WITH locked AS (
        SELECT id, status, attempt, run_token FROM workflow_executions
         WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE
    ), counts AS (
        SELECT schedule_id, count(*) AS running FROM workflow_executions
         WHERE schedule_id = ANY($2::uuid[]) AND status = 'running' GROUP BY schedule_id
    )
    SELECT 'execution', id, status, attempt, run_token, NULL::bigint FROM locked
    UNION ALL SELECT 'count', schedule_id, NULL, NULL, NULL, running FROM counts
    """

# An execution as a claim's lock finds it: status, attempt, run token.
ExecutionState = tuple[str, int, uuid.UUID | None]


async def lock_for_claim(
    connection: Any, execution_ids: Sequence[uuid.UUID], schedule_ids: Sequence[uuid.UUID]
) -> tuple[dict[uuid.UUID, ExecutionState], dict[uuid.UUID, tuple[dict[str, Any], int]]]:
    """Lock the schedules (the point where workers agree on max_instances), then the
    executions to resume (each in id order, so that two claims never wait on each other
    in a cycle): each execution's state now, and for each schedule that exists its
    metadata and its running executions. Nothing to lock: no statement."""
    metadata: dict[uuid.UUID, dict[str, Any]] = {}
    if schedule_ids:
        rows = await connection.fetch(_LOCK_SCHEDULES, sorted(set(schedule_ids)))
        metadata = {row[0]: dict(row[1] or {}) for row in rows}
    states: dict[uuid.UUID, ExecutionState] = {}
    running: dict[uuid.UUID, int] = {}
    if not (execution_ids or metadata):
        return states, {}
    for part, key, status, attempt, token, count in await connection.fetch(
        _LOCK_AND_COUNT, sorted(set(execution_ids)), list(metadata)
    ):
        if part == "execution":
            states[key] = (status, attempt, token)
        else:
            running[key] = int(count)
    return states, {key: (value, running.get(key, 0)) for key, value in metadata.items()}


_SKIP = """
    WITH skipped AS (
        UPDATE workflow_executions SET status = 'skipped', ended_at = now(),
               error_message = $2, updated_at = now()
         WHERE id = $1 AND status = 'pending'
        RETURNING id, schedule_id
    ), counted AS (
        UPDATE schedules SET skipped_count = skipped_count + 1,
               last_skip_reason = 'max_instances', last_skipped_at = now()
         WHERE id IN (SELECT schedule_id FROM skipped)
    ), logged AS (
        INSERT INTO execution_logs (id, workflow_execution_id, level, message, timestamp)
        SELECT gen_random_uuid(), id, 'warning', $2, clock_timestamp() FROM skipped
    )
    SELECT count(*) FROM skipped
    """


async def skip_for_max_instances(
    connection: Any, execution: ExecutionRow, running: int, limit: int
) -> bool:
    """Skip a pending execution of a schedule at its limit, counted on the schedule, with
    its log line; False when it was no longer pending (nothing written)."""
    reason = f"skipped: max_instances ({running} of {limit} running)"
    return bool(await connection.fetchval(_SKIP, execution.id, reason))


# Node runs from the rows of `r` (execution_id, node_id, status, input, output, attempt):
# those not `running` ended as they began (pure nodes, skips).
_INSERT_NODE_RUNS = """INSERT INTO node_executions (id, workflow_execution_id, node_id,
            status, started_at, ended_at, input_data, output_data, attempt, retry_count,
            created_at, updated_at)
        SELECT gen_random_uuid(), r.execution_id, r.node_id, r.status, clock_timestamp(),
               CASE WHEN r.status = 'running' THEN NULL ELSE clock_timestamp() END,
               CAST(r.input AS jsonb), CAST(r.output AS jsonb), r.attempt, 0, now(), now()"""

# Executions started, their log lines, and the first node runs of their walks (in the
# order given), as one statement. Each starts only while its status is the one the claim
# expects (pending; running, for one it resumes): an execution cancelled, or claimed by
# another worker, since the claim read it is left alone.
_START = _numbered(
    f"""
    WITH starting AS (
        SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:tokens AS uuid[]),
                             CAST(:attempts AS integer[]), CAST(:messages AS text[]),
                             CAST(:expected AS text[]))
               AS u(id, token, attempt, message, expected)
    ), started AS (
        UPDATE workflow_executions e SET status = 'running', attempt = s.attempt,
               run_token = s.token,
               started_at = COALESCE(e.started_at, CAST(:started_at AS timestamptz)),
               updated_at = now()
          FROM starting s
         WHERE e.id = s.id AND e.status = s.expected
        RETURNING e.id, s.message
    ), logged AS (
        INSERT INTO execution_logs (id, workflow_execution_id, level, message, timestamp)
        SELECT gen_random_uuid(), id, 'info', message, clock_timestamp() FROM started
         WHERE message IS NOT NULL
    ), began AS (
        {_INSERT_NODE_RUNS}
          FROM unnest(CAST(:r_executions AS uuid[]), CAST(:r_attempts AS integer[]),
                      CAST(:r_nodes AS uuid[]), CAST(:r_statuses AS text[]),
                      CAST(:r_inputs AS text[]), CAST(:r_outputs AS text[])) WITH ORDINALITY
               AS r(execution_id, attempt, node_id, status, input, output, place)
          JOIN started s ON s.id = r.execution_id
         ORDER BY r.place
        RETURNING workflow_execution_id, node_id, id, status
    )
    SELECT 'started', id, NULL::uuid, NULL::uuid, NULL::text FROM started
    UNION ALL SELECT 'began', workflow_execution_id, node_id, id, status FROM began
    """,
    ("ids", "tokens", "attempts", "messages", "expected", "started_at",
     "r_executions", "r_attempts", "r_nodes", "r_statuses", "r_inputs", "r_outputs"),
)  # fmt: skip

# An execution a claim starts: (id, new run token, attempt, log line or None, the status
# it must still have: pending, or running for one it resumes).
Start = tuple[uuid.UUID, uuid.UUID, int, str | None, str]
# A node run a claim writes: (execution id, attempt, node id, status, input, output).
NodeRunRow = tuple[uuid.UUID, int, uuid.UUID, str, dict[str, Any], dict[str, Any] | None]


async def start(
    connection: Any,
    starts: Sequence[Start],
    node_runs: Sequence[NodeRunRow] = (),
    *,
    started_at: datetime,
) -> dict[uuid.UUID, dict[uuid.UUID, uuid.UUID]]:
    """Mark executions running, each only while its status is the one expected; their
    start times are `started_at` at the first start and kept after. Write the first node
    runs of their walks (those `running` are starting). For each execution started (those
    absent were not), node id -> id of its running node runs."""
    if not starts:
        return {}
    rows = await connection.fetch(
        _START,
        [one[0] for one in starts],
        [one[1] for one in starts],
        [one[2] for one in starts],
        [one[3] for one in starts],
        [one[4] for one in starts],
        started_at,
        [one[0] for one in node_runs],
        [one[1] for one in node_runs],
        [one[2] for one in node_runs],
        [one[3] for one in node_runs],
        [dumps(one[4]) for one in node_runs],
        [None if one[5] is None else dumps(one[5]) for one in node_runs],
    )
    began: dict[uuid.UUID, dict[uuid.UUID, uuid.UUID]] = {}
    for part, execution_id, node_id, node_run_id, status in rows:
        running = began.setdefault(execution_id, {})
        if part == "began" and status == "running":
            running[node_id] = node_run_id
    return began


async def interrupt_node_runs(
    connection: Any, execution_id: uuid.UUID, status: str, reason: str
) -> int:
    """End the node runs left running (by a lost worker, or at cancel); how many."""
    result = await connection.execute(
        "UPDATE node_executions SET status = $2, ended_at = now(), "
        "error_message = $3, updated_at = now() "
        "WHERE workflow_execution_id = $1 AND status IN ('running', 'pending')",
        execution_id,
        status,
        reason,
    )
    return _count(result)


_END_EXECUTION = """
    WITH ended AS (
        UPDATE workflow_executions SET status = $2, ended_at = now(),
               output_data = $4::text::jsonb, error_message = $5, updated_at = now()
         WHERE id = $1 AND status IN ('pending', 'running')
           AND ($3::uuid IS NULL OR run_token = $3::uuid)
           AND (NOT $8::boolean OR status = 'pending')
        RETURNING id
    ), logged AS (
        INSERT INTO execution_logs (id, workflow_execution_id, level, message, timestamp)
        SELECT gen_random_uuid(), id, $6, $7, clock_timestamp() FROM ended
    )
    SELECT id FROM ended
    """


async def end_execution(
    connection: Any,
    execution_id: uuid.UUID,
    status: str,
    *,
    token: uuid.UUID | None = None,
    output: dict[str, Any] | None = None,
    error: str | None = None,
    log: tuple[str, str] | None = None,
    pending_only: bool = False,
) -> bool:
    """Finish a pending or running execution (only while `token` holds it, when given;
    only while pending, when `pending_only`), with a log line: `log` (level, message), or
    the error at level error. Whether it was finished here."""
    level, message = log or ("error", error or status)
    ended = await connection.fetchval(
        _END_EXECUTION,
        execution_id,
        status,
        token,
        None if output is None else dumps(output),
        error,
        level,
        message,
        pending_only,
    )
    return ended is not None


_LOG = (
    "INSERT INTO execution_logs (id, workflow_execution_id, node_execution_id, level, "
    "message, data, timestamp) VALUES (gen_random_uuid(), $1, $2, $3, $4, $5::text::jsonb, "
    "clock_timestamp())"
)


async def log(
    connection: Any,
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
        execution_id,
        node_execution_id,
        level,
        message,
        None if data is None else dumps(data),
    )


_NODES = (
    "SELECT id, name, node_type, config, timeout_seconds, retry_config, tool_id, agent_id "
    "FROM nodes WHERE workflow_id = $1 ORDER BY created_at, id"
)
_EDGES = (
    "SELECT source_node_id, target_node_id, source_handle FROM edges "
    "WHERE workflow_id = $1 ORDER BY priority, created_at, id"
)


async def read_graph(
    connection: Any, workflow_id: uuid.UUID
) -> tuple[list[dict[str, Any]], list[tuple[uuid.UUID, uuid.UUID, str | None]]]:
    """A workflow's nodes and edges as stored (what its `version` names)."""
    nodes = await connection.fetch(_NODES, workflow_id)
    edges = await connection.fetch(_EDGES, workflow_id)
    return (
        [dict(row) for row in nodes],
        [(row[0], row[1], row[2]) for row in edges],
    )


async def completed_node_runs(
    connection: Any, execution_id: uuid.UUID
) -> dict[uuid.UUID, dict[str, Any]]:
    """Outputs of the nodes an earlier attempt completed (they are not run again)."""
    rows = await connection.fetch(
        "SELECT node_id, output_data FROM node_executions "
        "WHERE workflow_execution_id = $1 AND status = 'completed'",
        execution_id,
    )
    return {row[0]: dict(row[1] or {}) for row in rows}


_END_NODE_RUN = f"""
    WITH ended AS (
        UPDATE node_executions SET status = $4, ended_at = now(),
               output_data = $6::text::jsonb, error_message = $7,
               retry_count = $5, updated_at = now()
         WHERE id = $3 AND {_HELD}
        RETURNING id
    ), logged AS (
        INSERT INTO execution_logs (id, workflow_execution_id, node_execution_id, level,
                                    message, data, timestamp)
        SELECT gen_random_uuid(), $1, id, $8, $9, $10::text::jsonb, clock_timestamp()
          FROM ended
    )
    SELECT id FROM ended
    """


async def end_node_run(
    connection: Any,
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
    ended = await connection.fetchval(
        _END_NODE_RUN,
        execution_id,
        token,
        node_execution_id,
        status,
        retry_count,
        None if output is None else dumps(output),
        error,
        level,
        message,
        dumps(data),
    )
    return ended is not None


@dataclass(slots=True)
class WalkWrite:
    """What one run of one execution writes at one step of its walk, while `token` holds
    the execution: node runs completed since its last write (node run id, retry count,
    output, log message), node runs that ended as they began (node id, status, input,
    output: pure nodes and skips), node runs starting (node id, input), and, last, the
    end of the execution (status, output, error, log level, log message)."""

    execution_id: uuid.UUID
    token: uuid.UUID
    attempt: int
    ends: list[tuple[uuid.UUID, int, dict[str, Any], str]] = field(default_factory=list)
    records: list[tuple[uuid.UUID, str, dict[str, Any], dict[str, Any] | None]] = field(
        default_factory=list
    )
    begins: list[tuple[uuid.UUID, dict[str, Any]]] = field(default_factory=list)
    end: tuple[str, dict[str, Any] | None, str | None, str, str] | None = None


# One statement for a batch of walk writes, so that it needs no transaction of its own:
# every part sees one snapshot, so a write whose execution is no longer its run's (token
# replaced, or no longer running) writes nothing. Node runs are inserted, and log lines
# (completions first, then ends) written, in the order given: ORDER BY is applied before
# clock_timestamp() is evaluated.
_WRITE_WALKS_PARAMETERS = (
    "held_ids",
    *("e_executions", "e_tokens", "e_ids", "e_retry_counts", "e_outputs", "e_messages", "e_data"),
    *("r_executions", "r_tokens", "r_attempts", "r_nodes", "r_statuses", "r_inputs", "r_outputs"),
    *("f_executions", "f_tokens", "f_statuses", "f_outputs", "f_errors", "f_levels", "f_messages"),
)
_WRITE_WALKS = _numbered(
    f"""
    WITH held AS (
        SELECT h.id, h.run_token FROM workflow_executions h
         WHERE h.id = ANY(CAST(:held_ids AS uuid[])) AND h.status = 'running'
    ), done AS (
        SELECT * FROM unnest(CAST(:e_executions AS uuid[]), CAST(:e_tokens AS uuid[]),
                             CAST(:e_ids AS uuid[]), CAST(:e_retry_counts AS integer[]),
                             CAST(:e_outputs AS text[]), CAST(:e_messages AS text[]),
                             CAST(:e_data AS text[])) WITH ORDINALITY
               AS u(execution_id, token, id, retry_count, output, message, data, place)
    ), completed AS (
        UPDATE node_executions n SET status = 'completed', ended_at = now(),
               output_data = CAST(d.output AS jsonb), retry_count = d.retry_count,
               updated_at = now()
          FROM done d JOIN held h ON h.id = d.execution_id AND h.run_token = d.token
         WHERE n.id = d.id AND n.workflow_execution_id = d.execution_id
        RETURNING n.id, n.workflow_execution_id, d.message, d.data, d.place
    ), began AS (
        {_INSERT_NODE_RUNS}
          FROM unnest(CAST(:r_executions AS uuid[]), CAST(:r_tokens AS uuid[]),
                      CAST(:r_attempts AS integer[]), CAST(:r_nodes AS uuid[]),
                      CAST(:r_statuses AS text[]), CAST(:r_inputs AS text[]),
                      CAST(:r_outputs AS text[])) WITH ORDINALITY
               AS r(execution_id, token, attempt, node_id, status, input, output, place)
          JOIN held h ON h.id = r.execution_id AND h.run_token = r.token
         ORDER BY r.place
        RETURNING workflow_execution_id, node_id, id, status
    ), ending AS (
        SELECT * FROM unnest(CAST(:f_executions AS uuid[]), CAST(:f_tokens AS uuid[]),
                             CAST(:f_statuses AS text[]), CAST(:f_outputs AS text[]),
                             CAST(:f_errors AS text[]), CAST(:f_levels AS text[]),
                             CAST(:f_messages AS text[])) WITH ORDINALITY
               AS u(id, token, status, output, error, level, message, place)
    ), ended AS (
        UPDATE workflow_executions e SET status = g.status, ended_at = now(),
               output_data = CAST(g.output AS jsonb), error_message = g.error,
               updated_at = now()
          FROM ending g JOIN held h ON h.id = g.id AND h.run_token = g.token
         WHERE e.id = g.id AND e.run_token = g.token AND e.status IN ('pending', 'running')
        RETURNING e.id, g.level, g.message, g.place
    ), logged AS (
        INSERT INTO execution_logs (id, workflow_execution_id, node_execution_id, level,
                                    message, data, timestamp)
        SELECT gen_random_uuid(), x.execution_id, x.node_run_id, x.level, x.message,
               CAST(x.data AS jsonb), clock_timestamp()
          FROM (SELECT workflow_execution_id AS execution_id, id AS node_run_id,
                       'info' AS level, message, data, 1 AS part, place FROM completed
                UNION ALL
                SELECT id, NULL, level, message, NULL, 2, place FROM ended) x
         ORDER BY x.part, x.place
    )
    SELECT 'completed', workflow_execution_id, NULL, NULL, NULL FROM completed
    UNION ALL SELECT 'began', workflow_execution_id, node_id, id, status FROM began
    UNION ALL SELECT 'ended', id, NULL, NULL, NULL FROM ended
    """,
    _WRITE_WALKS_PARAMETERS,
)


async def write_walks(
    connection: Any, writes: Sequence[WalkWrite]
) -> list[dict[uuid.UUID, uuid.UUID] | None]:
    """Each write, all of them in one statement (completions, then new node runs in the
    order given, then ends). For each: node id -> id of the node runs it began, or None
    when its execution is no longer its run's (nothing of it is written then)."""
    ends = [(write, end) for write in writes for end in write.ends]
    runs = [
        (write, node_id, status, node_input, output)
        for write in writes
        for node_id, status, node_input, output in [
            *write.records,
            *((node_id, "running", node_input, None) for node_id, node_input in write.begins),
        ]
    ]
    finishing = [(write, write.end) for write in writes if write.end is not None]
    parameters = {
        "held_ids": [write.execution_id for write in writes],
        "e_executions": [write.execution_id for write, _ in ends],
        "e_tokens": [write.token for write, _ in ends],
        "e_ids": [end[0] for _, end in ends],
        "e_retry_counts": [end[1] for _, end in ends],
        "e_outputs": [dumps(end[2]) for _, end in ends],
        "e_messages": [end[3] for _, end in ends],
        "e_data": [dumps({"attempt": end[1] + 1}) for _, end in ends],
        "r_executions": [run[0].execution_id for run in runs],
        "r_tokens": [run[0].token for run in runs],
        "r_attempts": [run[0].attempt for run in runs],
        "r_nodes": [run[1] for run in runs],
        "r_statuses": [run[2] for run in runs],
        "r_inputs": [dumps(run[3]) for run in runs],
        "r_outputs": [None if run[4] is None else dumps(run[4]) for run in runs],
        "f_executions": [write.execution_id for write, _ in finishing],
        "f_tokens": [write.token for write, _ in finishing],
        "f_statuses": [end[0] for _, end in finishing],
        "f_outputs": [None if end[1] is None else dumps(end[1]) for _, end in finishing],
        "f_errors": [end[2] for _, end in finishing],
        "f_levels": [end[3] for _, end in finishing],
        "f_messages": [end[4] for _, end in finishing],
    }
    rows = await connection.fetch(
        _WRITE_WALKS, *(parameters[name] for name in _WRITE_WALKS_PARAMETERS)
    )
    written: dict[uuid.UUID, int] = {}
    began: dict[uuid.UUID, dict[uuid.UUID, uuid.UUID]] = {w.execution_id: {} for w in writes}
    for part, execution_id, node_id, node_run_id, status in rows:
        written[execution_id] = written.get(execution_id, 0) + 1
        if part == "began" and status == "running":
            began[execution_id][node_id] = node_run_id
    return [
        began[w.execution_id]
        if written.get(w.execution_id, 0)
        == len(w.ends) + len(w.records) + len(w.begins) + (w.end is not None)
        else None
        for w in writes
    ]


_BEAT = """
    WITH beating AS (
        SELECT * FROM unnest($1::uuid[], $2::uuid[]) AS u(id, token)
    ), beat AS (
        UPDATE workflow_executions e SET updated_at = now()
          FROM beating b WHERE e.id = b.id AND e.run_token = b.token AND e.status = 'running'
    )
    SELECT id, status, run_token FROM workflow_executions WHERE id = ANY($1::uuid[])
    """


async def beat(
    connection: Any, runs: Sequence[tuple[uuid.UUID, uuid.UUID]]
) -> dict[uuid.UUID, tuple[str, uuid.UUID | None]]:
    """The runs' heartbeat (`updated_at` of those their token still holds), and for each
    execution its status and holder as they were (what the watcher polls)."""
    rows = await connection.fetch(_BEAT, [run[0] for run in runs], [run[1] for run in runs])
    return {row[0]: (row[1], row[2]) for row in rows}
