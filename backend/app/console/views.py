"""What the console's pages show, worked out from read models: pure functions (unit-tested)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.timing.zones import get_zone

STATES = ("active", "paused", "expired", "deleted")


def schedule_state(schedule: dict[str, Any]) -> str:
    """One word for a schedule: deleted, expired, paused or active (in that precedence)."""
    if schedule.get("deleted_at") is not None:
        return "deleted"
    if schedule.get("is_expired"):
        return "expired"
    return "active" if schedule.get("is_active") else "paused"


@dataclass(frozen=True, slots=True)
class FireRow:
    """One coming fire time: the instant, the wall time in the schedule's zone, and whether
    the zone's offset changed since the fire before (a DST change)."""

    at: datetime
    local: str
    offset: str
    offset_changed: bool


def fire_rows(times: list[datetime], zone: str) -> list[FireRow]:
    """Coming fire times in the schedule's zone, DST changes marked."""
    tz = get_zone(zone)
    rows: list[FireRow] = []
    previous: timedelta | None = None
    for at in times:
        local = at.astimezone(tz)
        offset = local.utcoffset() or timedelta(0)
        rows.append(
            FireRow(
                at=at,
                local=local.strftime("%Y-%m-%d %H:%M:%S"),
                offset=local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:],
                offset_changed=previous is not None and offset != previous,
            )
        )
        previous = offset
    return rows


@dataclass(frozen=True, slots=True)
class Bar:
    """A node run on the execution's time line, in per-mille of the line (SVG units)."""

    node: dict[str, Any]
    x: int
    width: int
    y: int
    seconds: float | None


ROW_HEIGHT = 28


def time_line(nodes: list[dict[str, Any]], now: datetime) -> tuple[list[Bar], float]:
    """Bars for node runs (a running one ends at `now`); the span in seconds."""
    starts = [n["started_at"] for n in nodes if n["started_at"] is not None]
    if not starts:
        return [], 0.0
    begin = min(starts)
    end = max([n["ended_at"] or now for n in nodes if n["started_at"] is not None])
    span = max((end - begin).total_seconds(), 0.001)
    bars = []
    for index, node in enumerate(nodes):
        started, ended = node["started_at"], node["ended_at"]
        if started is None:
            bars.append(Bar(node, 0, 0, index * ROW_HEIGHT, None))
            continue
        finish = ended or now
        x = round((started - begin).total_seconds() / span * 1000)
        width = max(4, round((finish - started).total_seconds() / span * 1000))
        seconds = (finish - started).total_seconds()
        bars.append(Bar(node, min(x, 996), min(width, 1000 - min(x, 996)), index * ROW_HEIGHT,
                        seconds))  # fmt: skip
    return bars, span


def duration(started: datetime | None, ended: datetime | None) -> str:
    """A run's duration in words ("1.25 s", "3 min 4 s"), or an empty string."""
    if started is None or ended is None:
        return ""
    seconds = (ended - started).total_seconds()
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s"


def pretty_json(value: Any, indent: int | None = 2) -> str:
    """JSON as people read it: indented, characters as they are (the page escapes HTML)."""
    return json.dumps(value, indent=indent or None, ensure_ascii=False, sort_keys=False)
