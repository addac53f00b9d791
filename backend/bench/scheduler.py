"""`make bench`: the firing engine beside the baseline users would otherwise pick.

Baseline: APScheduler 3.11 with its SQLAlchemyJobStore, one job per schedule, whose
function inserts the same execution row. Both run on the same PostgreSQL, one after the
other, on fresh data. Prints figures; asserts nothing. Scenarios (issue 3):

- storm: N schedules all due at one instant: fires/s until all are committed, lag p50/p99;
- steady: M cron schedules spread over each minute for D seconds: lag, missed, duplicated;
- scale: a table of L schedules: start-up, resident memory, the due query's plan and time;
- limit: the raw rate of the same execution inserts, one multi-row INSERT per batch;
- catchup: C per-second schedules (half interval, half cron) after a simulated outage of a
  day: time of the first full pass, beside the same after an outage of an hour (same run):
  the catch-up cost does not depend on how long the engine was down.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psutil
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import Engine, text
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.database_url import with_database
from app.db.admin import ensure_database, migrate
from app.db.database import create_database
from app.scheduler import EngineConfig, SchedulerEngine
from app.scheduler.planning import FirePlan
from app.scheduler.queries import _CLAIM_DUE

BENCH_DATABASE = "pastetrader_bench"


@dataclass
class Row:
    """One line of the results table."""

    scenario: str
    metric: str
    engine: str
    baseline: str = "-"
    ratio: str = "-"
    goal: str = ""


@dataclass
class Recorder:
    """Collects (commit time - planned time) per fire."""

    lags: list[float] = field(default_factory=list)
    last_commit: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, committed: datetime, planned: list[datetime]) -> None:
        with self.lock:
            self.lags.extend((committed - p).total_seconds() for p in planned)
            self.last_commit = max(self.last_commit, committed.timestamp())

    def percentile(self, q: float) -> float:
        ordered = sorted(self.lags)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class MeasuredEngine(SchedulerEngine):
    """The real engine, reporting each committed fire to a recorder instead of logging it."""

    def __init__(self, engine: AsyncEngine, recorder: Recorder, **kwargs: object) -> None:
        super().__init__(engine, EngineConfig(log_fires=False), **kwargs)  # type: ignore[arg-type]
        self.recorder = recorder

    def _log(self, plans: list[FirePlan], fired: Mapping[uuid.UUID, int], at: datetime) -> None:
        self.recorder.record(at, [t for plan in plans for t in plan.fire_times])


def fmt(value: float, digits: int = 2) -> str:
    return f"{value:,.{digits}f}"


# -- data -------------------------------------------------------------------------------


async def reset(db: AsyncEngine) -> tuple[uuid.UUID, uuid.UUID]:
    """Empty the tables; return a fresh (user id, workflow id)."""
    async with db.begin() as conn:
        await conn.execute(
            text("TRUNCATE users, workflows, schedules, workflow_executions CASCADE")
        )
        await conn.execute(text("DROP TABLE IF EXISTS apscheduler_jobs"))
        user_id = await conn.scalar(
            text("INSERT INTO users (email) VALUES ('bench@example.com') RETURNING id")
        )
        workflow_id = await conn.scalar(
            text("INSERT INTO workflows (owner_id, name) VALUES (:u, 'bench') RETURNING id"),
            {"u": user_id},
        )
    return user_id, workflow_id


async def seed(
    db: AsyncEngine,
    count: int,
    schedule_type: str,
    config_sql: str,
    next_run_sql: str,
    **params: object,
) -> None:
    """Insert `count` schedules in one statement (g = 1..count in the SQL expressions)."""
    user_id, workflow_id = await reset(db)
    async with db.begin() as conn:
        await conn.execute(
            text(
                f"""
                INSERT INTO schedules (workflow_id, user_id, name, schedule_type, schedule_config,
                                       timezone, next_run_at, job_id)
                SELECT :w, :u, 'bench ' || g, :kind, ({config_sql})::jsonb, 'UTC',
                       {next_run_sql}, 'schedule_' || gen_random_uuid()
                  FROM generate_series(1, :n) AS g
                """
            ),
            {"w": workflow_id, "u": user_id, "kind": schedule_type, "n": count, **params},
        )
    async with db.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE schedules"))


async def catchup(db: AsyncEngine, size: int, outage: timedelta) -> dict[str, float]:
    """Seconds of the first full pass over `size` per-second schedules `outage` behind."""
    user_id, workflow_id = await reset(db)
    behind = datetime.now(UTC) - outage
    async with db.begin() as conn:
        for kind, config in (
            ("interval", '{"seconds": 1}'),
            ("cron", '{"cron_expression": "* * * * * *"}'),
        ):
            await conn.execute(
                text(
                    """
                    INSERT INTO schedules (workflow_id, user_id, name, schedule_type,
                                           schedule_config, timezone, next_run_at, job_id,
                                           created_at)
                    SELECT :w, :u, 'catch-up ' || g, :kind, CAST(:config AS jsonb), 'UTC',
                           :behind, 'schedule_' || gen_random_uuid(), :behind
                      FROM generate_series(1, :n) AS g
                    """
                ),
                {"w": workflow_id, "u": user_id, "kind": kind, "config": config,
                 "behind": behind, "n": size // 2},
            )  # fmt: skip
    engine = SchedulerEngine(db, EngineConfig(log_fires=False))
    logging.getLogger("app.scheduler").setLevel(logging.ERROR)  # one skip line per schedule
    async with db.connect() as conn:
        now = await conn.scalar(text("SELECT clock_timestamp()"))
    # One full pass at one moment: rows advanced past it are not claimed again.
    began = time.perf_counter()
    report = await engine.run_due(now)
    elapsed = time.perf_counter() - began
    assert report.claimed == size, report
    return {"seconds": elapsed, "fired": report.fired, "missed": report.missed}


async def count_executions(db: AsyncEngine) -> int:
    async with db.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM workflow_executions")) or 0)


# -- storm ------------------------------------------------------------------------------


async def storm_engine(db: AsyncEngine, size: int) -> dict[str, float]:
    due_at = datetime.now(UTC) + timedelta(seconds=3)
    await seed(db, size, "interval", "'{\"hours\": 1}'", ":t", t=due_at)
    recorder = Recorder()
    engine = MeasuredEngine(db, recorder)
    engine.start()
    try:
        while len(recorder.lags) < size:  # noqa: ASYNC110 - the engine task fills it
            await asyncio.sleep(0.05)
    finally:
        await engine.shutdown()
    elapsed = recorder.last_commit - due_at.timestamp()
    assert await count_executions(db) == size
    return {
        "fires_per_s": size / elapsed,
        "p50": recorder.percentile(0.50),
        "p99": recorder.percentile(0.99),
        "elapsed": elapsed,
    }


_BASELINE_INSERT = text(
    "INSERT INTO workflow_executions (workflow_id, trigger_type, status, schedule_id,"
    " scheduled_for, metadata) VALUES (:w, 'schedule', 'pending', :s, :t,"
    " jsonb_build_object('schedule_id', CAST(:s AS text))) ON CONFLICT DO NOTHING"
)


@dataclass
class BaselineState:
    """What the baseline's job function needs (jobs are pickled, so it is module-level)."""

    rows: Engine
    recorder: Recorder
    started_at: datetime


_baseline: BaselineState | None = None


def baseline_fire(schedule_id: uuid.UUID, workflow_id: uuid.UUID, planned: datetime) -> None:
    """The baseline's job: insert the same execution row, then note the commit time."""
    assert _baseline is not None
    with _baseline.rows.begin() as conn:
        conn.execute(_BASELINE_INSERT, {"w": workflow_id, "s": schedule_id, "t": planned})
    _baseline.recorder.record(datetime.now(UTC), [_baseline.started_at])


def storm_baseline(sync_url: str, schedules: list[tuple[uuid.UUID, uuid.UUID]]) -> dict[str, float]:
    """APScheduler 3.11 + SQLAlchemyJobStore, one DateTrigger job per schedule."""
    global _baseline  # noqa: PLW0603 - the pickled job's function finds its state here
    planned = datetime.now(UTC) + timedelta(seconds=5)
    recorder = Recorder()
    _baseline = BaselineState(
        create_sync_engine(sync_url, pool_size=20, max_overflow=0), recorder, planned
    )
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=sync_url)},
        executors={"default": ThreadPoolExecutor(20)},
        job_defaults={"misfire_grace_time": 3600, "coalesce": True, "max_instances": 1},
        timezone=UTC,
    )
    scheduler.start(paused=True)
    began = time.perf_counter()
    for schedule_id, workflow_id in schedules:
        scheduler.add_job(
            f"{__name__}:baseline_fire",
            DateTrigger(run_date=planned),
            args=[schedule_id, workflow_id, planned],
            id=f"schedule_{schedule_id}",
        )
    add_seconds = time.perf_counter() - began
    # Lag counts from when the storm can start: the planned time, or the end of adding.
    _baseline.started_at = max(planned, datetime.now(UTC))
    scheduler.resume()
    deadline = time.monotonic() + 600
    while len(recorder.lags) < len(schedules) and time.monotonic() < deadline:
        time.sleep(0.1)
    scheduler.shutdown(wait=True)
    _baseline.rows.dispose()
    elapsed = recorder.last_commit - _baseline.started_at.timestamp()
    return {
        "fires_per_s": len(recorder.lags) / elapsed,
        "p50": recorder.percentile(0.50),
        "p99": recorder.percentile(0.99),
        "add_seconds": add_seconds,
        "fired": len(recorder.lags),
    }


# -- steady -----------------------------------------------------------------------------


async def steady(db: AsyncEngine, size: int, seconds: int) -> dict[str, float]:
    start = (datetime.now(UTC) + timedelta(seconds=10)).replace(microsecond=0)
    # Schedule g fires every minute at second g % 60 (six-field cron).
    next_run = (
        "date_trunc('minute', CAST(:start AS timestamptz)) + (g % 60) * interval '1 second'"
        " + CASE WHEN date_trunc('minute', CAST(:start AS timestamptz))"
        " + (g % 60) * interval '1 second' < CAST(:start AS timestamptz)"
        " THEN interval '1 minute' ELSE interval '0' END"
    )
    config = "json_build_object('cron_expression', (g % 60)::text || ' * * * * *')::text"
    await seed(db, size, "cron", config, next_run, start=start)
    end = start + timedelta(seconds=seconds)
    recorder = Recorder()
    engine = MeasuredEngine(db, recorder)
    engine.start()
    await asyncio.sleep((end + timedelta(seconds=2) - datetime.now(UTC)).total_seconds())
    await engine.shutdown()
    async with db.connect() as conn:
        fired = await conn.scalar(
            text("SELECT count(*) FROM workflow_executions WHERE scheduled_for <= :end"),
            {"end": end},
        )
        distinct = await conn.scalar(
            text(
                "SELECT count(DISTINCT (schedule_id, scheduled_for)) FROM workflow_executions"
                " WHERE scheduled_for <= :end"
            ),
            {"end": end},
        )
        missed = await conn.scalar(text("SELECT coalesce(sum(missed_count), 0) FROM schedules"))
    expected = sum(
        len(range(second_offset(start, g), int((end - start).total_seconds()) + 1, 60))
        for g in range(1, size + 1)
    )
    return {
        "fires": float(fired or 0),
        "expected": float(expected),
        "lost": float(expected - (fired or 0)),
        "duplicated": float((fired or 0) - (distinct or 0)),
        "missed": float(missed or 0),
        "p50": recorder.percentile(0.50),
        "p99": recorder.percentile(0.99),
    }


def second_offset(start: datetime, g: int) -> int:
    """Seconds from `start` to schedule g's first fire (its second of the minute)."""
    return (g % 60 - start.second) % 60


# -- scale ------------------------------------------------------------------------------


async def scale(db: AsyncEngine, database_url: str, size: int) -> dict[str, object]:
    # Daily interval schedules whose next fire times are spread over the coming day.
    await seed(
        db, size, "interval", "'{\"hours\": 24}'",
        "CAST(:now AS timestamptz) + g * (interval '1 day' / :n)",
        now=datetime.now(UTC),
    )  # fmt: skip
    began = time.perf_counter()
    engine = SchedulerEngine(
        create_database(database_url, pool_size=2), EngineConfig(log_fires=False)
    )
    await engine.reconcile()
    await engine.run_due()
    startup = time.perf_counter() - began
    async with db.connect() as conn:
        plan_rows = (
            await conn.execute(
                text("EXPLAIN (ANALYZE, BUFFERS) " + str(_CLAIM_DUE)),
                {"now": datetime.now(UTC), "limit": 1000},
            )
        ).all()
        await conn.rollback()
        timings = []
        for _ in range(20):
            analyzed = (
                await conn.execute(
                    text("EXPLAIN (ANALYZE, FORMAT JSON) " + str(_CLAIM_DUE)),
                    {"now": datetime.now(UTC), "limit": 1000},
                )
            ).scalar_one()
            timings.append(analyzed[0]["Execution Time"])
            await conn.rollback()
    rss = engine_rss(database_url, seconds=8)
    return {
        "startup": startup,
        "rss_mb": rss,
        "query_ms": statistics.median(timings),
        "plan": "\n".join(row[0] for row in plan_rows),
    }


def engine_rss(database_url: str, seconds: float) -> float:
    """Peak resident memory (MB) of `python -m app.scheduler` running for `seconds`."""
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    process = subprocess.Popen([sys.executable, "-m", "app.scheduler"], env=env)
    peak = 0
    try:
        watched = psutil.Process(process.pid)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            peak = max(peak, watched.memory_info().rss)
            time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=30)
    return peak / 2**20


# -- limit ------------------------------------------------------------------------------


async def raw_insert_rate(db: AsyncEngine, size: int, batch: int = 1000) -> float:
    user_id, workflow_id = await reset(db)
    async with db.begin() as conn:
        ids = list(
            (
                await conn.execute(
                    text(
                        "INSERT INTO schedules (workflow_id, user_id, name, schedule_type,"
                        " schedule_config) SELECT :w, :u, 'raw', 'interval', '{\"hours\": 1}'"
                        " FROM generate_series(1, :n) RETURNING id"
                    ),
                    {"w": workflow_id, "u": user_id, "n": size},
                )
            ).scalars()
        )
    planned = datetime.now(UTC)
    insert = text(
        "INSERT INTO workflow_executions (workflow_id, trigger_type, status, schedule_id,"
        " scheduled_for, metadata) SELECT :w, 'schedule', 'pending', s, :t,"
        " jsonb_build_object('schedule_id', s::text) FROM unnest(CAST(:ids AS uuid[])) AS s"
        " ON CONFLICT (schedule_id, scheduled_for) DO NOTHING"
    )
    began = time.perf_counter()
    for offset in range(0, size, batch):
        async with db.begin() as conn:
            await conn.execute(
                insert, {"w": workflow_id, "t": planned, "ids": ids[offset : offset + batch]}
            )
    return size / (time.perf_counter() - began)


# -- main -------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> None:
    server_url = os.environ["DATABASE_URL"]
    database_url = ensure_database(server_url, BENCH_DATABASE, recreate=True)
    migrate(database_url)
    sync_url = with_database(server_url, BENCH_DATABASE).replace("+asyncpg", "+psycopg")
    db = create_database(database_url, pool_size=5)
    table: list[Row] = []
    notes: list[str] = []
    try:
        if "storm" in args.scenarios:
            ours = await storm_engine(db, args.storm)
            table += [
                Row("storm", f"{args.storm:,} due at once: fires/s", fmt(ours["fires_per_s"], 0),
                    goal=">= 15,000 and >= 15x"),
                Row("storm", "lag p50 (s)", fmt(ours["p50"])),
                Row("storm", "lag p99 (s)", fmt(ours["p99"]), goal="<= 1.5"),
                Row("storm", "time to register the schedules (s)", "0 (rows are the jobs)"),
            ]  # fmt: skip
            if not args.skip_baseline:
                async with db.connect() as conn:
                    schedules = [
                        (row[0], row[1])
                        for row in await conn.execute(text("SELECT id, workflow_id FROM schedules"))
                    ]
                    await conn.execute(text("TRUNCATE workflow_executions CASCADE"))
                    await conn.commit()
                base = await asyncio.to_thread(storm_baseline, sync_url, schedules)
                table[0].baseline = fmt(base["fires_per_s"], 0)
                table[0].ratio = f"{ours['fires_per_s'] / base['fires_per_s']:.1f}x"
                table[1].baseline = fmt(base["p50"])
                table[2].baseline = fmt(base["p99"])
                table[2].ratio = f"{base['p99'] / ours['p99']:.1f}x lower" if ours["p99"] else "-"
                table[3].baseline = fmt(base["add_seconds"], 1)
                if base["fired"] < args.storm:
                    notes.append(f"baseline fired only {base['fired']:,.0f} of {args.storm:,}")
            fraction_of = ours["fires_per_s"]
        if "steady" in args.scenarios:
            result = await steady(db, args.steady, args.steady_seconds)
            table += [
                Row("steady", f"{args.steady:,} cron schedules, {args.steady_seconds}s: fires",
                    f"{result['fires']:,.0f} of {result['expected']:,.0f}"),
                Row("steady", "lag p50 (s)", fmt(result["p50"])),
                Row("steady", "lag p99 (s)", fmt(result["p99"]), goal="<= 1"),
                Row("steady", "missed / lost / duplicated",
                    f"{result['missed']:.0f} / {result['lost']:.0f} / {result['duplicated']:.0f}",
                    goal="0 / 0 / 0"),
            ]  # fmt: skip
        if "scale" in args.scenarios:
            result = await scale(db, database_url, args.scale)
            table += [
                Row("scale", f"{args.scale:,} schedules: engine start-up (s)",
                    fmt(float(result["startup"]), 3), goal="<= 2"),  # type: ignore[arg-type]
                Row("scale", "resident memory of python -m app.scheduler (MB)",
                    fmt(float(result["rss_mb"]), 0), goal="<= 200"),  # type: ignore[arg-type]
                Row("scale", "due query, median of 20 (ms)",
                    fmt(float(result["query_ms"]), 3), goal="<= 2"),  # type: ignore[arg-type]
            ]  # fmt: skip
            notes.append("due query plan (EXPLAIN ANALYZE, 1M rows):\n" + str(result["plan"]))
        if "limit" in args.scenarios:
            rate = await raw_insert_rate(db, args.storm)
            table.append(
                Row("limit", "raw multi-row INSERT, 1,000 rows each (rows/s)", fmt(rate, 0))
            )
            if "storm" in args.scenarios:
                table.append(
                    Row("limit", "engine storm rate as a fraction of it",
                        f"{fraction_of / rate:.0%}")
                )  # fmt: skip
        if "catchup" in args.scenarios:
            day = await catchup(db, args.catchup, timedelta(days=1))
            hour = await catchup(db, args.catchup, timedelta(hours=1))
            table += [
                Row("catchup", f"{args.catchup:,} per-second schedules, 1 day down: first pass (s)",
                    fmt(day["seconds"]), baseline=f"{fmt(hour['seconds'])} (1 hour down)",
                    ratio=f"{day['seconds'] / hour['seconds']:.2f}x", goal="~1x"),
                Row("catchup", "fires / misses counted in that pass",
                    f"{day['fired']:,.0f} / {day['missed']:,.0f}",
                    baseline=f"{hour['fired']:,.0f} / {hour['missed']:,.0f}"),
            ]  # fmt: skip
    finally:
        await db.dispose()
    print_table(table, notes)


def print_table(table: list[Row], notes: list[str]) -> None:
    cpu = platform.processor() or platform.machine()
    print(f"\nmachine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
          f"{cpu}, Python {platform.python_version()}")  # fmt: skip
    headers = ("scenario", "metric", "engine", "baseline", "ratio", "goal")
    rows = [headers] + [
        (r.scenario, r.metric, r.engine, r.baseline, r.ratio, r.goal) for r in table
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(headers))]
    for index, row in enumerate(rows):
        print(" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("-+-".join("-" * width for width in widths))
    for note in notes:
        print(f"\n{note}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenarios", default="storm,steady,scale,limit,catchup")
    parser.add_argument("--catchup", type=int, default=1_000)
    parser.add_argument("--storm", type=int, default=20_000)
    parser.add_argument("--steady", type=int, default=100_000)
    parser.add_argument("--steady-seconds", type=int, default=180)
    parser.add_argument("--scale", type=int, default=1_000_000)
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    args.scenarios = set(args.scenarios.split(","))
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
