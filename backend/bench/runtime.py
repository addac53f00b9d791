"""`make bench` (runtime part): the workflow runtime on pgqueuer, beside the queue's own ceiling.

All figures come from one run on one PostgreSQL, in a fresh database migrated by Alembic.
Prints figures; asserts nothing (a run that did not complete shows as a PROBLEM row). Scenarios:

- ceiling: J no-op pgqueuer jobs enqueued in bulk, run by one worker process (a bare
  QueueManager with the app worker's batch size, concurrency and garbage collector
  settings): jobs/s from the first job to the last;
- storm: N pending executions of a three-node workflow (trigger -> builtin echo tool ->
  condition) and their jobs committed in one transaction, run by one, then two
  `python -m app.worker` processes: completed executions/s (first start to last end),
  fire-to-start (started_at - created_at) and fire-to-finish (ended_at - created_at)
  p50/p99, and the one-worker rate as a fraction of the ceiling. The ceiling and the
  one-worker storm alternate over a few rounds (these machines' speed drifts by 2x within
  minutes): the fraction is that of the medians, each round's shown beside it; then the
  same storm of executions of 50 schedules (the claim's schedule locks and counts), one
  worker;
- steady: R executions/s, one transaction each, for S seconds, one worker: fire-to-start;
- firing: the firing engine's storm (bench/scheduler.py) with the hand-off (the default:
  `insert_executions` enqueues a job per execution) beside the same storm with the
  hand-off replaced by a no-op in this process, alternated over a few rounds.

A fire is the execution's created_at: the start of the transaction that inserted it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import json
import os
import platform
import signal
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
from pgqueuer.adapters.drivers.asyncpg import AsyncpgDriver
from pgqueuer.adapters.persistence.queries import Queries
from pgqueuer.core.qm import QueueManager
from pgqueuer.domain.models import Job
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

import app.scheduler.queries as scheduler_queries
from app.db.admin import ensure_database, migrate
from app.db.database import create_database
from app.models import Edge, Node, Tool, User, Workflow
from app.runtime.handoff import enqueue_executions
from app.runtime.worker import asyncpg_dsn
from app.worker import tune_garbage_collector
from bench.scheduler import storm_engine

BENCH_DATABASE = "pastetrader_bench_runtime"
NOOP = "bench_noop"
# Settings every worker process needs outside development (test-only values).
WORKER_ENV = {
    "JWT_SECRET": "bench-only-signing-secret-0123456789abcdef",
    "ENCRYPTION_KEYS": "dGVzdHMtb25seS1mZXJuZXQta2V5LTAxMjM0NTY3ODk=",
    "ENVIRONMENT": "production",
    "LOG_LEVEL": "WARNING",
    "WORKER_SHUTDOWN_GRACE_SECONDS": "5",
}
FINISHED = ("completed", "failed", "cancelled", "skipped")
SCHEDULED_STORM_SCHEDULES = 50


@dataclass
class Row:
    """One line of the results table."""

    scenario: str
    metric: str
    value: str
    goal: str = ""


def fmt(value: float, digits: int = 2) -> str:
    return f"{value:,.{digits}f}"


def batch_of(concurrency: int) -> int:
    """The batch size the app's worker dequeues with (app.runtime.worker.Worker.run)."""
    return max(1, concurrency // 2)


# -- ceiling: a bare pgqueuer worker ------------------------------------------------------


async def queue_worker(dsn: str, expect: int, batch: int, max_tasks: int) -> None:
    """The subprocess: run no-op jobs until `expect` ran; print first/last times as JSON.
    The process's collector is tuned as `python -m app.worker`'s is, so that the two
    compare like for like."""
    tune_garbage_collector()
    connection = await asyncpg.connect(dsn)
    queue = QueueManager(Queries(AsyncpgDriver(connection)))
    times: list[float] = []

    @queue.entrypoint(NOOP)
    async def noop(job: Job) -> None:
        times.append(time.time())
        if len(times) >= expect:
            queue.shutdown.set()

    began = time.time()
    await queue.run(
        batch_size=batch,
        max_concurrent_tasks=max_tasks,
        heartbeat_timeout=timedelta(seconds=30),
        dequeue_timeout=timedelta(seconds=5),
    )
    with contextlib.suppress(Exception):
        await connection.close()
    print(json.dumps({"began": began, "first": times[0], "last": times[-1], "ran": len(times)}))


async def ceiling(db: AsyncEngine, database_url: str, jobs: int, concurrency: int) -> float:
    """No-op jobs/s of one bare pgqueuer worker over `jobs` jobs enqueued beforehand."""
    await clear(db)
    async with db.begin() as connection:
        queries = await queries_on(connection)
        for offset in range(0, jobs, 10_000):
            count = min(10_000, jobs - offset)
            await queries.enqueue([NOOP] * count, [None] * count, [0] * count)
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--queue-worker", "--expect", str(jobs),
        "--batch", str(batch_of(concurrency)), "--max-tasks", str(concurrency),
        env=worker_env(database_url, concurrency), stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), timeout=600)
    if process.returncode != 0:
        raise RuntimeError(f"the queue worker exited with {process.returncode}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    return float(result["ran"] / (result["last"] - result["first"]))


async def queries_on(connection: AsyncConnection) -> Queries:
    """pgqueuer's queries on this SQLAlchemy connection's asyncpg connection."""
    raw = await connection.get_raw_connection()
    return Queries(AsyncpgDriver(raw.driver_connection))


# -- data ---------------------------------------------------------------------------------


async def clear(db: AsyncEngine) -> None:
    """No executions, no jobs."""
    async with db.begin() as connection:
        await connection.execute(
            text("TRUNCATE workflow_executions, pgqueuer, pgqueuer_log CASCADE")
        )


async def three_node_workflow(db: AsyncEngine) -> uuid.UUID:
    """A user, a builtin echo tool and a workflow trigger -> echo -> condition; its id."""
    async with AsyncSession(db, expire_on_commit=False) as session:
        user = User(email=f"bench-{uuid.uuid4().hex[:8]}@example.com")
        session.add(user)
        await session.flush()
        tool = Tool(owner_id=user.id, name="echo", tool_type="builtin", config={"name": "echo"})
        workflow = Workflow(owner_id=user.id, name="bench runtime", variables={"limit": 100})
        session.add_all([tool, workflow])
        await session.flush()
        start = Node(workflow_id=workflow.id, name="start", node_type="trigger", config={})
        echo = Node(
            workflow_id=workflow.id, name="echo", node_type="tool", tool_id=tool.id,
            timeout_seconds=10,
            config={"parameters": {"execution": "{{ trigger.execution_id }}",
                                   "limit": "{{ variables.limit }}"}},
        )  # fmt: skip
        decide = Node(
            workflow_id=workflow.id, name="decide", node_type="condition",
            config={"branches": [{"name": "low", "when": "input.limit < `1000`"}],
                    "default": "high"},
        )  # fmt: skip
        session.add_all([start, echo, decide])
        await session.flush()
        session.add_all(
            [
                Edge(workflow_id=workflow.id, source_node_id=start.id, target_node_id=echo.id),
                Edge(workflow_id=workflow.id, source_node_id=echo.id, target_node_id=decide.id),
            ]
        )
        await session.commit()
        return workflow.id


async def schedules_of(db: AsyncEngine, workflow_id: uuid.UUID, count: int) -> list[uuid.UUID]:
    """`count` schedules of the workflow that never fire by themselves (a yearly cron due
    next year), with room for every execution a worker runs at once (max_instances 100)."""
    async with db.begin() as connection:
        rows = await connection.execute(
            text(
                """
                INSERT INTO schedules (workflow_id, user_id, name, schedule_type,
                                       schedule_config, timezone, next_run_at, job_id, metadata)
                SELECT w.id, w.owner_id, 'bench ' || g, 'cron',
                       '{"cron_expression": "0 0 1 1 *"}', 'UTC', now() + interval '360 days',
                       'schedule_' || gen_random_uuid(), '{"max_instances": 100}'
                  FROM workflows w, generate_series(1, :n) AS g WHERE w.id = :w
                RETURNING id
                """
            ),
            {"w": workflow_id, "n": count},
        )
        return [row[0] for row in rows]


_INSERT_RUNS = text(
    """
    INSERT INTO workflow_executions (workflow_id, schedule_id, trigger_type, status, input_data)
    SELECT :w, (CAST(:s AS uuid[]))[1 + g % NULLIF(cardinality(CAST(:s AS uuid[])), 0)],
           CASE WHEN cardinality(CAST(:s AS uuid[])) = 0 THEN 'manual' ELSE 'schedule' END,
           'pending', jsonb_build_object('phase', CAST(:phase AS text), 'n', g)
      FROM generate_series(1, :n) AS g
    RETURNING id
    """
)


async def insert_runs(
    db: AsyncEngine, workflow_id: uuid.UUID, count: int, phase: str,
    schedule_ids: Sequence[uuid.UUID] = (),
) -> None:  # fmt: skip
    """`count` pending executions and their jobs, in one transaction (the hand-off); of
    the schedules in turn, when given."""
    async with db.begin() as connection:
        rows = await connection.execute(
            _INSERT_RUNS,
            {"w": workflow_id, "s": list(schedule_ids), "phase": phase, "n": count},
        )
        await enqueue_executions(connection, [row[0] for row in rows])


async def wait_finished(db: AsyncEngine, phase: str, count: int, within: float) -> int:
    """Wait until `count` executions of `phase` finished (or `within` s); how many did."""
    deadline = time.monotonic() + within
    done = 0
    while time.monotonic() < deadline:
        async with db.connect() as connection:
            done = int(
                await connection.scalar(
                    text(
                        "SELECT count(*) FROM workflow_executions "
                        "WHERE input_data->>'phase' = :phase AND status = ANY(:finished)"
                    ),
                    {"phase": phase, "finished": list(FINISHED)},
                )
                or 0
            )
        if done >= count:
            break
        await asyncio.sleep(0.25)
    return done


_STATS = text(
    """
    SELECT count(*) FILTER (WHERE status = 'completed') AS completed,
           count(*) FILTER (WHERE status <> 'completed') AS other,
           CAST(extract(epoch FROM max(ended_at) - min(started_at)) AS float8) AS run_span,
           CAST(extract(epoch FROM max(ended_at) - min(created_at)) AS float8) AS fire_span,
           percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP
               (ORDER BY extract(epoch FROM started_at - created_at)) AS to_start,
           percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP
               (ORDER BY extract(epoch FROM ended_at - created_at)) AS to_finish,
           percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP
               (ORDER BY extract(epoch FROM ended_at - started_at)) AS run_time,
           min(error_message) AS an_error,
           (SELECT count(*) FROM node_executions n JOIN workflow_executions x
                ON x.id = n.workflow_execution_id
             WHERE x.input_data->>'phase' = :phase AND n.status = 'completed') AS node_runs
      FROM workflow_executions WHERE input_data->>'phase' = :phase
    """
)


async def run_stats(db: AsyncEngine, phase: str) -> dict[str, Any]:
    async with db.connect() as connection:
        row = (await connection.execute(_STATS, {"phase": phase})).one()
    return dict(row._mapping)


# -- workers ------------------------------------------------------------------------------


def worker_env(database_url: str, concurrency: int) -> dict[str, str]:
    return {
        **os.environ,
        **WORKER_ENV,
        "DATABASE_URL": database_url,
        "WORKER_CONCURRENCY": str(concurrency),
    }


@contextlib.asynccontextmanager
async def workers(
    database_url: str, count: int, concurrency: int
) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """`count` `python -m app.worker` processes, stopped by SIGTERM afterwards."""
    env = worker_env(database_url, concurrency)
    processes = [
        await asyncio.create_subprocess_exec(sys.executable, "-m", "app.worker", env=env)
        for _ in range(count)
    ]
    try:
        yield processes
    finally:
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), timeout=30)
            except TimeoutError:
                process.kill()
                await process.wait()


async def warm_up(db: AsyncEngine, workflow_id: uuid.UUID, count: int) -> None:
    """Run `count` executions first, so that the workers are up, connected and idle."""
    await insert_runs(db, workflow_id, count, "warmup")
    done = await wait_finished(db, "warmup", count, within=120)
    if done < count:
        raise RuntimeError(f"the workers finished only {done} of {count} warm-up executions")
    await asyncio.sleep(1.0)


def cpu_seconds(pids: Sequence[int]) -> float | None:
    """User + system CPU seconds of these processes so far (Linux /proc); None elsewhere."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


async def server_pids(db: AsyncEngine) -> list[int]:
    """The server processes of the bench database's sessions."""
    async with db.connect() as connection:
        rows = await connection.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        )
        return [row[0] for row in rows]


async def storm(
    db: AsyncEngine, database_url: str, workflow_id: uuid.UUID, size: int, *, processes: int,
    concurrency: int, schedule_ids: Sequence[uuid.UUID] = (),
) -> dict[str, Any]:  # fmt: skip
    """`size` executions committed at once (of the schedules in turn, when given), run by
    `processes` workers."""
    await clear(db)
    async with workers(database_url, processes, concurrency) as running:
        await warm_up(db, workflow_id, 2 * concurrency * processes)
        worker_pids = [process.pid for process in running]
        backend_pids = await server_pids(db)  # the workers' pools are open by now
        cpu_before = (cpu_seconds(worker_pids), cpu_seconds(backend_pids))
        began = time.perf_counter()
        await insert_runs(db, workflow_id, size, "storm", schedule_ids)
        committed = time.perf_counter() - began
        done = await wait_finished(db, "storm", size, within=max(120, size / 5))
        cpu_after = (cpu_seconds(worker_pids), cpu_seconds(backend_pids))
    stats = await run_stats(db, "storm")
    stats.update(committed=committed, done=done, worker_cpu=None, server_cpu=None)
    for key, before, after in zip(("worker_cpu", "server_cpu"), cpu_before, cpu_after, strict=True):
        if before is not None and after is not None:
            stats[key] = (after - before) / size * 1000
    return stats


async def steady(
    db: AsyncEngine, database_url: str, workflow_id: uuid.UUID, *, rate: float, seconds: float,
    concurrency: int,
) -> dict[str, Any]:  # fmt: skip
    """`rate` executions/s, one transaction each, for `seconds`, one worker."""
    await clear(db)
    count = int(rate * seconds)
    async with workers(database_url, 1, concurrency):
        await warm_up(db, workflow_id, 2 * concurrency)
        loop = asyncio.get_running_loop()
        began = loop.time()
        for index in range(count):
            await asyncio.sleep(max(0.0, began + index / rate - loop.time()))
            await insert_runs(db, workflow_id, 1, "steady")
        offered = count / (loop.time() - began)
        done = await wait_finished(db, "steady", count, within=120)
    stats = await run_stats(db, "steady")
    stats.update(offered=offered, done=done, count=count)
    return stats


# -- firing storm with and without the hand-off -------------------------------------------


async def _no_handoff(
    connection: AsyncConnection, execution_ids: Sequence[uuid.UUID], *, skip_existing: bool = False
) -> int:
    return 0


async def firing(db: AsyncEngine, size: int, rounds: int) -> dict[str, list[float]]:
    """Engine fires/s of `size` due schedules, alternately with and without the hand-off."""
    results: dict[str, list[float]] = {"with": [], "without": []}
    module = vars(scheduler_queries)  # insert_executions calls its enqueue_executions
    assert module["enqueue_executions"] is enqueue_executions
    for _ in range(rounds):
        for variant in ("without", "with"):
            await clear(db)
            module["enqueue_executions"] = (
                _no_handoff if variant == "without" else enqueue_executions
            )
            try:
                result = await storm_engine(db, size)
            finally:
                module["enqueue_executions"] = enqueue_executions
            async with db.connect() as connection:
                jobs = int(await connection.scalar(text("SELECT count(*) FROM pgqueuer")) or 0)
            expected = size if variant == "with" else 0
            if jobs != expected:
                raise RuntimeError(f"{variant} the hand-off: {jobs} jobs, expected {expected}")
            results[variant].append(result["fires_per_s"])
    return results


# -- main ---------------------------------------------------------------------------------


def machine(server_version: str) -> str:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return (
        f"machine: {os.cpu_count()} CPUs ({model}), "
        f"{memory / 2**30:.0f} GiB, Python {platform.python_version()}, "
        f"PostgreSQL {server_version}, pgqueuer {importlib.metadata.version('pgqueuer')}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )


def storm_rate(result: dict[str, Any]) -> float:
    """Completed executions/s, first start to last end."""
    return float(result["completed"] / result["run_span"])


def storm_rows(
    label: str, result: dict[str, Any], size: int, ceiling_rate: float | None
) -> list[Row]:
    rate = storm_rate(result)
    rows = [
        Row("storm", f"{label}: completed / other",
            f"{result['completed']:,} / {result['other']:,}", f"{size:,} / 0"),
        Row("storm", f"{label}: commit of the executions and their jobs (s)",
            fmt(result["committed"], 3)),
        Row("storm", f"{label}: completed executions/s (first start to last end)", fmt(rate, 0)),
        Row("storm", f"{label}: executions/s from the commit (fire span)",
            fmt(result["completed"] / result["fire_span"], 0)),
        Row("storm", f"{label}: fire-to-start p50 / p99 (s)",
            f"{fmt(result['to_start'][0])} / {fmt(result['to_start'][1])}"),
        Row("storm", f"{label}: fire-to-finish p50 / p99 (s)",
            f"{fmt(result['to_finish'][0])} / {fmt(result['to_finish'][1])}"),
        Row("storm", f"{label}: start-to-finish p50 / p99 (s)",
            f"{fmt(result['run_time'][0], 3)} / {fmt(result['run_time'][1], 3)}"),
    ]  # fmt: skip
    if result["worker_cpu"] is not None and result["server_cpu"] is not None:
        rows.append(
            Row("storm", f"{label}: CPU per execution, workers / PostgreSQL (ms)",
                f"{fmt(result['worker_cpu'])} / {fmt(result['server_cpu'])}")
        )  # fmt: skip
    if ceiling_rate is not None:
        rows.append(
            Row("storm", f"{label}: rate as a fraction of the queue's ceiling",
                f"{rate / ceiling_rate:.0%} (of the medians)", ">= 30%")
        )  # fmt: skip
    if result["other"] or result["node_runs"] != 3 * result["completed"]:
        rows.append(
            Row("storm", f"{label}: PROBLEM", f"{result['node_runs']} node runs; "
                f"first error: {result['an_error']}")
        )  # fmt: skip
    return rows


async def main(args: argparse.Namespace) -> None:
    server_url = os.environ["DATABASE_URL"]
    database_url = ensure_database(server_url, BENCH_DATABASE, recreate=True)
    migrate(database_url)
    db = create_database(database_url, pool_size=5)
    concurrency = args.concurrency
    table: list[Row] = []
    try:
        async with db.connect() as connection:
            server_version = str(await connection.scalar(text("SHOW server_version")))
        print(machine(server_version), flush=True)

        workflow_id = await three_node_workflow(db)
        ceilings: list[float] = []
        storms: list[dict[str, Any]] = []
        for round_ in range(1, args.storm_rounds + 1):
            print(f"round {round_} of {args.storm_rounds}: ceiling ({args.jobs:,} no-op jobs, "
                  f"one bare pgqueuer worker), then the storm ({args.storm:,} executions, "
                  "1 worker) ...", flush=True)  # fmt: skip
            ceilings.append(await ceiling(db, database_url, args.jobs, concurrency))
            result = await storm(
                db, database_url, workflow_id, args.storm, processes=1, concurrency=concurrency
            )
            storms.append(result)
        ceiling_rate = statistics.median(ceilings)
        table.append(
            Row("ceiling", f"{args.jobs:,} no-op jobs, 1 process, batch "
                f"{batch_of(concurrency)}, {concurrency} at once: jobs/s (median of "
                f"{len(ceilings)})", fmt(ceiling_rate, 0))
        )  # fmt: skip
        rates = [storm_rate(result) for result in storms]
        median_storm = storms[rates.index(sorted(rates)[(len(rates) - 1) // 2])]
        label = f"{args.storm:,} at once, 1 worker x {concurrency}"
        table += storm_rows(f"{label} (median round)", median_storm, args.storm, ceiling_rate)
        table.append(
            Row("storm", "rounds: ceiling jobs/s, storm executions/s, fraction",
                "; ".join(f"{fmt(c, 0)} {fmt(r, 0)} {r / c:.0%}"
                          for c, r in zip(ceilings, rates, strict=True)))
        )  # fmt: skip

        print(f"storm: {args.storm:,} executions, 2 workers ...", flush=True)
        result = await storm(
            db, database_url, workflow_id, args.storm, processes=2, concurrency=concurrency
        )
        table += storm_rows(f"{args.storm:,} at once, 2 workers x {concurrency}", result,
                            args.storm, None)  # fmt: skip

        schedule_ids = await schedules_of(db, workflow_id, SCHEDULED_STORM_SCHEDULES)
        print(f"storm: {args.storm:,} executions of {len(schedule_ids)} schedules, 1 worker ...",
              flush=True)  # fmt: skip
        result = await storm(
            db, database_url, workflow_id, args.storm, processes=1, concurrency=concurrency,
            schedule_ids=schedule_ids,
        )  # fmt: skip
        table += storm_rows(
            f"{args.storm:,} at once of {len(schedule_ids)} schedules, 1 worker x {concurrency}",
            result, args.storm, ceiling_rate,
        )  # fmt: skip

        print(f"steady: {args.steady_rate:g}/s for {args.steady_seconds:g} s ...", flush=True)
        result = await steady(
            db, database_url, workflow_id,
            rate=args.steady_rate, seconds=args.steady_seconds, concurrency=concurrency,
        )  # fmt: skip
        table += [
            Row("steady", f"{args.steady_rate:g}/s for {args.steady_seconds:g} s, 1 worker: "
                "offered rate (/s)", fmt(result["offered"], 1)),
            Row("steady", "completed / other", f"{result['completed']:,} / {result['other']:,}",
                f"{result['count']:,} / 0"),
            Row("steady", "fire-to-start p50 (s)", fmt(result["to_start"][0], 3)),
            Row("steady", "fire-to-start p99 (s)", fmt(result["to_start"][1], 3), "< 1"),
            Row("steady", "fire-to-finish p50 / p99 (s)",
                f"{fmt(result['to_finish'][0], 3)} / {fmt(result['to_finish'][1], 3)}"),
        ]  # fmt: skip

        print(f"firing: {args.firing:,} due schedules x {args.rounds} round(s) ...", flush=True)
        fires = await firing(db, args.firing, args.rounds)
        with_handoff = statistics.median(fires["with"])
        without = statistics.median(fires["without"])
        best_with, best_without = max(fires["with"]), max(fires["without"])
        table += [
            Row("firing", f"{args.firing:,} due at once: fires/s without the hand-off "
                f"(median of {args.rounds})", fmt(without, 0)),
            Row("firing", "fires/s with the hand-off (a job per execution)", fmt(with_handoff, 0)),
            Row("firing", "with / without (medians)", f"{with_handoff / without:.2f}", ">= 0.80"),
            Row("firing", "with / without (best rounds)", f"{best_with / best_without:.2f}",
                ">= 0.80"),
            Row("firing", "rounds without / with",
                " ".join(fmt(v, 0) for v in fires["without"]) + " / "
                + " ".join(fmt(v, 0) for v in fires["with"])),
        ]  # fmt: skip
    finally:
        await db.dispose()
    print_table(table)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f} (other work on the machine "
          "lowers every figure; the ratios are the steadier part)")  # fmt: skip


def print_table(table: list[Row]) -> None:
    headers = ("scenario", "metric", "value", "goal")
    rows = [headers] + [(r.scenario, r.metric, r.value, r.goal) for r in table]
    widths = [max(len(row[i]) for row in rows) for i in range(len(headers))]
    print()
    for index, row in enumerate(rows):
        print(" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("-+-".join("-" * width for width in widths))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller counts (a smoke run)")
    parser.add_argument("--concurrency", type=int, default=20, help="WORKER_CONCURRENCY")
    parser.add_argument("--jobs", type=int, help="no-op jobs of the ceiling (20,000)")
    parser.add_argument("--storm", type=int, help="executions of the storm (5,000)")
    parser.add_argument("--steady-rate", type=float, default=50.0)
    parser.add_argument("--steady-seconds", type=float, help="(20)")
    parser.add_argument("--firing", type=int, help="due schedules of the firing storm (20,000)")
    parser.add_argument("--rounds", type=int, help="firing storms per variant (9)")
    parser.add_argument("--storm-rounds", type=int, help="ceiling + 1-worker storm rounds (5)")
    # The ceiling's worker process (this file run again).
    parser.add_argument("--queue-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--expect", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=10, help=argparse.SUPPRESS)
    parser.add_argument("--max-tasks", type=int, default=20, help=argparse.SUPPRESS)
    args = parser.parse_args()
    quick = args.quick
    for name, full, small in (
        ("jobs", 20_000, 2_000), ("storm", 5_000, 500), ("steady_seconds", 20.0, 4.0),
        ("firing", 20_000, 2_000), ("rounds", 9, 1), ("storm_rounds", 5, 1),
    ):  # fmt: skip
        if getattr(args, name) is None:
            setattr(args, name, small if quick else full)
    return args


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.queue_worker:
        asyncio.run(
            queue_worker(
                asyncpg_dsn(os.environ["DATABASE_URL"]),
                arguments.expect,
                arguments.batch,
                arguments.max_tasks,
            )
        )
    else:
        asyncio.run(main(arguments))
