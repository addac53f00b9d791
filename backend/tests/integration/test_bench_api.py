"""`make bench` (API part) on a machine without wrk: the Python load generator runs inside
the bench's event loop and loads both the list endpoint and the same-run baseline route."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import api


@pytest.fixture
def without_wrk(monkeypatch: pytest.MonkeyPatch) -> None:
    """PATH without any directory holding wrk, as on a machine where it is not installed."""
    path = os.environ.get("PATH", "")
    kept = [d for d in path.split(os.pathsep) if d and not (Path(d) / "wrk").exists()]
    monkeypatch.setenv("PATH", os.pathsep.join(kept))
    assert shutil.which("wrk") is None


@pytest.mark.usefixtures("without_wrk")
async def test_served_falls_back_to_python_client(
    committed_db: AsyncEngine, engine_database_url: str
) -> None:
    """`served` as `main` awaits it: both routes loaded for a second, no request failed."""
    await api.seed(committed_db, users=3, per_user=5)
    async with committed_db.connect() as connection:
        owner = await connection.scalar(text("SELECT id FROM users LIMIT 1"))

    result = await api.served(
        engine_database_url, api.token_for(uuid.UUID(str(owner))), seconds=1, workers=2
    )

    assert result.generator.startswith("Python httpx client")
    for load in (result.listing, result.baseline):
        assert load.failures == 0
        assert load.requests > 0
        assert load.rate > 0
    assert result.ratio > 0


def test_wrk_report_parsed_with_its_failures() -> None:
    """wrk's non-2xx responses and socket errors count as failed requests."""
    report = """Running 3s test @ http://127.0.0.1:8000/api/v1/schedules?limit=50
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    17.06ms   13.72ms 147.46ms   78.02%
    Req/Sec     1.37k   802.29     3.41k    67.50%
  24344 requests in 3.00s, 37.27MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 12
Requests/sec:   8114.67
Transfer/sec:      1.21MB
"""
    assert api.parse_wrk(report) == api.Load(rate=8114.67, requests=24344, failures=15)
    clean = report.replace("  Socket errors: connect 0, read 1, write 0, timeout 2\n", "")
    clean = clean.replace("  Non-2xx or 3xx responses: 12\n", "")
    assert api.parse_wrk(clean).failures == 0
