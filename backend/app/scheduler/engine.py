"""The firing engine: a claim loop over the `schedules` table (see DESIGN.md).

Each pass locks a batch of due rows with FOR UPDATE SKIP LOCKED, decides every fire
(planning.py), inserts the pending executions and advances the schedules in the same
transaction, and commits. Any number of engines may share one database. What is due is
decided by the database's clock, never the engine's own (which may be wrong).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from app.core import metrics
from app.core.settings import Settings
from app.scheduler import queries
from app.scheduler.planning import FirePlan, plan_fires, replan

logger = logging.getLogger("app.scheduler")


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Tuning knobs; the defaults suit production."""

    batch_size: int = 1000
    # Batches in flight at once: the database works on one while Python plans the next.
    concurrency: int = 2
    poll_interval: float = 0.5
    reconcile_interval: float = 30.0
    log_fires: bool = True
    # A pass in flight longer than this shows in /health as degraded.
    stall_after: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineConfig:
        """The firing engine's knobs as the app's settings give them."""
        return cls(
            batch_size=settings.scheduler_batch_size,
            poll_interval=settings.scheduler_poll_interval,
            reconcile_interval=settings.scheduler_reconcile_interval,
            log_fires=settings.scheduler_log_fires,
        )


@dataclass(slots=True)
class PassReport:
    """What one pass over the due schedules did."""

    claimed: int = 0
    fired: int = 0
    missed: int = 0
    skipped: int = 0


@dataclass(slots=True)
class ReconcileReport:
    """What one reconciliation pass repaired."""

    planned: int = 0
    deactivated: int = 0
    cleared: int = 0


class SchedulerEngine:
    """The firing engine: turns due schedules into pending workflow executions, exactly once."""

    def __init__(
        self,
        database: AsyncEngine,
        config: EngineConfig | None = None,
    ) -> None:
        self._database = database
        self.config = config or EngineConfig()
        self.instance_id = uuid.uuid4().hex[:8]
        self.state = "stopped"
        self.last_pass_at: datetime | None = None
        self.last_reconcile_at: datetime | None = None
        self.degraded_reason: str | None = None
        self._pass_began: float | None = None
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- one pass -----------------------------------------------------------------------

    async def run_due(self, now: datetime | None = None) -> PassReport:
        """Fire everything due at `now` (default: the database's clock), in concurrent batches.

        `now` is for tests and tools that replay a moment; engines leave it out.
        """
        report = PassReport()
        await asyncio.gather(*(self._drain(now, report) for _ in range(self.config.concurrency)))
        return report

    async def _drain(self, now: datetime | None, report: PassReport) -> None:
        while not self._stopping.is_set():
            batch = await self._fire_batch(now)
            report.claimed += batch.claimed
            report.fired += batch.fired
            report.missed += batch.missed
            report.skipped += batch.skipped
            if batch.claimed < self.config.batch_size:
                return

    async def _fire_batch(self, given_now: datetime | None) -> PassReport:
        async with self._database.begin() as connection:
            now = given_now or await queries.database_now(connection)
            began = time.monotonic()
            due = await queries.claim_due(connection, now, self.config.batch_size)
            if not due:
                self.last_pass_at = now
                return PassReport()
            plans = [plan_fires(schedule, now) for schedule in due]
            inserted = await queries.insert_executions(connection, queries.fires_of(plans))
            fired = Counter(schedule_id for _, schedule_id in inserted)
            await queries.advance_schedules(connection, plans, fired, now)
        committed_at = now + timedelta(seconds=time.monotonic() - began)
        self.last_pass_at = committed_at
        self._log(plans, fired, committed_at)
        return PassReport(
            claimed=len(due),
            fired=sum(fired.values()),
            missed=sum(plan.missed for plan in plans),
            skipped=sum(plan.skipped for plan in plans),
        )

    def _log(self, plans: list[FirePlan], fired: Mapping[uuid.UUID, int], at: datetime) -> None:
        for plan in plans:
            schedule_id = plan.schedule.id
            metrics.FIRES.inc(fired.get(schedule_id, 0))
            if plan.missed:
                metrics.MISSES.inc(plan.missed)
            if plan.skipped and plan.reason:
                metrics.SKIPS.labels(plan.reason).inc(plan.skipped)
            for planned in plan.fire_times:
                metrics.FIRE_LAG.observe(max(0.0, (at - planned).total_seconds()))
            if plan.error:
                logger.error(
                    "schedule %s quarantined (deactivated, reason invalid_config): %s",
                    schedule_id, plan.error,
                )  # fmt: skip
            if plan.missed or plan.skipped:
                logger.warning(
                    "skip schedule=%s missed=%d skipped=%d reason=%s",
                    schedule_id, plan.missed, plan.skipped, plan.reason,
                )  # fmt: skip
            if not self.config.log_fires or not logger.isEnabledFor(logging.INFO):
                continue
            duplicate = len(plan.fire_times) - fired.get(schedule_id, 0)
            for planned in plan.fire_times:
                logger.info(
                    "fire schedule=%s planned=%s lag_ms=%d engine=%s%s",
                    schedule_id, planned.isoformat(),
                    (at - planned) / timedelta(milliseconds=1), self.instance_id,
                    f" already_fired={duplicate}" if duplicate else "",
                )  # fmt: skip

    async def status(self) -> dict[str, object]:
        """State for /health: running or not, last pass, lag of the oldest due schedule."""
        async with self._database.connect() as connection:
            earliest, now = await queries.earliest_due(connection)
        lag = max(0.0, (now - earliest).total_seconds()) if earliest is not None else 0.0
        state, reason = self.state, self.degraded_reason
        in_flight = time.monotonic() - self._pass_began if self._pass_began else 0.0
        if state == "running" and in_flight > self.config.stall_after:
            state, reason = "degraded", f"a pass has been running for {in_flight:.0f} s"
        return {
            "state": state,
            "reason": reason if state == "degraded" else None,
            "instance": self.instance_id,
            "last_pass_at": self.last_pass_at.isoformat() if self.last_pass_at else None,
            "last_reconcile_at": (
                self.last_reconcile_at.isoformat() if self.last_reconcile_at else None
            ),
            "due_lag_seconds": round(lag, 3),
        }

    # -- reconciliation -------------------------------------------------------------------

    async def reconcile(self, now: datetime | None = None) -> ReconcileReport:
        """Repair rows out of line: active without a next fire time, paused but still due."""
        report = ReconcileReport()
        async with self._database.begin() as connection:
            moment = now or await queries.database_now(connection)
            rows = await queries.claim_unplanned(connection, self.config.batch_size)
            plans = [replan(row, moment) for row in rows]
            await queries.write_plans(connection, plans)
            cleared = await queries.clear_stale(connection, moment)
        for schedule_id, next_run_at, reason in plans:
            if next_run_at is None:
                report.deactivated += 1
                logger.warning(
                    "reconcile: schedule %s has no fire time left (%s); deactivated",
                    schedule_id, reason or "expired",
                )  # fmt: skip
            else:
                report.planned += 1
                logger.warning(
                    "reconcile: schedule %s had no next_run_at; set to %s",
                    schedule_id, next_run_at.isoformat(),
                )  # fmt: skip
        for schedule_id in cleared:
            logger.warning("reconcile: paused or deleted schedule %s was due; cleared", schedule_id)
        report.cleared = len(cleared)
        self.last_reconcile_at = moment
        return report

    # -- the loop -----------------------------------------------------------------------

    async def _sleep_until_due(self) -> None:
        async with self._database.connect() as connection:
            earliest, now = await queries.earliest_due(connection)
        delay = self.config.poll_interval
        if earliest is not None:
            delay = min(delay, max(0.0, (earliest - now).total_seconds()))
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
        self._wake.clear()

    async def run(self) -> None:
        """Fire due schedules until `stop()`; a pass in flight always finishes first."""
        self.state = "running"
        logger.info("scheduler engine %s started", self.instance_id)
        next_reconcile = time.monotonic()
        try:
            while not self._stopping.is_set():
                try:
                    if time.monotonic() >= next_reconcile:
                        next_reconcile = time.monotonic() + self.config.reconcile_interval
                        await self._reconcile_apart()
                    self._pass_began = time.monotonic()
                    await self.run_due()
                    self._pass_began = None
                    await self._sleep_until_due()
                except Exception as exc:
                    self._pass_began = None
                    logger.exception("scheduler pass failed; retrying")
                    self.state = "degraded"
                    self.degraded_reason = f"the last pass failed: {type(exc).__name__}"
                    await asyncio.sleep(self.config.poll_interval)
                else:
                    self.state = "running"
                    self.degraded_reason = None
        finally:
            self.state = "stopped"
            logger.info("scheduler engine %s stopped", self.instance_id)

    async def _reconcile_apart(self) -> None:
        """Reconcile, but never let a failing repair pass keep the engine from firing."""
        try:
            await self.reconcile()
        except Exception:
            logger.exception("reconciliation failed; firing goes on, retrying next interval")

    def start(self) -> asyncio.Task[None]:
        """Run the loop in a background task (inside the app's lifespan)."""
        self._task = asyncio.create_task(self.run(), name=f"scheduler-{self.instance_id}")
        return self._task

    def stop(self) -> None:
        """Ask the loop to finish its current pass and stop."""
        self._stopping.set()
        self._wake.set()

    async def shutdown(self) -> None:
        """Stop and wait for the loop to end."""
        self.stop()
        if self._task is not None:
            await self._task
