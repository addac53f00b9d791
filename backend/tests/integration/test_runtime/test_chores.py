"""What a worker does beside running jobs: re-hand-off of orphaned executions, retention;
and what happens to an execution cancelled before any worker took it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.settings import Settings
from app.runtime.calls import Services
from app.runtime.runner import ExecutionRunner
from app.runtime.worker import Worker
from tests.integration.test_api.conftest import Headers, login
from tests.integration.test_runtime.conftest import (
    TRIGGER,
    client_of,
    runtime_settings,
    tool,
    workflow,
)


@pytest.fixture
def settings(engine_database_url: str) -> Settings:
    """Runtime settings without a worker in the app (the tests drive one by hand)."""
    return runtime_settings(
        engine_database_url, worker_enabled=False, worker_stall_seconds=1.0,
        execution_retention_days=1.0, execution_retention_keep=2,
    )  # fmt: skip


@pytest.fixture
async def api(committed_db: AsyncEngine, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An app with no worker, on an emptied database."""
    async with client_of(settings) as client:
        yield client


async def _echo_workflow(api: httpx.AsyncClient, user: Headers) -> str:
    echo = await tool(api, user, "builtin", {"name": "echo"})
    return await workflow(
        api, user, [TRIGGER, {"name": "say", "node_type": "tool", "tool_id": echo}],
        [{"source": "start", "target": "say"}],
    )  # fmt: skip


async def _jobs(db: AsyncEngine, execution_id: str) -> int:
    async with db.connect() as connection:
        count: int = await connection.scalar(
            text("SELECT count(*) FROM pgqueuer WHERE dedupe_key = :id"), {"id": execution_id}
        )
    return count


async def test_a_run_is_handed_off_with_exactly_one_job(
    api: httpx.AsyncClient, committed_db: AsyncEngine
) -> None:
    user = await login(api)
    workflow_id = await _echo_workflow(api, user)

    run = await api.post(f"/api/v1/workflows/{workflow_id}/run", headers=user)

    assert await _jobs(committed_db, run.json()["id"]) == 1


async def test_the_sweeper_hands_off_an_execution_that_lost_its_job_once(
    api: httpx.AsyncClient, committed_db: AsyncEngine, settings: Settings
) -> None:
    user = await login(api)
    workflow_id = await _echo_workflow(api, user)
    execution_id = (await api.post(f"/api/v1/workflows/{workflow_id}/run", headers=user)).json()[
        "id"
    ]
    async with committed_db.begin() as connection:  # the job is gone, the run is an hour old
        await connection.execute(text("DELETE FROM pgqueuer"))
        await connection.execute(
            text("UPDATE workflow_executions SET updated_at = now() - interval '1 hour'")
        )
    worker = Worker(committed_db, settings, settings.sealing_box())

    assert await worker.sweep() == 1
    assert await worker.sweep() == 0  # a job exists now: not a second one
    assert await _jobs(committed_db, execution_id) == 1


async def test_retention_prunes_old_finished_runs_keeping_each_schedules_newest(
    api: httpx.AsyncClient, committed_db: AsyncEngine, settings: Settings
) -> None:
    user = await login(api)
    workflow_id = await _echo_workflow(api, user)
    schedule = await api.post(
        "/api/v1/schedules", headers=user,
        json={"workflow_id": workflow_id, "name": "s", "schedule_type": "interval",
              "schedule_config": {"hours": 1}},
    )  # fmt: skip
    schedule_id = schedule.json()["id"]
    async with committed_db.begin() as connection:
        for days in (10, 9, 8, 7):  # four old scheduled runs, one old and one new manual run
            await connection.execute(
                text(
                    "INSERT INTO workflow_executions (id, workflow_id, schedule_id, trigger_type, "
                    "status, scheduled_for, created_at, updated_at, ended_at) VALUES "
                    "(:id, :wf, :s, 'schedule', 'completed', now() - make_interval(days => :d), "
                    "now() - make_interval(days => :d), now(), now() - make_interval(days => :d))"
                ),
                {"id": uuid.uuid4(), "wf": workflow_id, "s": schedule_id, "d": days},
            )
        for days in (5, 0):
            await connection.execute(
                text(
                    "INSERT INTO workflow_executions (id, workflow_id, trigger_type, status, "
                    "created_at, updated_at, ended_at) VALUES (:id, :wf, 'manual', 'failed', "
                    "now() - make_interval(days => :d), now(), now() - make_interval(days => :d))"
                ),
                {"id": uuid.uuid4(), "wf": workflow_id, "d": days},
            )
        running = uuid.uuid4()
        await connection.execute(
            text(
                "INSERT INTO workflow_executions (id, workflow_id, trigger_type, status, "
                "created_at, updated_at) VALUES (:id, :wf, 'manual', 'running', "
                "now() - interval '20 days', now())"
            ),
            {"id": running, "wf": workflow_id},
        )
    worker = Worker(committed_db, settings, settings.sealing_box())

    assert await worker.prune() == 3  # two old scheduled ones, the old manual one
    async with committed_db.connect() as connection:
        left = (
            await connection.execute(
                text(
                    "SELECT schedule_id IS NOT NULL, status, "
                    "round(EXTRACT(EPOCH FROM now() - created_at) / 86400) FROM "
                    "workflow_executions ORDER BY created_at"
                )
            )
        ).all()
    assert [tuple(row) for row in left] == [
        (False, "running", 20), (True, "completed", 8), (True, "completed", 7),
        (False, "failed", 0),
    ]  # fmt: skip


async def test_a_run_cancelled_while_pending_never_starts(
    api: httpx.AsyncClient, committed_db: AsyncEngine, settings: Settings
) -> None:
    user = await login(api)
    workflow_id = await _echo_workflow(api, user)
    execution_id = (await api.post(f"/api/v1/workflows/{workflow_id}/run", headers=user)).json()[
        "id"
    ]

    cancelled = await api.post(f"/api/v1/executions/{execution_id}/cancel", headers=user)
    async with httpx.AsyncClient() as http:  # a worker takes the job up afterwards
        runner = ExecutionRunner(committed_db, Services(settings, settings.sealing_box(), http))
        await runner.run(uuid.UUID(execution_id))

    assert cancelled.status_code == 200
    detail = (await api.get(f"/api/v1/executions/{execution_id}", headers=user)).json()
    assert detail["status"] == "cancelled"
    assert detail["started_at"] is None
    assert detail["nodes"] == []
