"""Races found by hostile reviews: cancel against the worker, the sweeper against a
healthy worker, and what changes between a claim's read and its start."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.core.settings import Settings
from app.runtime.calls import Services
from app.runtime.runner import ExecutionRunner
from tests.integration.test_api.conftest import Headers, login
from tests.integration.test_runtime.conftest import (
    TRIGGER,
    client_of,
    napper,
    node_statuses,
    runtime_settings,
    wait_for,
    workflow,
)


async def _until(predicate: object, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not await predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


async def _left_running(
    api: httpx.AsyncClient, user: Headers, committed_db: AsyncEngine, settings: Settings,
    nap: float = 0.3,
) -> str:  # fmt: skip
    """An execution (start -> nap of `nap` s) left `running` by a worker that died in
    its nap (SIGKILL: nothing more is written)."""
    workflow_id = await napper(api, user, nap)
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
    return execution_id


async def _mark_running(db: AsyncEngine, execution_id: str, *, attempt: int) -> None:
    """The execution as a worker that is gone left it: running at `attempt`, held by a
    run token nobody has."""
    async with db.begin() as connection:
        await connection.execute(
            text("UPDATE workflow_executions SET status = 'running', attempt = :attempt, "
                 "run_token = gen_random_uuid(), started_at = now() WHERE id = :id"),
            {"id": execution_id, "attempt": attempt},
        )  # fmt: skip


async def test_cancelling_a_run_whose_worker_died_leaves_no_node_run_running(
    api: httpx.AsyncClient, committed_db: AsyncEngine, settings: Settings
) -> None:
    """The worker dies (SIGKILL: nothing more is written) with a node run `running`; the
    user cancels; the job is picked again and the claim sees `cancelled` and returns. No
    one ever ends the node run: it stays `running` forever."""
    user = await login(api)
    execution_id = await _left_running(api, user, committed_db, settings, nap=30)
    async with httpx.AsyncClient() as http:
        services = Services(settings, settings.sealing_box(), http)
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


# -- the claim reads without locks: what changes between its read and its start wins -----


async def _schedule_of(api: httpx.AsyncClient, user: Headers, workflow_id: str) -> str:
    created = await api.post(
        "/api/v1/schedules",
        json={"workflow_id": workflow_id, "name": "claimed", "schedule_type": "cron",
              "schedule_config": {"cron_expression": "0 9 * * 1-5"}, "timezone": "UTC"},
        headers=user,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    schedule_id: str = created.json()["id"]
    return schedule_id


async def _pending(api: httpx.AsyncClient, user: Headers, workflow_id: str, scheduled: bool) -> str:
    """A pending execution of the workflow: triggered on a schedule of it, or run."""
    if scheduled:
        schedule_id = await _schedule_of(api, user, workflow_id)
        response = await api.post(f"/api/v1/schedules/{schedule_id}/trigger", headers=user)
        execution_id: str = response.json()["execution"]["id"]
    else:
        response = await api.post(f"/api/v1/workflows/{workflow_id}/run", headers=user)
        execution_id = response.json()["id"]
    assert response.status_code == 201, response.text
    return execution_id


# What the API's cancel does to a pending execution, as a concurrent transaction.
_CANCEL = text(
    "UPDATE workflow_executions SET status = 'cancelled', ended_at = now() WHERE id = :id"
)


@contextlib.asynccontextmanager
async def _row_held(db: AsyncEngine, table: str, row_id: str) -> AsyncIterator[AsyncConnection]:
    """Another transaction holding the row's lock for the block (what it changes there
    commits at the end): a claim can read the row meanwhile, not write it."""
    async with db.connect() as holder:
        transaction = await holder.begin()
        await holder.execute(
            text(f"SELECT 1 FROM {table} WHERE id = :id FOR UPDATE"), {"id": row_id}
        )
        yield holder
        await transaction.commit()


async def _claimed_twice_at_once(settings: Settings, db: AsyncEngine, execution_id: str) -> None:
    """Two runners (two workers') claim the execution, both reading it before either can
    write it (its row is held meanwhile), as after a double pick."""
    async with httpx.AsyncClient() as http:
        services = Services(settings, settings.sealing_box(), http)
        runners = [ExecutionRunner(db, services) for _ in range(2)]
        async with _row_held(db, "workflow_executions", execution_id):
            claims = [asyncio.create_task(one.run(uuid.UUID(execution_id))) for one in runners]
            await asyncio.sleep(0.3)  # both have read it and wait for the row
            assert not any(claim.done() for claim in claims)
        await asyncio.wait_for(asyncio.gather(*claims), 10)


async def _log_messages(api: httpx.AsyncClient, user: Headers, execution_id: str) -> list[str]:
    logs = await api.get(f"/api/v1/executions/{execution_id}/logs", headers=user)
    assert logs.status_code == 200, logs.text
    return [line["message"] for line in logs.json()["items"]]


@pytest.mark.parametrize("scheduled", [False, True], ids=["run", "scheduled"])
@pytest.mark.parametrize("pure", [False, True], ids=["io-nodes", "pure-nodes"])
async def test_a_cancel_between_the_claims_read_and_its_start_wins(
    api: httpx.AsyncClient, committed_db: AsyncEngine, settings: Settings,
    scheduled: bool, pure: bool,
) -> None:  # fmt: skip
    """The claim has read the execution pending and waits to start it (another
    transaction holds the row and cancels it): the start finds it cancelled and starts
    nothing, and no node run or start is written under the cancelled execution."""
    user = await login(api)
    if pure:
        workflow_id = await workflow(api, user, [TRIGGER], [])
    else:
        workflow_id = await napper(api, user, 0.1)
    execution_id = await _pending(api, user, workflow_id, scheduled)
    async with httpx.AsyncClient() as http:
        runner = ExecutionRunner(committed_db, Services(settings, settings.sealing_box(), http))
        async with _row_held(committed_db, "workflow_executions", execution_id) as holder:
            claiming = asyncio.create_task(runner.run(uuid.UUID(execution_id)))
            await asyncio.sleep(0.3)  # the claim has read the row and waits to start it
            assert not claiming.done()
            await holder.execute(_CANCEL, {"id": execution_id})
        await asyncio.wait_for(claiming, 10)

    execution = await wait_for(api, user, execution_id, limit=5)
    assert execution["status"] == "cancelled"
    assert execution["started_at"] is None
    assert execution["nodes"] == []
    assert "execution started" not in await _log_messages(api, user, execution_id)


@pytest.mark.parametrize("scheduled", [False, True], ids=["run", "scheduled"])
async def test_two_claims_of_one_pending_execution_run_it_once(
    api: httpx.AsyncClient, committed_db: AsyncEngine, settings: Settings, scheduled: bool
) -> None:
    """Two workers (two runners) both read the execution pending (a second job for it,
    as after a double pick): the first start wins, the second starts nothing, and every
    node runs once, as attempt 1."""
    user = await login(api)
    workflow_id = await napper(api, user, 0.2)
    execution_id = await _pending(api, user, workflow_id, scheduled)
    await _claimed_twice_at_once(settings, committed_db, execution_id)

    execution = await wait_for(api, user, execution_id, limit=5)
    assert execution["status"] == "completed", execution["error_message"]
    assert execution["attempt"] == 1
    assert await node_statuses(committed_db, execution_id) == ["start:completed", "nap:completed"]
    assert (await _log_messages(api, user, execution_id)).count("execution started") == 1


async def test_an_execution_cancelled_while_its_claim_waits_for_the_schedule_is_not_counted(
    api: httpx.AsyncClient, committed_db: AsyncEngine, settings: Settings
) -> None:
    """max_instances 1, two pending executions of one schedule claimed together; the first
    is cancelled while the claim waits for the schedule's lock: it is not counted as
    running, so the second starts rather than being skipped for max_instances."""
    user = await login(api)
    workflow_id = await napper(api, user, 0.1)
    schedule_id = await _schedule_of(api, user, workflow_id)
    ids = []
    for _ in range(2):
        response = await api.post(f"/api/v1/schedules/{schedule_id}/trigger", headers=user)
        assert response.status_code == 201, response.text
        ids.append(response.json()["execution"]["id"])
    async with httpx.AsyncClient() as http:
        runner = ExecutionRunner(committed_db, Services(settings, settings.sealing_box(), http))
        async with _row_held(committed_db, "schedules", schedule_id) as holder:
            claiming = asyncio.gather(*(runner.run(uuid.UUID(one)) for one in ids))
            await asyncio.sleep(0.3)  # the claim has read both and waits for the schedule
            await holder.execute(_CANCEL, {"id": ids[0]})
        await asyncio.wait_for(claiming, 10)

    first, second = [await wait_for(api, user, one, limit=5) for one in ids]
    assert first["status"] == "cancelled"
    assert first["nodes"] == []
    assert second["status"] == "completed", second["error_message"]
    schedule = (await api.get(f"/api/v1/schedules/{schedule_id}", headers=user)).json()
    assert schedule["skipped_count"] == 0


async def test_two_claims_of_one_execution_left_running_resume_it_once(
    api: httpx.AsyncClient, committed_db: AsyncEngine, settings: Settings
) -> None:
    """Two workers both read the execution a dead worker left running (its job picked
    twice): the first resumes it as attempt 2; the second finds another worker's run
    token under the lock and leaves it alone, rather than resuming it again (attempt 3)
    and stopping the healthy run."""
    user = await login(api)
    execution_id = await _left_running(api, user, committed_db, settings)
    await _claimed_twice_at_once(settings, committed_db, execution_id)

    execution = await wait_for(api, user, execution_id, limit=5)
    assert execution["status"] == "completed", execution["error_message"]
    assert execution["attempt"] == 2
    assert await node_statuses(committed_db, execution_id) == [
        "start:completed", "nap:failed", "nap:completed",
    ]  # fmt: skip
    messages = await _log_messages(api, user, execution_id)
    assert sum(message.startswith("resumed after a worker loss") for message in messages) == 1


async def test_an_execution_left_running_at_attempt_zero_is_resumed(
    api: httpx.AsyncClient, committed_db: AsyncEngine, settings: Settings
) -> None:
    """A row set running outside the runtime (attempt keeps its default, 0) is resumed
    like any other, not left running for ever."""
    user = await login(api)
    workflow_id = await napper(api, user, 0.1)
    execution_id = (await api.post(f"/api/v1/workflows/{workflow_id}/run", headers=user)).json()[
        "id"
    ]
    await _mark_running(committed_db, execution_id, attempt=0)
    await _claimed_together(settings, committed_db, [execution_id])

    execution = await wait_for(api, user, execution_id, limit=5)
    assert execution["status"] == "completed", execution["error_message"]
    assert execution["attempt"] == 1
    assert await node_statuses(committed_db, execution_id) == ["start:completed", "nap:completed"]


async def _triggered(
    api: httpx.AsyncClient, user: Headers, workflow_id: str, count: int, max_instances: int
) -> tuple[str, list[str]]:
    """A schedule of the workflow with this max_instances, triggered `count` times: its id
    and the pending executions' ids."""
    created = await api.post(
        "/api/v1/schedules",
        json={"workflow_id": workflow_id, "name": "limited", "schedule_type": "cron",
              "schedule_config": {"cron_expression": "0 9 * * 1-5"}, "timezone": "UTC",
              "metadata": {"max_instances": max_instances}},
        headers=user,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    schedule_id: str = created.json()["id"]
    ids = []
    for _ in range(count):
        response = await api.post(f"/api/v1/schedules/{schedule_id}/trigger", headers=user)
        assert response.status_code == 201, response.text
        ids.append(response.json()["execution"]["id"])
    return schedule_id, ids


async def _claimed_together(settings: Settings, db: AsyncEngine, ids: list[str]) -> None:
    """One runner (one worker's) claims and runs them at once, in one batch."""
    async with httpx.AsyncClient() as http:
        runner = ExecutionRunner(db, Services(settings, settings.sealing_box(), http))
        await asyncio.wait_for(asyncio.gather(*(runner.run(uuid.UUID(one)) for one in ids)), 15)


async def test_workflows_of_pure_nodes_completed_in_the_claim_do_not_fill_max_instances(
    api: httpx.AsyncClient, committed_db: AsyncEngine, settings: Settings
) -> None:
    """max_instances 1, three pending executions of a workflow of pure nodes claimed
    together: each completes inside the claim, so none is running when the next is
    decided, and none is skipped (as none would be, claimed one by one)."""
    user = await login(api)
    workflow_id = await workflow(api, user, [TRIGGER], [])
    schedule_id, ids = await _triggered(api, user, workflow_id, 3, max_instances=1)

    await _claimed_together(settings, committed_db, ids)

    statuses = [(await wait_for(api, user, one, limit=5))["status"] for one in ids]
    assert statuses == ["completed"] * 3
    schedule = (await api.get(f"/api/v1/schedules/{schedule_id}", headers=user)).json()
    assert schedule["skipped_count"] == 0


async def test_a_run_given_up_at_its_last_worker_loss_does_not_fill_max_instances(
    api: httpx.AsyncClient, committed_db: AsyncEngine, settings: Settings
) -> None:
    """max_instances 1: an execution left running by its third lost worker and a pending
    one of the same schedule, claimed together. The first fails (lost 3 times); it was
    counted as running, and its place goes to the pending one, which runs rather than
    being skipped while nothing of the schedule runs."""
    user = await login(api)
    workflow_id = await napper(api, user, 0.1)
    schedule_id, (lost, waiting) = await _triggered(api, user, workflow_id, 2, max_instances=1)
    await _mark_running(committed_db, lost, attempt=3)

    await _claimed_together(settings, committed_db, [lost, waiting])

    given_up = await wait_for(api, user, lost, limit=5)
    assert given_up["status"] == "failed"
    assert "lost 3 times" in given_up["error_message"]
    ran = await wait_for(api, user, waiting, limit=5)
    assert ran["status"] == "completed", ran["error_message"]
    schedule = (await api.get(f"/api/v1/schedules/{schedule_id}", headers=user)).json()
    assert schedule["skipped_count"] == 0
