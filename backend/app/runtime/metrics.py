"""`/metrics`: the process's counters and histograms (app.core.metrics, summed across the
processes of PROMETHEUS_MULTIPROC_DIR when set) and gauges read from the database at
scrape time, so that every API process reports the same pending depth, running count
and worker heartbeat age whichever process did the work."""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_GAUGES = text(
    """
    SELECT (SELECT count(*) FROM workflow_executions WHERE status = 'pending'),
           (SELECT count(*) FROM workflow_executions WHERE status = 'running'),
           (SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(heartbeat)), 0) FROM pgqueuer
             WHERE status = 'picked'),
           (SELECT count(*) FROM pgqueuer WHERE status = 'queued')
    """
)


class _DatabaseGauges(Collector):
    """Gauges whose values were read from the database just before the scrape."""

    def __init__(self, pending: int, running: int, heartbeat_age: float, queued: int) -> None:
        self._values = (pending, running, heartbeat_age, queued)

    def collect(self) -> Iterator[Metric]:
        pending, running, heartbeat_age, queued = self._values
        yield GaugeMetricFamily(
            "pastetrader_executions_pending", "Executions waiting for a worker.", value=pending
        )
        yield GaugeMetricFamily(
            "pastetrader_executions_running", "Executions running now.", value=running
        )
        yield GaugeMetricFamily(
            "pastetrader_worker_heartbeat_age_seconds",
            "Age of the oldest heartbeat of a job a worker holds (0 when none is held).",
            value=heartbeat_age,
        )
        yield GaugeMetricFamily(
            "pastetrader_queue_jobs_queued", "Jobs in the queue not taken yet.", value=queued
        )


async def scrape(database: AsyncEngine) -> bytes:
    """The text exposition of every metric."""
    async with database.connect() as connection:
        row = (await connection.execute(_GAUGES)).one()
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Default())
    registry.register(_DatabaseGauges(int(row[0]), int(row[1]), float(row[2]), int(row[3])))
    return generate_latest(registry)


class _Default(Collector):
    """This process's own metrics (no multiprocess directory)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()
