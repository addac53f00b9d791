"""Races found by a hostile review: cancel against the worker, the sweeper against a
healthy worker."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.settings import Settings
from app.runtime.calls import Services
from app.runtime.runner import ExecutionRunner
from tests.integration.test_api.conftest import login
from tests.integration.test_runtime.conftest import (
    client_of,
    napper,
    node_statuses,
    runtime_settings,
    wait_for,
)


async def _until(predicate: object, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not await predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


async def test_cancelling_a_run_whose_worker_died_leaves_no_node_run_running(
    api: httpx.AsyncClient, committed_db: AsyncEngine, settings: Settings
) -> None:
    """The worker dies (SIGKILL: nothing more is written) with a node run `running`; the
    user cancels; the job is picked again and the claim sees `cancelled` and returns. No
    one ever ends the node run: it stays `running` forever."""
    user = await login(api)
    workflow_id = await napper(api, user, 30)
    execution_id = (await api.post(f"/api/v1/workflows/{workflow_id}/run", headers=user)).json()[
        "id"
    ]
    async with httpx.AsyncClient() as http:
        services = Services(settings, settings.sealing_box(), http)
        dying = asyncio.create_task(
            ExecutionRunner(committed_db, services).run(uuid.UUID(execution_id))
        )

        async def napping() -> bool:
            return "nap:running" in await node_statuses(committed_db, execution_id)

        await _until(napping)
        dying.cancel()  # the worker is gone: no cleanup reaches the database
        with pytest.raises(asyncio.CancelledError):
            await dying
        cancelled = await api.post(f"/api/v1/executions/{execution_id}/cancel", headers=user)
        assert cancelled.status_code == 200
        await ExecutionRunner(committed_db, services).run(uuid.UUID(execution_id))  # re-picked

    assert await node_statuses(committed_db, execution_id) == ["start:completed", "nap:cancelled"]


async def test_a_cancel_noticed_by_the_node_runs_end_still_ends_the_node_run(
    api: httpx.AsyncClient, committed_db: AsyncEngine, settings: Settings
) -> None:
    """The node finishes between the cancel and the watcher's next poll: end_node_run is
    fenced out (status is no longer running), ExecutionLostError unwinds the walk, and the
    node run is left `running` under a cancelled execution."""
    user = await login(api)
    workflow_id = await napper(api, user, 1)
    execution_id = (await api.post(f"/api/v1/workflows/{workflow_id}/run", headers=user)).json()[
        "id"
    ]
    async with httpx.AsyncClient() as http:
        services = Services(settings, settings.sealing_box(), http)
        runner = ExecutionRunner(committed_db, services, poll_seconds=30)  # a slow poll
        running = asyncio.create_task(runner.run(uuid.UUID(execution_id)))

        async def napping() -> bool:
            return "nap:running" in await node_statuses(committed_db, execution_id)

        await _until(napping)
        cancelled = await api.post(f"/api/v1/executions/{execution_id}/cancel", headers=user)
        assert cancelled.status_code == 200
        await asyncio.wait_for(running, 10)

    assert await node_statuses(committed_db, execution_id) == ["start:completed", "nap:cancelled"]


@pytest.fixture
async def worker_api(
    committed_db: AsyncEngine, engine_database_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """An app with its worker, stall time 2 s (sweeps every second)."""
    async with client_of(runtime_settings(engine_database_url, worker_stall_seconds=2.0)) as client:
        yield client


async def test_a_healthy_run_whose_job_row_is_gone_is_not_taken_over_as_a_lost_one(
    worker_api: httpx.AsyncClient, committed_db: AsyncEngine
) -> None:
    """pgqueuer deletes a job row by id when a handler returns (qb.build_log_job_query), even
    after another worker re-picked it: after one double pick (a worker whose loop stalled past
    WORKER_STALL_SECONDS) the live run has no job. The sweeper then sees `running`, no job,
    `updated_at` old (nothing refreshes it during a run) and hands it off: the healthy run is
    "recovered", its node run marked worker lost, its node run again, a loss counted."""
    user = await login(worker_api)
    workflow_id = await napper(worker_api, user, 6)
    execution_id = (
        await worker_api.post(f"/api/v1/workflows/{workflow_id}/run", headers=user)
    ).json()["id"]

    async def napping() -> bool:
        return "nap:running" in await node_statuses(committed_db, execution_id)

    await _until(napping)
    async with committed_db.begin() as connection:  # what the superseded worker's log does
        await connection.execute(
            text("DELETE FROM pgqueuer WHERE dedupe_key = :id"), {"id": execution_id}
        )
    execution = await wait_for(worker_api, user, execution_id, limit=30)

    assert execution["status"] == "completed", (execution["error_message"], execution["attempt"])
    assert execution["attempt"] == 1, [
        (n["node_name"], n["status"], n["attempt"], n["error_message"]) for n in execution["nodes"]
    ]
