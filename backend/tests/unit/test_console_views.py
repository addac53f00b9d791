"""What the console's pages show: states, DST marks, the time line, durations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.console import views


def test_a_schedule_state_is_deleted_then_expired_then_paused_or_active() -> None:
    base = {"deleted_at": None, "is_expired": False, "is_active": True}
    assert views.schedule_state(base) == "active"
    assert views.schedule_state({**base, "is_active": False}) == "paused"
    assert views.schedule_state({**base, "is_expired": True, "is_active": False}) == "expired"
    deleted = {**base, "is_expired": True, "deleted_at": datetime(2026, 1, 1, tzinfo=UTC)}
    assert views.schedule_state(deleted) == "deleted"


def test_fire_rows_mark_the_dst_change_in_new_york() -> None:
    # 09:00 New York on the 1st of each month, across the change of 2027-03-14.
    times = [
        datetime(2027, 2, 1, 14, 0, tzinfo=UTC),
        datetime(2027, 3, 1, 14, 0, tzinfo=UTC),
        datetime(2027, 4, 1, 13, 0, tzinfo=UTC),
        datetime(2027, 5, 1, 13, 0, tzinfo=UTC),
    ]
    rows = views.fire_rows(times, "America/New_York")
    assert [row.local for row in rows] == [
        "2027-02-01 09:00:00", "2027-03-01 09:00:00", "2027-04-01 09:00:00",
        "2027-05-01 09:00:00",
    ]  # fmt: skip
    assert [row.offset for row in rows] == ["-05:00", "-05:00", "-04:00", "-04:00"]
    assert [row.offset_changed for row in rows] == [False, False, True, False]


def test_fire_rows_in_a_zone_without_dst_mark_nothing() -> None:
    start = datetime(2027, 3, 1, 0, 0, tzinfo=UTC)
    rows = views.fire_rows([start + timedelta(days=days) for days in range(0, 60, 6)], "Asia/Seoul")
    assert {row.offset for row in rows} == {"+09:00"}
    assert not any(row.offset_changed for row in rows)


def test_the_time_line_places_node_runs_by_their_times() -> None:
    begin = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    nodes = [
        {"started_at": begin, "ended_at": begin + timedelta(seconds=1)},
        {"started_at": begin + timedelta(seconds=1), "ended_at": begin + timedelta(seconds=4)},
        {"started_at": begin + timedelta(seconds=2), "ended_at": None},  # running
        {"started_at": None, "ended_at": None},  # skipped before it began
    ]
    bars, span = views.time_line(nodes, now=begin + timedelta(seconds=4))
    assert span == 4.0
    assert [(bar.x, bar.width) for bar in bars] == [(0, 250), (250, 750), (500, 500), (0, 0)]
    assert [bar.y for bar in bars] == [0, 28, 56, 84]
    assert [bar.seconds for bar in bars] == [1.0, 3.0, 2.0, None]


def test_a_time_line_of_nothing_started_is_empty() -> None:
    assert views.time_line([{"started_at": None, "ended_at": None}], datetime.now(UTC)) == ([], 0.0)


def test_a_bar_too_short_to_see_is_drawn_a_few_units_wide_inside_the_line() -> None:
    begin = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    nodes = [
        {"started_at": begin, "ended_at": begin + timedelta(seconds=100)},
        {"started_at": begin + timedelta(seconds=100), "ended_at": begin + timedelta(seconds=100)},
    ]
    bars, _ = views.time_line(nodes, now=begin)
    assert (bars[1].x, bars[1].width) == (996, 4)


def test_durations_in_words() -> None:
    begin = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    assert views.duration(begin, begin + timedelta(seconds=1.25)) == "1.25 s"
    assert views.duration(begin, begin + timedelta(seconds=184)) == "3 min 4 s"
    assert views.duration(begin, None) == ""
