"""Other models' rules as PostgreSQL enforces them."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Agent, Edge, ExecutionLog, Node, Tool, User, WorkflowExecution
from app.models.types import NaiveDatetimeError
from tests.factories import make_user, persisted_workflow


async def test_email_unique_among_live_users_ignoring_case(session: AsyncSession) -> None:
    session.add(User(email="trader@example.com"))
    await session.commit()
    session.add(User(email="TRADER@example.com"))
    with pytest.raises(IntegrityError, match="uq_users_email_live"):
        await session.flush()


async def test_deleted_user_frees_the_email(session: AsyncSession) -> None:
    first = User(email="again@example.com")
    session.add(first)
    await session.flush()
    first.soft_delete()
    await session.flush()
    session.add(User(email="Again@example.com"))
    await session.flush()


async def test_edge_must_join_nodes_of_its_own_workflow(session: AsyncSession) -> None:
    workflow = await persisted_workflow(session)
    other = await persisted_workflow(session)
    a = Node(workflow_id=workflow.id, name="a", node_type="trigger")
    b = Node(workflow_id=workflow.id, name="b", node_type="tool")
    foreign = Node(workflow_id=other.id, name="x", node_type="tool")
    session.add_all([a, b, foreign])
    await session.flush()
    session.add(Edge(workflow_id=workflow.id, source_node_id=a.id, target_node_id=b.id))
    await session.flush()
    session.add(Edge(workflow_id=workflow.id, source_node_id=a.id, target_node_id=foreign.id))
    with pytest.raises(IntegrityError, match="fk_edges_target_node_nodes"):
        await session.flush()


async def test_self_loop_refused_by_the_database_too(session: AsyncSession) -> None:
    workflow = await persisted_workflow(session)
    node = Node(workflow_id=workflow.id, name="a", node_type="trigger")
    session.add(node)
    await session.flush()
    with pytest.raises(IntegrityError, match="ck_edges_no_self_loop"):
        await session.execute(
            text(
                "INSERT INTO edges (workflow_id, source_node_id, target_node_id)"
                " VALUES (:w, :n, :n)"
            ),
            {"w": workflow.id, "n": node.id},
        )


async def test_agents_tools_and_logs(session: AsyncSession) -> None:
    workflow = await persisted_workflow(session)
    owner_id = workflow.owner_id
    tool = Tool(owner_id=owner_id, name="quotes", tool_type="http")
    agent = Agent(owner_id=owner_id, name="analyst", tools=[tool])
    session.add_all([tool, agent])
    run = WorkflowExecution(workflow_id=workflow.id, trigger_type="manual")
    session.add(run)
    await session.flush()
    session.add(ExecutionLog(workflow_execution_id=run.id, message="started", level="info"))
    await session.commit()
    count = await session.scalar(text("SELECT count(*) FROM agent_tools"))
    assert count == 1


async def test_naive_timestamp_refused_on_any_table(session: AsyncSession) -> None:
    user = make_user()
    with pytest.raises(NaiveDatetimeError, match="deleted_at"):
        user.deleted_at = datetime(2026, 1, 1)  # noqa: DTZ001 - the point of the test


async def test_status_check_constraint(session: AsyncSession) -> None:
    workflow = await persisted_workflow(session)
    with pytest.raises(IntegrityError, match="ck_workflow_executions_status"):
        await session.execute(
            text(
                "INSERT INTO workflow_executions (workflow_id, trigger_type, status)"
                " VALUES (:w, 'manual', 'done')"
            ),
            {"w": workflow.id},
        )


async def test_workflow_version_is_an_optimistic_lock(session: AsyncSession) -> None:
    workflow = await persisted_workflow(session)
    await session.commit()
    assert workflow.version == 1
    workflow.name = "renamed"
    await session.commit()
    assert workflow.version == 2
