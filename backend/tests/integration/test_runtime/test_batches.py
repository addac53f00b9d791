"""Executions run together by one worker are claimed and written together (group commit):
each still keeps its own limit, its own cancel and its own failure."""

from __future__ import annotations

import asyncio
import gc
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.settings import Settings
from app.runtime import store
from app.runtime.calls import Services
from app.runtime.runner import ExecutionRunner
from tests.integration.test_api.conftest import Headers, login
from tests.integration.test_runtime.conftest import (
    TRIGGER,
    napper,
    node_statuses,
    tool,
    wait_for,
    workflow,
)


async def _run_all(settings: Settings, db: AsyncEngine, ids: list[str], **options: float) -> None:
    """One runner (one worker's) runs all of them at once."""
    async with httpx.AsyncClient() as http:
        runner = ExecutionRunner(db, Services(settings, settings.sealing_box(), http), **options)  # type: ignore[arg-type]
        await asyncio.wait_for(
            asyncio.gather(*(runner.run(uuid.UUID(one)) for one in ids)), timeout=30
        )


async def _napping_together(
    api: httpx.AsyncClient, user: Headers, settings: Settings, db: AsyncEngine, count: int
) -> tuple[list[str], asyncio.Task[None]]:
    """`count` executions of a 1 s nap run by one runner whose watcher polls too slowly to
    notice anything; returned once every one is napping, with the task running them."""
    workflow_id = await napper(api, user, 1.0)
    ids = [
        (await api.post(f"/api/v1/workflows/{workflow_id}/run", headers=user)).json()["id"]
        for _ in range(count)
    ]
    running = asyncio.create_task(_run_all(settings, db, ids, poll_seconds=30))
    deadline = asyncio.get_running_loop().time() + 10
    for one in ids:
        while "nap:running" not in await node_statuses(db, one):
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.02)
    return ids, running


async def test_executions_of_one_schedule_claimed_together_keep_max_instances(
    api: httpx.AsyncClient, committed_db: AsyncEngine, settings: Settings
) -> None:
    user = await login(api)
    workflow_id = await napper(api, user, 0.2)
    created = await api.post(
        "/api/v1/schedules",
        json={
            "workflow_id": workflow_id, "name": "two at a time", "schedule_type": "cron",
            "schedule_config": {"cron_expression": "0 9 * * 1-5"}, "timezone": "UTC",
            "metadata": {"max_instances": 2},
        },
        headers=user,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    schedule_id = created.json()["id"]
    triggered = []
    for _ in range(5):
        response = await api.post(f"/api/v1/schedules/{schedule_id}/trigger", headers=user)
        assert response.status_code == 201, response.text
        triggered.append(response.json()["execution"]["id"])

    await _run_all(settings, committed_db, triggered)

    executions = [await wait_for(api, user, one, limit=5) for one in triggered]
    statuses = sorted(execution["status"] for execution in executions)
    assert statuses == ["completed", "completed", "skipped", "skipped", "skipped"]
    for execution in executions:
        if execution["status"] == "skipped":
            assert execution["error_message"] == "skipped: max_instances (2 of 2 running)"
            assert execution["nodes"] == []
    schedule = (await api.get(f"/api/v1/schedules/{schedule_id}", headers=user)).json()
    assert schedule["skipped_count"] == 3


async def test_a_cancel_among_executions_written_together_stops_only_that_one(
    api: httpx.AsyncClient, committed_db: AsyncEngine, settings: Settings
) -> None:
    """The watcher polls too slowly to see the cancel: the batched write of the cancelled
    run's end is what refuses it, and the other runs' writes in the same batch land."""
    user = await login(api)
    ids, running = await _napping_together(api, user, settings, committed_db, 5)
    victim = ids[2]
    cancelled = await api.post(f"/api/v1/executions/{victim}/cancel", headers=user)
    assert cancelled.status_code == 200, cancelled.text
    await running

    for one in ids:
        execution = await wait_for(api, user, one, limit=5)
        statuses = await node_statuses(committed_db, one)
        if one == victim:
            assert execution["status"] == "cancelled"
            assert execution["output_data"] is None
            assert statuses == ["start:completed", "nap:cancelled"]
        else:
            assert execution["status"] == "completed", execution
            assert statuses == ["start:completed", "nap:completed"]


async def test_a_failing_node_in_one_execution_fails_only_that_execution(
    api: httpx.AsyncClient, committed_db: AsyncEngine, settings: Settings
) -> None:
    user = await login(api)
    fail = await tool(api, user, "builtin", {"name": "fail"})
    echo = await tool(api, user, "builtin", {"name": "echo"})
    workflow_id = await workflow(
        api, user,
        [TRIGGER,
         {"name": "maybe", "node_type": "condition",
          "config": {"branches": [{"name": "bad", "when": "trigger.input.bad"}],
                     "default": "good"}},
         {"name": "boom", "node_type": "tool", "tool_id": fail,
          "config": {"parameters": {"message": "broke on purpose"}}},
         {"name": "fine", "node_type": "tool", "tool_id": echo,
          "config": {"parameters": {"n": "{{ trigger.input.n }}"}}}],
        [{"source": "start", "target": "maybe"},
         {"source": "maybe", "target": "boom", "source_handle": "bad"},
         {"source": "maybe", "target": "fine", "source_handle": "good"}],
    )  # fmt: skip
    ids = []
    for n in range(6):
        response = await api.post(
            f"/api/v1/workflows/{workflow_id}/run",
            json={"input": {"n": n, "bad": n == 3}},
            headers=user,
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])

    await _run_all(settings, committed_db, ids)

    for n, one in enumerate(ids):
        execution = await wait_for(api, user, one, limit=5)
        if n == 3:
            assert execution["status"] == "failed"
            assert execution["error_message"] == "node boom failed: broke on purpose"
        else:
            assert execution["status"] == "completed", execution
            assert execution["output_data"] == {"fine": {"n": n}}


async def test_an_execution_deleted_mid_run_leaves_the_others_in_its_batch_running(
    api: httpx.AsyncClient, committed_db: AsyncEngine, settings: Settings
) -> None:
    user = await login(api)
    ids, running = await _napping_together(api, user, settings, committed_db, 4)
    victim = ids[1]
    async with committed_db.begin() as connection:  # by hand, as an operator might
        await connection.execute(
            text("DELETE FROM workflow_executions WHERE id = :id"), {"id": victim}
        )
    await running  # no run raised

    gone = await api.get(f"/api/v1/executions/{victim}", headers=user)
    assert gone.status_code == 404
    for one in ids:
        if one != victim:
            execution = await wait_for(api, user, one, limit=5)
            assert execution["status"] == "completed", execution
            assert await node_statuses(committed_db, one) == ["start:completed", "nap:completed"]


async def _logs(db: AsyncEngine, execution_id: str) -> list[str]:
    async with db.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT message FROM execution_logs WHERE workflow_execution_id = :id "
                "ORDER BY timestamp, id"
            ),
            {"id": execution_id},
        )
        return [row[0] for row in rows]


async def test_a_workflow_of_pure_nodes_is_claimed_run_and_completed_together(
    api: httpx.AsyncClient, committed_db: AsyncEngine, settings: Settings
) -> None:
    user = await login(api)
    workflow_id = await workflow(
        api, user,
        [TRIGGER,
         {"name": "size", "node_type": "condition",
          "config": {"branches": [{"name": "big", "when": "trigger.input.n > `2`"}],
                     "default": "small"}},
         {"name": "shape", "node_type": "adapter",
          "config": {"mapping": {"n": "trigger.input.n", "seen": "nodes.size.branch"}}}],
        [{"source": "start", "target": "size"},
         {"source": "size", "target": "shape", "source_handle": "big"}],
    )  # fmt: skip
    ids = []
    for n in (1, 5):
        response = await api.post(
            f"/api/v1/workflows/{workflow_id}/run", json={"input": {"n": n}}, headers=user
        )
        ids.append(response.json()["id"])

    await _run_all(settings, committed_db, ids)

    small, big = [await wait_for(api, user, one, limit=5) for one in ids]
    assert small["status"] == big["status"] == "completed"
    assert big["output_data"] == {"shape": {"n": 5, "seen": "big"}}
    assert await node_statuses(committed_db, ids[0]) == [
        "start:completed", "size:completed", "shape:skipped"
    ]  # fmt: skip
    assert await node_statuses(committed_db, ids[1]) == [
        "start:completed", "size:completed", "shape:completed"
    ]  # fmt: skip
    assert await _logs(committed_db, ids[1]) == ["execution started", "execution completed"]
    assert big["started_at"] <= big["ended_at"]


async def test_a_pure_node_failing_at_the_head_of_the_walk_fails_its_execution_only(
    api: httpx.AsyncClient, committed_db: AsyncEngine, settings: Settings
) -> None:
    user = await login(api)
    workflow_id = await workflow(
        api, user,
        [TRIGGER,
         {"name": "shape", "node_type": "adapter",
          "config": {"mapping": {"size": "abs(trigger.input.n)"}}}],
        [{"source": "start", "target": "shape"}],
    )  # fmt: skip
    good = await api.post(
        f"/api/v1/workflows/{workflow_id}/run", json={"input": {"n": -3}}, headers=user
    )
    bad = await api.post(
        f"/api/v1/workflows/{workflow_id}/run", json={"input": {"n": "three"}}, headers=user
    )
    ids = [good.json()["id"], bad.json()["id"]]

    await _run_all(settings, committed_db, ids)

    fine = await wait_for(api, user, ids[0], limit=5)
    failed = await wait_for(api, user, ids[1], limit=5)
    assert fine["status"] == "completed"
    assert fine["output_data"] == {"shape": {"size": 3}}
    assert failed["status"] == "failed"
    assert failed["error_message"].startswith("node shape failed:")
    assert await node_statuses(committed_db, ids[1]) == ["start:completed", "shape:failed"]


async def test_runs_ending_while_the_watcher_polls_leave_no_unread_stop(
    api: httpx.AsyncClient,
    committed_db: AsyncEngine,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run that ends while the watcher's poll is in flight is seen by that poll as no
    longer running; the watcher must not then stop it (a stop nobody reads is logged by
    asyncio as "Future exception was never retrieved" once the run is dropped)."""
    beat = store.beat

    async def slow_beat(connection: Any, runs: Any) -> Any:
        await asyncio.sleep(0.05)  # the runs polled end meanwhile
        return await beat(connection, runs)

    monkeypatch.setattr(store, "beat", slow_beat)
    user = await login(api)
    echo = await tool(api, user, "builtin", {"name": "echo"})
    workflow_id = await workflow(
        api, user,
        [TRIGGER, {"name": "say", "node_type": "tool", "tool_id": echo,
                   "config": {"parameters": {"n": "{{ trigger.input.n }}"}}}],
        [{"source": "start", "target": "say"}],
    )  # fmt: skip
    ids = [
        (
            await api.post(f"/api/v1/workflows/{workflow_id}/run", json={"input": {"n": n}},
                           headers=user)
        ).json()["id"]
        for n in range(60)
    ]  # fmt: skip
    loop = asyncio.get_running_loop()
    unread: list[str] = []
    handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: unread.append(str(context["message"])))
    try:
        await _run_all(settings, committed_db, ids, poll_seconds=0.0)
        await asyncio.sleep(0.3)  # the watcher's last (slow) poll returns
        gc.collect()
    finally:
        loop.set_exception_handler(handler)
    assert unread == []
    for one in ids:
        assert (await wait_for(api, user, one, limit=5))["status"] == "completed"


async def test_a_graph_changed_while_the_claim_waits_runs_with_the_tools_it_names(
    api: httpx.AsyncClient, committed_db: AsyncEngine, settings: Settings
) -> None:
    """The graph is saved while the claim waits for the execution's row (held by another
    transaction): the run uses a graph and the tools it names as one read saw them (the
    graph first read after a wait may name a tool created meanwhile, so the tools are
    read again with it), and does not fail with "the tool is deleted or not usable"."""
    user = await login(api)
    workflow_id = await workflow(api, user, [TRIGGER], [])
    run = await api.post(f"/api/v1/workflows/{workflow_id}/run", headers=user)
    assert run.status_code == 201, run.text
    execution_id = run.json()["id"]
    async with committed_db.connect() as holder:
        transaction = await holder.begin()
        await holder.execute(
            text("SELECT 1 FROM workflow_executions WHERE id = :id FOR UPDATE"),
            {"id": execution_id},
        )
        running = asyncio.create_task(_run_all(settings, committed_db, [execution_id]))
        await asyncio.sleep(0.3)  # the claim waits for the row
        echo = await tool(api, user, "builtin", {"name": "echo"})
        graph = (await api.get(f"/api/v1/workflows/{workflow_id}/graph", headers=user)).json()
        saved = await api.put(
            f"/api/v1/workflows/{workflow_id}/graph",
            json={"version": graph["version"],
                  "nodes": [TRIGGER, {"name": "say", "node_type": "tool", "tool_id": echo}],
                  "edges": [{"source": "start", "target": "say"}]},
            headers=user,
        )  # fmt: skip
        assert saved.status_code == 200, saved.text
        await transaction.rollback()
    await running
    execution = await wait_for(api, user, execution_id, limit=5)
    assert execution["status"] == "completed", execution["error_message"]
