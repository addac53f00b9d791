"""A worker: takes `run_execution` jobs from pgqueuer and runs them (runtime.md, "Workers").

pgqueuer dequeues in batches with SKIP LOCKED and heartbeats every picked job; a job whose
worker stopped heartbeating for `WORKER_STALL_SECONDS` is picked again by another worker,
which resumes the execution (runner.py). Beside the queue, a sweeper hands off again any
unfinished execution that has no job (the queue's dedupe key keeps that to one job), so
nothing stays pending or running forever.

`stop()` (SIGTERM) takes no new jobs and gives running executions the grace period; those
still running then are given back to the queue, to be taken up again at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta

import asyncpg
import httpx
from pgqueuer.adapters.drivers.asyncpg import AsyncpgDriver
from pgqueuer.adapters.persistence.queries import Queries
from pgqueuer.core.qm import QueueManager
from pgqueuer.domain.errors import RetryRequested
from pgqueuer.domain.models import Job
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.secret_box import SecretBox
from app.core.settings import Settings
from app.runtime.calls import Services
from app.runtime.handoff import RUN_EXECUTION, enqueue_executions, execution_id_of
from app.runtime.runner import AbandonedError, ExecutionRunner

logger = logging.getLogger("app.runtime")

PRUNE_INTERVAL_SECONDS = 600.0

# Unfinished executions older than this with no queued or picked job are handed off again.
_ORPHANED = text(
    """
    SELECT e.id FROM workflow_executions e
     WHERE e.status IN ('pending', 'running')
       AND e.updated_at < now() - make_interval(secs => :age)
       AND NOT EXISTS (SELECT 1 FROM pgqueuer q WHERE q.dedupe_key = e.id::text
                        AND q.status IN ('queued', 'picked'))
     ORDER BY e.created_at
     LIMIT 1000
       FOR UPDATE OF e SKIP LOCKED
    """
)

# Finished executions past the retention age, except each schedule's newest `keep`.
_PRUNE = text(
    """
    DELETE FROM workflow_executions WHERE id IN (
        SELECT id FROM (
            SELECT id, schedule_id, ended_at,
                   row_number() OVER (PARTITION BY schedule_id ORDER BY created_at DESC) AS place
              FROM workflow_executions
             WHERE status IN ('completed', 'failed', 'cancelled', 'skipped')
        ) ranked
         WHERE ranked.ended_at < now() - make_interval(secs => :age)
           AND (ranked.schedule_id IS NULL OR ranked.place > :keep)
         LIMIT 10000)
    """
)


def asyncpg_dsn(database_url: str) -> str:
    """The app's SQLAlchemy URL as a plain libpq URL asyncpg connects with."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class Worker:
    """One worker process's queue consumer, sweeper and retention job."""

    def __init__(self, database: AsyncEngine, settings: Settings, secret_box: SecretBox) -> None:
        self._database = database
        self._settings = settings
        self._secret_box = secret_box
        self._queue: QueueManager | None = None
        self._runner: ExecutionRunner | None = None
        self._abandon = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.state = "stopped"

    async def run(self) -> None:
        """Take and run jobs until `stop()`; then wait the grace period and return. A
        database that is down, at start or later, is waited for (state `degraded`)."""
        delay = 1.0
        while not self._stopping.is_set():
            try:
                await self._serve()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                self.state = "degraded"
                logger.warning("worker: the database is unavailable (%s); retrying in %.0f s",
                               type(exc).__name__, delay)  # fmt: skip
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                delay = min(delay * 2, 30.0)
            else:
                return
        self.state = "stopped"

    async def _serve(self) -> None:
        """One connection's worth of taking jobs (see `run`)."""
        settings = self._settings
        connection = await asyncpg.connect(
            asyncpg_dsn(settings.database_url),
            timeout=settings.database_connect_timeout_seconds,
        )
        async with httpx.AsyncClient(follow_redirects=False) as http:
            services = Services(settings, self._secret_box, http)
            runner = ExecutionRunner(
                self._database,
                services,
                max_losses=settings.worker_max_losses,
                node_concurrency=settings.execution_node_concurrency,
            )
            queue = QueueManager(Queries(AsyncpgDriver(connection)))
            self._queue = queue
            self._runner = runner
            if self._abandon.is_set():
                runner.abandon()

            @queue.entrypoint(RUN_EXECUTION)
            async def run_execution(job: Job) -> None:
                try:
                    await runner.run(execution_id_of(job.payload))
                except AbandonedError:
                    raise RetryRequested(reason="the worker stopped; taken up again") from None

            if self._stopping.is_set():
                queue.shutdown.set()
            chores = asyncio.create_task(self._chores())
            self.state = "running"
            logger.info("worker %s started", queue.queue_manager_id)
            try:
                await queue.run(
                    batch_size=max(1, settings.worker_concurrency // 2),
                    max_concurrent_tasks=settings.worker_concurrency,
                    heartbeat_timeout=timedelta(seconds=settings.worker_stall_seconds),
                    dequeue_timeout=timedelta(seconds=5),
                )
            finally:
                chores.cancel()
                with contextlib.suppress(BaseException):
                    await chores
                self.state = "stopped"
                await connection.close()
                logger.info("worker %s stopped", queue.queue_manager_id)

    def stop(self) -> None:
        """Take no new jobs; running executions have the grace period, then go back to
        the queue."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._queue is not None:
            self._queue.shutdown.set()
        loop = asyncio.get_running_loop()
        loop.call_later(self._settings.worker_shutdown_grace_seconds, self._abandon_runs)

    def _abandon_runs(self) -> None:
        self._abandon.set()
        if self._runner is not None:
            self._runner.abandon()

    def start(self) -> asyncio.Task[None]:
        """Run in a background task (inside the app's lifespan)."""
        self._task = asyncio.create_task(self.run(), name="worker")
        return self._task

    async def shutdown(self) -> None:
        """Stop and wait for running executions (at most the grace period, then a little
        for them to be given back)."""
        self.stop()
        if self._task is not None:
            await self._task

    async def _chores(self) -> None:
        """Every WORKER_STALL_SECONDS / 2: hand off orphaned executions again; every ten
        minutes: prune old finished ones."""
        interval = max(1.0, self._settings.worker_stall_seconds / 2)
        next_prune = 0.0
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep()
                if time.monotonic() >= next_prune:  # a scan of finished runs: not often
                    next_prune = time.monotonic() + PRUNE_INTERVAL_SECONDS
                    await self.prune()
            except Exception:
                logger.exception("worker chores failed; trying again in %.0f s", interval)

    async def sweep(self) -> int:
        """Give a job to every unfinished execution that has none; how many."""
        async with self._database.begin() as connection:
            rows = await connection.execute(_ORPHANED, {"age": self._settings.worker_stall_seconds})
            ids = [row[0] for row in rows]
            added = await enqueue_executions(connection, ids, skip_existing=True)
        if added:
            logger.warning("handed off %d execution(s) that had no job", added)
        return added

    async def prune(self) -> int:
        """Delete finished executions past the retention age (with their node runs and
        logs), keeping each schedule's newest; how many."""
        async with self._database.begin() as connection:
            result = await connection.execute(
                _PRUNE,
                {
                    "age": self._settings.execution_retention_days * 86_400,
                    "keep": self._settings.execution_retention_keep,
                },
            )
        return result.rowcount
