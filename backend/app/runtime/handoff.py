"""The hand-off: one pgqueuer job per pending execution, in the transaction that writes it.

Every statement that inserts pending executions calls `enqueue_executions` on the same
connection, inside the same transaction, right after the insert. Both commit together
or neither does: a crash between them loses nothing and a retry cannot make two jobs.
The job's dedupe key is the execution id, so the queue itself refuses a second job for
an execution while one is queued or picked.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from pgqueuer.adapters.drivers.asyncpg import AsyncpgDriver
from pgqueuer.adapters.persistence.queries import Queries
from sqlalchemy.ext.asyncio import AsyncConnection

RUN_EXECUTION = "run_execution"


async def enqueue_executions(
    connection: AsyncConnection,
    execution_ids: Sequence[uuid.UUID],
    *,
    skip_existing: bool = False,
) -> int:
    """Queue one job per execution on the caller's connection and transaction; how many.

    `skip_existing` leaves executions that already have a queued or picked job alone
    (the sweeper's re-hand-off); otherwise a second job is an error.
    """
    if not execution_ids:
        return 0
    raw = await connection.get_raw_connection()
    queries = Queries(AsyncpgDriver(raw.driver_connection))
    count = len(execution_ids)
    payloads: list[bytes | None] = [str(id_).encode() for id_ in execution_ids]
    keys: list[str | None] = [str(id_) for id_ in execution_ids]
    if skip_existing:
        added = await queries.enqueue(
            [RUN_EXECUTION] * count, payloads, [0] * count, dedupe_key=keys, on_conflict="skip"
        )
        return sum(job_id is not None for job_id in added)
    await queries.enqueue([RUN_EXECUTION] * count, payloads, [0] * count, dedupe_key=keys)
    return count


def execution_id_of(payload: bytes | None) -> uuid.UUID:
    """The execution a job runs."""
    if payload is None:
        raise ValueError("a run_execution job carries its execution id")
    return uuid.UUID(payload.decode())
