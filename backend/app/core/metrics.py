"""The process's Prometheus metrics (runtime.md, "Operations"). Counters and histograms
live here, updated where things happen; gauges read from the database at scrape time
live beside the /metrics route. With PROMETHEUS_MULTIPROC_DIR set (several processes on
one machine: API, workers, engines), prometheus-client keeps each process's values in
files that one scrape adds up."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600)

FIRES = Counter("pastetrader_schedule_fires", "Executions the firing engine created.")
MISSES = Counter("pastetrader_schedule_misses", "Fire times missed (beyond the misfire grace).")
SKIPS = Counter(
    "pastetrader_schedule_skips",
    "Fires or executions skipped, by reason (coalesced, max_instances, ...).",
    ["reason"],
)
FIRE_LAG = Histogram(
    "pastetrader_fire_lag_seconds",
    "From a fire's planned time to the commit of its execution.",
    buckets=_LATENCY_BUCKETS,
)
EXECUTIONS_FINISHED = Counter(
    "pastetrader_executions_finished",
    "Executions that ended, by final status.",
    ["status"],
)
EXECUTION_DURATION = Histogram(
    "pastetrader_execution_duration_seconds",
    "From an execution's start to its end, by final status.",
    ["status"],
    buckets=_LATENCY_BUCKETS,
)
NODE_DURATION = Histogram(
    "pastetrader_node_duration_seconds",
    "One node run, all its attempts, by node type and final status.",
    ["node_type", "status"],
    buckets=_LATENCY_BUCKETS,
)
