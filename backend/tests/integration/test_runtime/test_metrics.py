"""GET /metrics: valid Prometheus text with the runtime's names, also across processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.test_api.conftest import Headers
from tests.integration.test_runtime.conftest import TRIGGER, run_to_end, tool, workflow


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_count_finished_executions_and_read_gauges_from_the_database(
    runtime: httpx.AsyncClient, user: Headers
) -> None:
    before = _samples((await runtime.get("/metrics")).text)
    echo = await tool(runtime, user, "builtin", {"name": "echo"})
    workflow_id = await workflow(
        runtime, user, [TRIGGER, {"name": "say", "node_type": "tool", "tool_id": echo}],
        [{"source": "start", "target": "say"}],
    )  # fmt: skip
    await run_to_end(runtime, user, workflow_id)

    response = await runtime.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = _samples(response.text)
    completed = ("pastetrader_executions_finished_total", (("status", "completed"),))
    assert after[completed] == before.get(completed, 0) + 1
    node = (
        "pastetrader_node_duration_seconds_count",
        (("node_type", "tool"), ("status", "completed")),
    )
    assert after[node] == before.get(node, 0) + 1
    assert after[("pastetrader_executions_pending", ())] == 0
    assert after[("pastetrader_executions_running", ())] == 0
    assert ("pastetrader_worker_heartbeat_age_seconds", ()) in after
    assert ("pastetrader_fire_lag_seconds_count", ()) in after


_COUNT = """
import asyncio, sys
from app.core import metrics
metrics.EXECUTIONS_FINISHED.labels("completed").inc(int(sys.argv[1]))
"""

_SCRAPE = """
import asyncio, sys
from app.db.database import create_database
from app.runtime.metrics import scrape

async def main():
    database = create_database(sys.argv[1], pool_size=1)
    sys.stdout.write((await scrape(database)).decode())
    await database.dispose()

asyncio.run(main())
"""


def test_metrics_add_up_the_processes_of_a_multiprocess_directory(
    tmp_path: Path, engine_database_url: str
) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for count in ("2", "3"):
        subprocess.run([sys.executable, "-c", textwrap.dedent(_COUNT), count], env=env, check=True)

    scraped = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_SCRAPE), engine_database_url],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip

    samples = _samples(scraped.stdout)
    assert samples[("pastetrader_executions_finished_total", (("status", "completed"),))] == 5
    assert ("pastetrader_executions_pending", ()) in samples
