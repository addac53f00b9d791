"""Other models' rules as PostgreSQL enforces them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from app.db.database import create_session_factory
from app.models import (
    Agent,
    Base,
    Edge,
    ExecutionLog,
    LogLevel,
    Node,
    NodeExecution,
    Schedule,
    SoftDeleteMixin,
    Tool,
    User,
    Workflow,
    WorkflowExecution,
)
from app.models.types import NaiveDatetimeError, UTCDateTime
from tests.factories import make_schedule, make_user, make_workflow, persisted_workflow


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
    before = datetime.now(UTC)
    log = ExecutionLog(workflow_execution_id=run.id, message="started", level="info")
    session.add(log)
    await session.commit()
    count = await session.scalar(text("SELECT count(*) FROM agent_tools"))
    assert count == 1

    session.expunge_all()  # from here on, what the database holds
    stored = await session.scalar(
        select(ExecutionLog)
        .where(ExecutionLog.id == log.id)
        .options(selectinload(ExecutionLog.workflow_execution))
    )
    assert stored is not None
    assert (stored.message, stored.level, stored.data) == ("started", LogLevel.INFO, None)
    assert stored.node_execution_id is None
    assert stored.timestamp.tzinfo is not None
    assert before <= stored.timestamp <= datetime.now(UTC)
    assert stored.workflow_execution.id == run.id
    assert stored.workflow_execution.workflow_id == workflow.id
    loaded_run = await session.scalar(
        select(WorkflowExecution)
        .where(WorkflowExecution.id == run.id)
        .options(selectinload(WorkflowExecution.logs))
    )
    assert loaded_run is not None
    assert [entry.id for entry in loaded_run.logs] == [log.id]
    loaded_agent = await session.scalar(
        select(Agent).where(Agent.id == agent.id).options(selectinload(Agent.tools))
    )
    assert loaded_agent is not None
    assert [item.id for item in loaded_agent.tools] == [tool.id]
    loaded_tool = await session.scalar(
        select(Tool).where(Tool.id == tool.id).options(selectinload(Tool.agents))
    )
    assert loaded_tool is not None
    assert [item.id for item in loaded_tool.agents] == [agent.id]


# A valid object of every mapped class, built without a database.
BUILDERS: dict[type[Base], Callable[[], Base]] = {
    User: make_user,
    Workflow: lambda: make_workflow(make_user()),
    Node: lambda: Node(workflow_id=uuid.uuid4(), name="n", node_type="tool"),
    Edge: lambda: Edge(
        workflow_id=uuid.uuid4(), source_node_id=uuid.uuid4(), target_node_id=uuid.uuid4()
    ),
    Tool: lambda: Tool(owner_id=uuid.uuid4(), name="t", tool_type="http"),
    Agent: lambda: Agent(owner_id=uuid.uuid4(), name="a"),
    WorkflowExecution: lambda: WorkflowExecution(workflow_id=uuid.uuid4(), trigger_type="manual"),
    NodeExecution: lambda: NodeExecution(workflow_execution_id=uuid.uuid4(), node_id=uuid.uuid4()),
    ExecutionLog: lambda: ExecutionLog(workflow_execution_id=uuid.uuid4(), message="m"),
    Schedule: lambda: make_schedule(make_workflow(make_user())),
}


def timestamp_columns() -> list[tuple[type[Base], str]]:
    """(model, attribute) for every timestamp column of every table."""
    return [
        (mapper.class_, attribute.key)
        for mapper in Base.registry.mappers
        for attribute in mapper.column_attrs
        if isinstance(attribute.columns[0].type, UTCDateTime)
    ]


def test_the_builders_cover_every_model() -> None:
    assert {mapper.class_ for mapper in Base.registry.mappers} == set(BUILDERS)


@pytest.mark.parametrize(
    ("model", "key"),
    timestamp_columns(),
    ids=[f"{model.__name__}.{key}" for model, key in timestamp_columns()],
)
def test_naive_timestamp_refused_on_any_table(model: type[Base], key: str) -> None:
    obj = BUILDERS[model]()
    kept = getattr(obj, key)
    with pytest.raises(NaiveDatetimeError, match=key):
        setattr(obj, key, datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test
    assert getattr(obj, key) == kept
    aware = datetime(2026, 1, 1, tzinfo=UTC)
    setattr(obj, key, aware)
    assert getattr(obj, key) == aware


async def soft_deletable(model: type[Any], session: AsyncSession, active: bool) -> Any:
    """A flushed object of `model` (`is_active` = `active` where the model has it)."""
    workflow = await persisted_workflow(session)
    owner_id = workflow.owner_id
    builders: dict[type[Any], Callable[[], Any]] = {
        User: lambda: make_user(is_active=active),
        Workflow: lambda: Workflow(owner_id=owner_id, name="w", is_active=active),
        Tool: lambda: Tool(owner_id=owner_id, name="quotes", tool_type="http"),
        Agent: lambda: Agent(owner_id=owner_id, name="analyst"),
        Schedule: lambda: make_schedule(workflow, is_active=active),
    }
    obj = builders[model]()
    session.add(obj)
    await session.flush()
    return obj


SOFT_DELETABLE = [User, Workflow, Tool, Agent, Schedule]


def test_every_soft_deletable_model_is_covered() -> None:
    models = {m.class_ for m in Base.registry.mappers if issubclass(m.class_, SoftDeleteMixin)}
    assert models == set(SOFT_DELETABLE)


@pytest.mark.parametrize("active", [True, False], ids=["active", "inactive"])
@pytest.mark.parametrize("model", SOFT_DELETABLE, ids=lambda model: model.__name__)
async def test_soft_delete_and_restore_on_any_table(
    session: AsyncSession, model: type[Any], active: bool
) -> None:
    obj = await soft_deletable(model, session, active)
    await session.commit()
    table = model.__table__
    has_activity = "is_active" in table.columns

    async def stored() -> Any:
        """The row as the database holds it (Core) and a freshly loaded object."""
        row = (await session.execute(select(table).where(table.c.id == obj.id))).one()
        session.expunge_all()
        loaded = await session.get(model, obj.id)
        assert loaded is not None
        return row, loaded

    obj.soft_delete()
    deleted_at = obj.deleted_at
    await session.commit()
    row, loaded = await stored()
    assert deleted_at is not None
    assert row.deleted_at == deleted_at
    assert loaded.is_deleted is True
    if has_activity:
        assert row.is_active is active, "soft delete changed is_active"
        assert loaded.is_active is active

    loaded.restore()
    await session.commit()
    row, loaded = await stored()
    assert row.deleted_at is None
    assert loaded.is_deleted is False
    if has_activity:
        assert row.is_active is active, "restore changed is_active"


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


async def test_workflow_version_is_an_optimistic_lock(
    session: AsyncSession, committed_db: AsyncEngine
) -> None:
    workflow = await persisted_workflow(session)
    await session.commit()
    assert workflow.version == 1
    workflow.name = "renamed"
    await session.commit()
    assert workflow.version == 2

    # Two sessions on their own connections read the same version; the first write wins.
    sessions = create_session_factory(committed_db)
    async with sessions() as setup, setup.begin():
        shared = await persisted_workflow(setup)
    async with sessions() as first, sessions() as second:
        winner = await first.get(Workflow, shared.id)
        stale = await second.get(Workflow, shared.id)
        assert winner is not None
        assert stale is not None
        assert winner.version == stale.version == 1
        winner.name = "winner"
        await first.commit()
        assert winner.version == 2
        stale.name = "loser"
        with pytest.raises(StaleDataError):
            await second.commit()
        await second.rollback()
    async with committed_db.connect() as connection:
        row = (
            await connection.execute(
                text("SELECT name, version FROM workflows WHERE id = :id"), {"id": shared.id}
            )
        ).one()
    assert tuple(row) == ("winner", 2)
