"""Schedules through the API: every route, its failures, ownership and paging."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.timing.description import describe
from tests.integration.test_api.conftest import (
    Headers,
    error_fields,
    post_schedule,
    post_workflow,
    stored_schedules,
)
from tests.waiting import until

BASE = "/api/v1/schedules"
# A year from now, as wall time in the schedule's zone: always in the future.
IN_A_YEAR = (datetime.now(UTC) + timedelta(days=365)).replace(microsecond=0, tzinfo=None)


class TestCreate:
    @pytest.mark.parametrize(
        ("kind", "config", "description"),
        [
            ("cron", {"cron_expression": "0 9 * * 1-5"}, "At 09:00 on Monday through Friday"),
            ("cron", {"hour": 9, "day_of_week": "mon-fri"}, "At 09:00 on Monday through Friday"),
            ("interval", {"seconds": 10}, "Every 10 seconds"),
            ("date", {"run_date": IN_A_YEAR.isoformat()}, f"Once at {IN_A_YEAR.isoformat()}"),
        ],
    )
    async def test_each_type(
        self, api: httpx.AsyncClient, alice: Headers, kind: str, config: dict[str, Any],
        description: str,
    ) -> None:  # fmt: skip
        created = await post_schedule(
            api, alice, schedule_type=kind, schedule_config=config, metadata={"tags": ["t"]}
        )
        assert created["schedule_type"] == kind
        assert created["schedule_config"] == config
        assert created["metadata"] == {"tags": ["t"]}
        assert created["is_active"] is True
        assert created["next_run_at"] is not None
        assert created["job_id"] == f"schedule_{created['id']}"
        assert created["schedule_description"].startswith(description)
        assert created["is_expired"] is False
        assert (created["run_count"], created["missed_count"], created["skipped_count"]) == (
            0,
            0,
            0,
        )

    @pytest.mark.parametrize(
        "config",
        [
            {"run_date": "2020-01-01T00:00:00Z"},
            {"cron_expression": "0 9 * * *", "end_date": "2020-01-01T00:00:00Z"},
        ],
    )
    async def test_a_schedule_that_can_never_fire_is_refused(
        self,
        api: httpx.AsyncClient,
        alice: Headers,
        committed_db: AsyncEngine,
        config: dict[str, Any],
    ) -> None:
        workflow = await post_workflow(api, alice)
        kind = "date" if "run_date" in config else "cron"
        response = await api.post(
            BASE,
            json={"workflow_id": workflow["id"], "name": "n", "schedule_type": kind,
                  "schedule_config": config},
            headers=alice,
        )  # fmt: skip
        assert response.status_code == 422
        assert error_fields(response) == ["schedule_config"]
        assert "can never fire" in response.json()["error"]["details"][0]["reason"]
        assert await stored_schedules(committed_db) == []

    async def test_only_on_your_own_live_workflow(
        self, api: httpx.AsyncClient, alice: Headers, bob: Headers, committed_db: AsyncEngine
    ) -> None:
        theirs = await post_workflow(api, bob)
        mine_deleted = await post_workflow(api, alice)
        deleted = await api.delete(f"/api/v1/workflows/{mine_deleted['id']}", headers=alice)
        assert deleted.status_code == 204
        for workflow in (theirs, mine_deleted):
            response = await api.post(
                BASE,
                json={"workflow_id": workflow["id"], "name": "n", "schedule_type": "interval",
                      "schedule_config": {"minutes": 5}},
                headers=alice,
            )  # fmt: skip
            assert response.status_code == 422
            assert response.json()["error"]["code"] == "validation_error"
            assert error_fields(response) == ["workflow_id"]
            assert await stored_schedules(committed_db) == []


class TestReadAndChange:
    async def test_get_and_patch(self, api: httpx.AsyncClient, alice: Headers) -> None:
        created = await post_schedule(api, alice)
        url = f"{BASE}/{created['id']}"
        assert (await api.get(url, headers=alice)).json() == created
        patched = await api.patch(
            url, json={"schedule_config": {"cron_expression": "30 9 * * 1-5"}}, headers=alice
        )
        assert patched.status_code == 200
        assert patched.json()["schedule_description"].startswith("At 09:30")
        assert patched.json()["next_run_at"] != created["next_run_at"]

    async def test_delete_and_restore(self, api: httpx.AsyncClient, alice: Headers) -> None:
        created = await post_schedule(api, alice)
        url = f"{BASE}/{created['id']}"
        assert (await api.post(f"{url}/restore", headers=alice)).status_code == 409
        assert (await api.delete(url, headers=alice)).status_code == 204
        assert (await api.get(url, headers=alice)).status_code == 404
        assert (await api.delete(url, headers=alice)).status_code == 404
        restored = await api.post(f"{url}/restore", headers=alice)
        assert restored.status_code == 200
        assert restored.json()["deleted_at"] is None
        assert restored.json()["next_run_at"] is not None

    async def test_pause_with_note_and_resume(self, api: httpx.AsyncClient, alice: Headers) -> None:
        created = await post_schedule(api, alice)
        url = f"{BASE}/{created['id']}"
        paused = await api.post(f"{url}/pause", json={"note": "earnings week"}, headers=alice)
        assert paused.status_code == 200
        body = paused.json()
        assert (body["is_active"], body["next_run_at"], body["pause_note"]) == (
            False, None, "earnings week",
        )  # fmt: skip
        assert body["paused_at"] is not None
        assert (await api.get(url, headers=alice)).json()["pause_note"] == "earnings week"
        resumed = await api.post(f"{url}/resume", headers=alice)
        assert resumed.status_code == 200
        assert resumed.json()["is_active"] is True
        assert resumed.json()["next_run_at"] is not None
        assert resumed.json()["pause_note"] is None
        bare = await api.post(f"{url}/pause", headers=alice)
        assert bare.status_code == 200
        assert bare.json()["pause_note"] is None

    async def test_resume_of_a_schedule_that_can_no_longer_fire_is_409(
        self, api: httpx.AsyncClient, alice: Headers
    ) -> None:
        # Created paused, so the create never races the clock (an active schedule due in a
        # second could already be past it on a loaded machine); without grace it is spent
        # the moment its run_date passes.
        soon = datetime.now(UTC) + timedelta(seconds=1)
        created = await post_schedule(
            api, alice, schedule_type="date", schedule_config={"run_date": soon.isoformat()},
            metadata={"misfire_grace_time": 0}, is_active=False,
        )  # fmt: skip
        url = f"{BASE}/{created['id']}"
        assert created["is_active"] is False
        assert (await api.post(f"{url}/pause", headers=alice)).status_code == 200

        async def expired() -> bool:
            return bool((await api.get(url, headers=alice)).json()["is_expired"])

        await until(expired, "its run_date to pass")
        response = await api.post(f"{url}/resume", headers=alice)
        assert response.status_code == 409
        assert "can never fire" in response.json()["error"]["message"]
        assert (await api.get(url, headers=alice)).json()["is_active"] is False


class TestTriggerPreviewExecutions:
    async def test_trigger_twice_is_two_runs(self, api: httpx.AsyncClient, alice: Headers) -> None:
        created = await post_schedule(api, alice)
        url = f"{BASE}/{created['id']}"
        await api.post(f"{url}/pause", headers=alice)
        first = await api.post(f"{url}/trigger", headers=alice)
        second = await api.post(f"{url}/trigger", headers=alice)
        assert first.status_code == second.status_code == 201
        runs = [first.json()["execution"], second.json()["execution"]]
        assert runs[0]["id"] != runs[1]["id"]
        assert runs[0]["scheduled_for"] != runs[1]["scheduled_for"]
        assert {run["status"] for run in runs} == {"pending"}
        assert first.json()["schedule"]["id"] == created["id"]
        executions = await api.get(f"{url}/executions", headers=alice)
        assert [item["id"] for item in executions.json()["items"]] == [
            runs[1]["id"], runs[0]["id"],
        ]  # fmt: skip
        assert set(executions.json()["items"][0]) >= {"id", "status", "scheduled_for", "created_at"}

    async def test_preview(self, api: httpx.AsyncClient, alice: Headers) -> None:
        created = await post_schedule(api, alice, schedule_config={"cron_expression": "0 9 * * *"})
        response = await api.get(
            f"{BASE}/{created['id']}/preview", params={"count": 3}, headers=alice
        )
        assert response.status_code == 200
        times = response.json()["fire_times"]
        assert len(times) == 3
        assert times[0]["at"].replace("Z", "+00:00") == created["next_run_at"].replace(
            "Z", "+00:00"
        )
        assert all(item["local"].endswith("T09:00:00+09:00") for item in times)
        too_many = await api.get(
            f"{BASE}/{created['id']}/preview", params={"count": 101}, headers=alice
        )
        assert too_many.status_code == 422
        assert error_fields(too_many) == ["count"]

    async def test_preview_of_a_one_time_schedule_stops(
        self, api: httpx.AsyncClient, alice: Headers
    ) -> None:
        run_date = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        created = await post_schedule(
            api, alice, schedule_type="date", schedule_config={"run_date": run_date}
        )
        response = await api.get(
            f"{BASE}/{created['id']}/preview", params={"count": 5}, headers=alice
        )
        assert [item["at"] for item in response.json()["fire_times"]] == [run_date]


class TestPreviewOfADefinition:
    """POST /schedules/preview: what an unsaved definition means, nothing written."""

    async def test_a_cron_definition_in_seoul(
        self, api: httpx.AsyncClient, alice: Headers, committed_db: AsyncEngine
    ) -> None:
        response = await api.post(
            f"{BASE}/preview",
            json={"schedule_type": "cron", "schedule_config": {"cron_expression": "0 9 * * 1-5"},
                  "timezone": "Asia/Seoul"},
            headers=alice,
        )  # fmt: skip
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["schedule_description"] == describe(
            "cron", {"cron_expression": "0 9 * * 1-5"}, "Asia/Seoul"
        )
        assert body["timezone"] == "Asia/Seoul"
        assert body["never_fires_reason"] is None
        times = body["fire_times"]
        assert len(times) == 5
        for item in times:
            local = datetime.fromisoformat(item["local"])
            assert (local.hour, local.minute, local.utcoffset()) == (9, 0, timedelta(hours=9))
            assert local.weekday() < 5
        listed = await api.get(BASE, headers=alice)
        assert listed.json()["items"] == []

    async def test_a_bad_expression_is_refused_naming_the_field(
        self, api: httpx.AsyncClient, alice: Headers
    ) -> None:
        response = await api.post(
            f"{BASE}/preview",
            json={"schedule_type": "cron", "schedule_config": {"cron_expression": "0 25 * * *"}},
            headers=alice,
        )
        assert response.status_code == 422
        assert error_fields(response) == ["schedule_config.cron_expression"]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"schedule_type": "cron", "schedule_config": {"cron_expression": "* * * * *"},
              "timezone": "Mars/Olympus"}, "timezone"),
            ({"schedule_type": "interval", "schedule_config": {"seconds": 0}},
             "schedule_config"),
            ({"schedule_type": "weekly", "schedule_config": {}}, "schedule_type"),
            ({"schedule_type": "interval", "schedule_config": {"seconds": 5}, "count": 0},
             "count"),
            ({"schedule_type": "interval", "schedule_config": {"seconds": 5}, "count": 101},
             "count"),
        ],
    )  # fmt: skip
    async def test_each_bad_part_is_named(
        self, api: httpx.AsyncClient, alice: Headers, body: dict[str, Any], field: str
    ) -> None:
        response = await api.post(f"{BASE}/preview", json=body, headers=alice)
        assert response.status_code == 422, response.text
        assert any(name.startswith(field) for name in error_fields(response)), response.text

    async def test_a_past_one_time_definition_says_it_never_fires(
        self, api: httpx.AsyncClient, alice: Headers
    ) -> None:
        response = await api.post(
            f"{BASE}/preview",
            json={"schedule_type": "date", "schedule_config": {"run_date": "2020-01-01T09:00:00"},
                  "timezone": "Asia/Seoul"},
            headers=alice,
        )  # fmt: skip
        assert response.status_code == 200, response.text
        assert response.json()["fire_times"] == []
        assert response.json()["never_fires_reason"]

    async def test_it_needs_a_signed_in_user(self, api: httpx.AsyncClient) -> None:
        response = await api.post(
            f"{BASE}/preview",
            json={"schedule_type": "interval", "schedule_config": {"seconds": 5}},
        )
        assert response.status_code == 401


class TestListing:
    async def test_filters(self, api: httpx.AsyncClient, alice: Headers) -> None:
        one = await post_workflow(api, alice)
        cron = await post_schedule(api, alice, one["id"])
        interval = await post_schedule(
            api, alice, one["id"], schedule_type="interval", schedule_config={"minutes": 5}
        )
        other = await post_schedule(api, alice)
        await api.post(f"{BASE}/{interval['id']}/pause", headers=alice)
        await api.delete(f"{BASE}/{other['id']}", headers=alice)

        async def ids(**params: str) -> list[str]:
            response = await api.get(BASE, params=params, headers=alice)
            assert response.status_code == 200, response.text
            return [item["id"] for item in response.json()["items"]]

        assert await ids() == [interval["id"], cron["id"]]
        assert await ids(include_deleted="true") == [other["id"], interval["id"], cron["id"]]
        assert await ids(workflow_id=one["id"]) == [interval["id"], cron["id"]]
        assert await ids(is_active="false") == [interval["id"]]
        assert await ids(schedule_type="cron") == [cron["id"]]
        bad = await api.get(BASE, params={"schedule_type": "weekly"}, headers=alice)
        assert bad.status_code == 422
        assert error_fields(bad) == ["schedule_type"]
        too_big = await api.get(BASE, params={"limit": 1000}, headers=alice)
        assert too_big.status_code == 422
        assert error_fields(too_big) == ["limit"]
        bad_cursor = await api.get(BASE, params={"cursor": "garbage"}, headers=alice)
        assert bad_cursor.status_code == 422
        assert error_fields(bad_cursor) == ["cursor"]

    async def test_pages_are_stable_while_rows_are_added(
        self, api: httpx.AsyncClient, alice: Headers
    ) -> None:
        workflow = await post_workflow(api, alice)
        original = [(await post_schedule(api, alice, workflow["id"]))["id"] for _ in range(7)]
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
            page = (await api.get(BASE, params=params, headers=alice)).json()
            seen += [item["id"] for item in page["items"]]
            await post_schedule(api, alice, workflow["id"])  # a newer row arrives meanwhile
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == list(reversed(original))


class TestOwnership:
    async def test_every_route_hides_other_users_schedules(
        self, api: httpx.AsyncClient, alice: Headers, bob: Headers
    ) -> None:
        workflow = await post_workflow(api, alice)
        schedule = await post_schedule(api, alice, workflow["id"])
        url = f"{BASE}/{schedule['id']}"
        attempts = [
            api.get(url, headers=bob),
            api.patch(url, json={"name": "mine"}, headers=bob),
            api.delete(url, headers=bob),
            api.post(f"{url}/restore", headers=bob),
            api.post(f"{url}/pause", headers=bob),
            api.post(f"{url}/resume", headers=bob),
            api.post(f"{url}/trigger", headers=bob),
            api.get(f"{url}/preview", headers=bob),
            api.get(f"{url}/executions", headers=bob),
            api.get(BASE, params={"workflow_id": workflow["id"]}, headers=bob),
        ]
        for attempt in attempts:
            response = await attempt
            assert response.status_code == 404, response.request.url
            assert response.json()["error"]["code"] == "not_found"
        assert (await api.get(BASE, headers=bob)).json()["items"] == []
        unchanged = (await api.get(url, headers=alice)).json()
        assert unchanged == schedule
        executions = await api.get(f"{url}/executions", headers=alice)
        assert executions.json()["items"] == []

    async def test_unknown_ids_are_404(self, api: httpx.AsyncClient, alice: Headers) -> None:
        response = await api.get(f"{BASE}/{uuid.uuid4()}", headers=alice)
        assert response.status_code == 404
        assert error_fields(response) == []


async def test_openapi_shows_an_example_of_each_schedule_type(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()
    body = spec["paths"]["/api/v1/schedules"]["post"]["requestBody"]["content"]["application/json"]
    kinds = {example["value"]["schedule_type"] for example in body["examples"].values()}
    assert kinds == {"cron", "interval", "date"}
    read = spec["components"]["schemas"]["ScheduleRead"]["properties"]
    assert {"schedule_description", "is_expired", "missed_count", "skipped_count"} <= set(read)
