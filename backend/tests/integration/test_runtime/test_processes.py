"""The runtime with real worker processes (`python -m app.worker`): a worker killed in the
middle of a node, SIGTERM with and without enough grace, max_instances across two workers,
and the hand-off of executions fired by two engine processes (runtime.md).

The API app under test runs no worker (`worker_enabled=False`), so every execution here
is run by a worker process this module started, and by nothing else. Nothing sleeps a
fixed time: each step waits for what it needs (a node running, a line in a worker's log,
a process gone) with a generous deadline, so a loaded machine makes these tests slower,
never wrong.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db.database import create_session_factory
from app.models import Schedule
from tests.integration.test_api.conftest import Headers, login
from tests.integration.test_runtime.conftest import (
    TRIGGER,
    client_of,
    nodes_by_name,
    runtime_settings,
    start_run,
    tool,
    wait_for,
    workflow,
)
from tests.integration.test_scheduler.helpers import EngineProcess, create_schedules
from tests.waiting import until

# Seconds a silent worker's execution waits before another worker takes it over.
STALL_SECONDS = 2
# Liveness only: how long an execution may take to reach its end in these tests.
FINISH_WITHIN = 60.0
STARTED = re.compile(r"app\.runtime worker (\S+) started")


class WorkerProcess:
    """`python -m app.worker` in a process of its own, its output in a file."""

    def __init__(self, database_url: str, log_path: Path, **settings: str) -> None:
        env = {
            **os.environ,  # JWT_SECRET and ENCRYPTION_KEYS from tests/conftest.py
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "INFO",
            "WORKER_STALL_SECONDS": str(STALL_SECONDS),
            "WORKER_SHUTDOWN_GRACE_SECONDS": "10",
            "PYTHONPATH": os.pathsep.join(sys.path),
            **{f"WORKER_{name.upper()}": value for name, value in settings.items()},
        }
        self.log_path = log_path
        with log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app.worker"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )

    def output(self) -> str:
        """Everything the worker has logged so far."""
        return self.log_path.read_text()

    async def ready(self) -> str:
        """Wait until the worker takes jobs; its pgqueuer queue manager id."""

        async def started() -> str:
            assert self.process.poll() is None, f"the worker died:\n{self.output()}"
            found = STARTED.search(self.output())
            return "" if found is None else found.group(1)

        return await until(started, f"worker {self.process.pid} to start")

    def send_signal(self, signum: int) -> None:
        """Send `signum` to the worker."""
        self.process.send_signal(signum)

    async def exit_code(self, within: float = 60.0) -> int:
        """Wait (at most `within` seconds) for the worker to exit; its exit code."""

        async def exited() -> bool:
            return self.process.poll() is not None

        await until(exited, f"worker {self.process.pid} to exit", within=within)
        return self.process.returncode

    def reap(self) -> None:
        """Kill the worker if it still runs (a failed test must not leave it working)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


Workers = Callable[..., WorkerProcess]
Engines = Callable[..., EngineProcess]


@pytest.fixture
async def api(
    committed_db: AsyncEngine, engine_database_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that runs no worker and no firing engine, on an emptied database."""
    async with client_of(runtime_settings(engine_database_url, worker_enabled=False)) as client:
        yield client


@pytest.fixture
async def owner(api: httpx.AsyncClient) -> Headers:
    """A logged-in user."""
    return await login(api)


@pytest.fixture
def workers(
    committed_db: AsyncEngine, engine_database_url: str, tmp_path: Path
) -> Iterator[Workers]:
    """Start worker processes on the emptied database; all are killed at the end."""
    started: list[WorkerProcess] = []

    def spawn(**settings: str) -> WorkerProcess:
        worker = WorkerProcess(
            engine_database_url, tmp_path / f"worker-{len(started)}.log", **settings
        )
        started.append(worker)
        return worker

    yield spawn
    for worker in started:
        worker.reap()


@pytest.fixture
def engines(
    committed_db: AsyncEngine, engine_database_url: str, tmp_path: Path
) -> Iterator[Engines]:
    """Start firing engine processes on the emptied database; all are killed at the end."""
    started: list[EngineProcess] = []

    def spawn(**settings: str) -> EngineProcess:
        engine = EngineProcess(
            engine_database_url, tmp_path / f"engine-{len(started)}.log", **settings
        )
        started.append(engine)
        return engine

    yield spawn
    for engine in started:
        engine.reap()


async def sleeper(api: httpx.AsyncClient, headers: Headers, *naps: tuple[str, float]) -> str:
    """A workflow trigger -> nap -> nap ..., each a builtin sleep of its seconds; its id."""
    sleep = await tool(api, headers, "builtin", {"name": "sleep"})
    nodes: list[dict[str, Any]] = [TRIGGER]
    edges: list[dict[str, Any]] = []
    previous = TRIGGER["name"]
    for name, seconds in naps:
        nodes.append(
            {"name": name, "node_type": "tool", "tool_id": sleep,
             "config": {"parameters": {"seconds": seconds}}}
        )  # fmt: skip
        edges.append({"source": previous, "target": name})
        previous = name
    return await workflow(api, headers, nodes, edges)


async def node_running(
    api: httpx.AsyncClient, headers: Headers, execution_id: str, name: str
) -> dict[str, Any]:
    """The execution once node `name` has a running node run."""

    async def running() -> dict[str, Any]:
        response = await api.get(f"/api/v1/executions/{execution_id}", headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["status"] in ("pending", "running"), body
        runs = nodes_by_name(body).get(name, [])
        return body if any(run["status"] == "running" for run in runs) else {}

    return await until(running, f"node {name} of execution {execution_id} to run")


async def job_of(db: AsyncEngine, execution_id: str) -> list[dict[str, Any]]:
    """The execution's rows in pgqueuer's queue table."""
    async with db.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT id, status, queue_manager_id, entrypoint, payload FROM pgqueuer "
                "WHERE dedupe_key = :key"
            ),
            {"key": execution_id},
        )
        return [dict(row._mapping) for row in rows]


async def job_done(db: AsyncEngine, execution_id: str) -> None:
    """Wait until the execution's job has left the queue (pgqueuer records a finished job
    shortly after its handler returns)."""

    async def gone() -> bool:
        return not await job_of(db, execution_id)

    await until(gone, f"the job of execution {execution_id} to be done")


async def running_node_runs(db: AsyncEngine) -> int:
    """Node runs left running or pending, in the whole database."""
    async with db.connect() as connection:
        count: int = await connection.scalar(
            text("SELECT count(*) FROM node_executions WHERE status IN ('running', 'pending')")
        )
        return count


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


# -- a worker killed mid-node ------------------------------------------------------------


async def test_a_killed_worker_s_execution_resumes_on_another_without_rerunning_done_nodes(
    api: httpx.AsyncClient, owner: Headers, workers: Workers, committed_db: AsyncEngine
) -> None:
    workflow_id = await sleeper(api, owner, ("a", 1), ("b", 6))
    pair = [workers(), workers()]
    by_id = {await worker.ready(): worker for worker in pair}
    assert len(by_id) == 2
    execution_id = await start_run(api, owner, workflow_id)
    await node_running(api, owner, execution_id, "b")
    # The worker holding the execution is the one whose queue manager picked its job.
    (job,) = await job_of(committed_db, execution_id)
    assert job["status"] == "picked"
    holder_id = str(job["queue_manager_id"])
    (survivor_id,) = set(by_id) - {holder_id}
    holder, survivor = by_id[holder_id], by_id[survivor_id]

    holder.send_signal(signal.SIGKILL)  # dies in the middle of node b
    assert await holder.exit_code() == -signal.SIGKILL

    async def taken_over() -> bool:
        jobs = await job_of(committed_db, execution_id)
        return bool(jobs) and str(jobs[0]["queue_manager_id"]) == survivor_id

    # Within the stall time (and a dequeue wait): liveness only, generously bounded.
    await until(taken_over, "the surviving worker to take the job over", within=FINISH_WITHIN)
    execution = await wait_for(api, owner, execution_id, limit=FINISH_WITHIN)
    assert execution["status"] == "completed", execution
    assert execution["attempt"] == 2
    assert execution["error_message"] is None
    assert execution["output_data"] == {"b": {"slept": 6}}
    runs = nodes_by_name(execution)
    (start,) = runs["start"]
    assert (start["status"], start["attempt"]) == ("completed", 1)
    (a,) = runs["a"]  # completed before the kill: kept, not run again
    assert (a["status"], a["attempt"], a["output_data"]) == ("completed", 1, {"slept": 1})
    lost, again = runs["b"]
    assert (lost["status"], lost["attempt"]) == ("failed", 1)
    assert lost["error_message"].startswith("worker lost"), lost
    assert lost["ended_at"] is not None
    assert (again["status"], again["attempt"]) == ("completed", 2)
    assert again["output_data"] == {"slept": 6}
    assert moment(again["started_at"]) >= moment(lost["ended_at"])
    assert await running_node_runs(committed_db) == 0
    await job_done(committed_db, execution_id)
    logs = await api.get(f"/api/v1/executions/{execution_id}/logs", headers=owner)
    messages = [line["message"] for line in logs.json()["items"]]
    assert messages.count("execution started") == 1
    assert any(
        message.startswith("resumed after a worker loss (attempt 2)") for message in messages
    )
    assert messages.count("node a completed") == 1
    assert messages[-1] == "execution completed"
    assert survivor.process.poll() is None, survivor.output()


# -- SIGTERM -------------------------------------------------------------------------------


async def test_sigterm_lets_a_running_execution_finish_within_the_grace(
    api: httpx.AsyncClient, owner: Headers, workers: Workers, committed_db: AsyncEngine
) -> None:
    workflow_id = await sleeper(api, owner, ("nap", 2))
    worker = workers(shutdown_grace_seconds="10")
    await worker.ready()
    execution_id = await start_run(api, owner, workflow_id)
    await node_running(api, owner, execution_id, "nap")

    worker.send_signal(signal.SIGTERM)
    # Liveness bound: the grace period and a margin for a loaded machine.
    assert await worker.exit_code(within=30.0) == 0, worker.output()

    # Finished by the worker before it exited: nothing ran it afterwards.
    execution = await wait_for(api, owner, execution_id, limit=0.0)
    assert execution["status"] == "completed", execution
    assert execution["attempt"] == 1
    (nap,) = nodes_by_name(execution)["nap"]
    assert (nap["status"], nap["attempt"], nap["output_data"]) == ("completed", 1, {"slept": 2})
    # The worker recorded its job as done before it exited.
    assert await job_of(committed_db, execution_id) == []
    assert "stopped" in worker.output()


async def test_sigterm_past_the_grace_gives_the_execution_back_to_the_queue(
    api: httpx.AsyncClient, owner: Headers, workers: Workers, committed_db: AsyncEngine
) -> None:
    workflow_id = await sleeper(api, owner, ("nap", 4))
    worker = workers(shutdown_grace_seconds="1")
    await worker.ready()
    execution_id = await start_run(api, owner, workflow_id)
    await node_running(api, owner, execution_id, "nap")

    worker.send_signal(signal.SIGTERM)
    assert await worker.exit_code(within=30.0) == 0, worker.output()

    # Given up, not failed: still the worker's to resume, with a job queued again.
    left = (await api.get(f"/api/v1/executions/{execution_id}", headers=owner)).json()
    seen = [(run["node_name"], run["status"], run["error_message"]) for run in left["nodes"]]
    assert left["status"] == "running", f"{left['status']}: {left['error_message']}; {seen}"
    assert [run["status"] for run in left["nodes"] if run["node_name"] == "nap"] == ["running"]
    (job,) = await job_of(committed_db, execution_id)
    assert job["status"] == "queued"

    successor = workers()
    await successor.ready()
    execution = await wait_for(api, owner, execution_id, limit=FINISH_WITHIN)
    assert execution["status"] == "completed", execution
    assert execution["attempt"] == 2
    given_up, finished = nodes_by_name(execution)["nap"]
    assert (given_up["status"], given_up["attempt"]) == ("failed", 1)
    assert given_up["error_message"].startswith("worker lost"), given_up
    assert (finished["status"], finished["attempt"]) == ("completed", 2)
    assert await running_node_runs(committed_db) == 0
    await job_done(committed_db, execution_id)


# -- max_instances across workers --------------------------------------------------------


async def test_max_instances_holds_across_two_workers(
    api: httpx.AsyncClient, owner: Headers, workers: Workers, committed_db: AsyncEngine
) -> None:
    workflow_id = await sleeper(api, owner, ("nap", 3))
    created = await api.post(
        "/api/v1/schedules",
        json={
            "workflow_id": workflow_id, "name": "one at a time", "schedule_type": "cron",
            "schedule_config": {"cron_expression": "0 9 * * 1-5"}, "timezone": "UTC",
            "metadata": {"max_instances": 1},
        },
        headers=owner,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    schedule_id = created.json()["id"]
    pair = [workers(), workers()]
    for worker in pair:
        await worker.ready()

    triggered: list[str] = []
    for _ in range(5):
        response = await api.post(f"/api/v1/schedules/{schedule_id}/trigger", headers=owner)
        assert response.status_code == 201, response.text
        triggered.append(response.json()["execution"]["id"])

    most_running = 0

    async def all_finished() -> bool:
        nonlocal most_running
        async with committed_db.connect() as connection:
            rows = (
                await connection.execute(
                    text("SELECT status FROM workflow_executions WHERE schedule_id = :id"),
                    {"id": schedule_id},
                )
            ).all()
        statuses = [row[0] for row in rows]
        most_running = max(most_running, statuses.count("running"))
        return all(status in ("completed", "failed", "cancelled", "skipped") for status in statuses)

    await until(all_finished, "every triggered execution to finish", within=FINISH_WITHIN)
    assert most_running <= 1

    listed = await api.get(
        "/api/v1/executions", params={"schedule_id": schedule_id, "limit": 50}, headers=owner
    )
    executions = listed.json()["items"]
    assert sorted(e["id"] for e in executions) == sorted(triggered)
    ran = sorted(
        (e for e in executions if e["started_at"] is not None), key=lambda e: e["started_at"]
    )
    skipped = [e for e in executions if e["status"] == "skipped"]
    assert ran, "no execution ran"
    assert skipped, "none was skipped, though five were triggered at once"
    assert all(e["status"] == "completed" for e in ran), ran
    assert len(ran) + len(skipped) == len(triggered)
    for earlier, later in itertools.pairwise(ran):
        assert moment(later["started_at"]) >= moment(earlier["ended_at"]), (earlier, later)
    for execution in skipped:
        assert execution["started_at"] is None
        assert "max_instances" in execution["error_message"], execution
    schedule = (await api.get(f"/api/v1/schedules/{schedule_id}", headers=owner)).json()
    assert schedule["skipped_count"] == len(skipped)
    assert schedule["last_skip_reason"] == "max_instances"


# -- the hand-off under concurrent firing -------------------------------------------------


async def test_two_engines_firing_at_once_hand_each_execution_off_exactly_once(
    committed_db: AsyncEngine, engines: Engines
) -> None:
    sessions: async_sessionmaker[AsyncSession] = create_session_factory(committed_db)
    # Created with a start a day away; the real start is set once all rows exist.
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    created = await create_schedules(
        sessions,
        50,
        schedule_type="interval",
        schedule_config={"seconds": 1, "start_date": later},
        timezone="UTC",
        metadata_={"coalesce": False, "misfire_grace_time": 3600},
    )
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    async with sessions() as session, session.begin():
        for schedule in await session.scalars(select(Schedule)):
            schedule.schedule_config = {"seconds": 1, "start_date": start.isoformat()}

    pair = [engines(batch_size="10"), engines(batch_size="10")]
    for engine in pair:
        await until(engine.has_fired, "both engines to fire")

    async def three_each() -> bool:
        async with committed_db.connect() as connection:
            fewest = await connection.scalar(
                text(
                    "SELECT min(n) FROM (SELECT count(e.id) AS n FROM schedules s "
                    "LEFT JOIN workflow_executions e ON e.schedule_id = s.id GROUP BY s.id) c"
                )
            )
        return bool(fewest is not None and fewest >= 3)

    await until(three_each, "three fires of every schedule")
    for engine in pair:
        engine.send_signal(signal.SIGTERM)
    for engine in pair:
        assert await engine.exit_code() == 0, engine.output()

    async with committed_db.connect() as connection:
        per_execution = (
            await connection.execute(
                text(
                    "SELECT e.id, e.status, count(q.id) AS jobs, "
                    "array_agg(q.entrypoint) AS entrypoints, array_agg(q.payload) AS payloads, "
                    "array_agg(q.status::text) AS statuses "
                    "FROM workflow_executions e LEFT JOIN pgqueuer q ON q.dedupe_key = e.id::text "
                    "GROUP BY e.id"
                )
            )
        ).all()
        orphans = await connection.scalar(
            text(
                "SELECT count(*) FROM pgqueuer q WHERE NOT EXISTS (SELECT 1 FROM "
                "workflow_executions e WHERE e.id::text = q.dedupe_key)"
            )
        )
        jobs = await connection.scalar(text("SELECT count(*) FROM pgqueuer"))
    assert len(per_execution) >= 3 * len(created)
    assert {row.status for row in per_execution} == {"pending"}
    for row in per_execution:
        assert row.jobs == 1, f"execution {row.id} has {row.jobs} jobs"
        assert row.entrypoints == ["run_execution"]
        assert [bytes(payload) for payload in row.payloads] == [str(row.id).encode()]
        assert row.statuses == ["queued"]
    assert orphans == 0, "a job without an execution"
    assert jobs == len(per_execution)
    fired_by = [engine.output().count("fire schedule=") for engine in pair]
    assert all(fired_by), f"an engine fired nothing: {fired_by}"
