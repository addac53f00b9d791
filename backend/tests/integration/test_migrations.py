"""Migrations: upgrade, downgrade to base leaving nothing, upgrade again, no drift, one head."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from app.db.database import create_database
from tests.database import alembic_config, check, downgrade, recreate_database, upgrade

SCHEDULE_INDEXES = {
    "idx_schedules_workflow",
    "idx_schedules_user",
    "idx_schedules_type",
    "idx_schedules_active",
    "idx_schedules_next_run",
    "idx_schedules_job_id",
    "idx_schedules_workflow_active",
    "idx_schedules_not_deleted",
}


def fetch(url: str, sql: str) -> list[tuple[object, ...]]:
    async def run() -> list[tuple[object, ...]]:
        engine = create_database(url)
        try:
            async with engine.connect() as connection:
                return [tuple(row) for row in await connection.execute(text(sql))]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def app_objects(url: str) -> list[tuple[object, ...]]:
    return fetch(
        url,
        "SELECT relname, relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND relname NOT LIKE 'alembic_version%' ORDER BY 1",
    )


@pytest.fixture(scope="module")
def empty_database(server_url: str) -> Iterator[str]:
    return recreate_database(server_url, "pastetrader_test_migrations")


def test_single_head(empty_database: str) -> None:
    heads = ScriptDirectory.from_config(alembic_config(empty_database)).get_heads()
    assert heads == ["0007"]


def test_round_trip(empty_database: str) -> None:
    url = empty_database
    upgrade(url)
    check(url)  # raises when models and the migrated schema differ
    indexes = {row[0] for row in fetch(url, "SELECT indexname FROM pg_indexes")}
    assert indexes >= SCHEDULE_INDEXES
    downgrade(url, "0001")
    assert "schedules" not in {row[0] for row in app_objects(url)}
    columns = {
        row[0]
        for row in fetch(
            url,
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = 'workflow_executions'",
        )
    }
    assert "schedule_id" not in columns
    assert "scheduled_for" not in columns
    downgrade(url, "base")
    assert app_objects(url) == []
    upgrade(url)
    check(url)
    assert {row[0] for row in fetch(url, "SELECT indexname FROM pg_indexes")} >= SCHEDULE_INDEXES


def test_partial_index_predicates(database_url: str) -> None:
    rows = dict(
        fetch(
            database_url,
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'schedules'",
        )
    )
    assert "WHERE (next_run_at IS NOT NULL)" in str(rows["idx_schedules_next_run"])
    assert "WHERE (deleted_at IS NULL)" in str(rows["idx_schedules_not_deleted"])
    assert "WHERE (job_id IS NOT NULL)" in str(rows["idx_schedules_job_id"])
    assert "WHERE is_active" in str(rows["idx_schedules_active"])
    assert "(workflow_id, is_active)" in str(rows["idx_schedules_workflow_active"])


def test_every_foreign_key_is_indexed(database_url: str) -> None:
    unindexed = fetch(
        database_url,
        """
        SELECT c.conrelid::regclass::text, c.conname
        FROM pg_constraint c
        WHERE c.contype = 'f' AND NOT EXISTS (
            SELECT 1 FROM pg_index i
            WHERE i.indrelid = c.conrelid
              AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] = c.conkey
        )
        """,
    )
    assert unindexed == []


def test_every_foreign_key_states_on_delete(database_url: str) -> None:
    # confdeltype 'a' is NO ACTION, the default a model gets when it says nothing.
    silent = fetch(
        database_url, "SELECT conname FROM pg_constraint WHERE contype = 'f' AND confdeltype = 'a'"
    )
    assert silent == []
