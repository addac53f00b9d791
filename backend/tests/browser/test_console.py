"""The console in a real headless Chromium against the live server: sign in, create, pause,
resume, trigger, trace and cancel; another user's schedule is out of reach; every page
passes axe-core with no serious or critical violation and sends a strict CSP."""

from __future__ import annotations

import asyncio
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, expect

from tests.browser.conftest import (
    Account,
    Watched,
    register,
    sign_in,
    sleeper_workflow,
    trader,
)

# The README's screenshots: taken on every run, kept in docs/images with UPDATE_SCREENSHOTS=1
# (`make screenshots`), so that a test run leaves the working tree as it was.
DOCS_IMAGES = Path(__file__).resolve().parents[3] / "docs" / "images"


async def screenshot(page: Page, name: str, tmp_path: Path) -> None:
    """A full-page screenshot: into docs/images when asked, else beside the test."""
    folder = DOCS_IMAGES if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=folder / name, full_page=True)
    assert (folder / name).stat().st_size > 10_000


_axe = Axe()


async def accessible(page: Page) -> None:
    """axe-core finds no serious or critical violation on the page as it is now."""
    results = await _axe.run(page)
    bad = [
        (violation["id"], violation["impact"], [node["target"] for node in violation["nodes"]])
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    assert bad == [], bad


async def create_cron_schedule(page: Page, name: str) -> str:
    """Through the form: a cron schedule in Asia/Seoul; the new schedule's id."""
    await page.goto("/console/schedules/new")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Cron expression").fill("30 9 * * 1-5")
    await page.get_by_label("Time zone").fill("Asia/Seoul")
    await expect(page.locator("#preview-description")).to_contain_text("09:30")
    await page.get_by_role("button", name="Create schedule").click()
    await page.wait_for_url(re.compile(r".*/console/schedules/[0-9a-f-]{36}$"))
    return page.url.rsplit("/", 1)[1]


async def test_sign_in_shows_the_schedules_page_with_a_strict_csp(
    watched: Watched, api: httpx.AsyncClient
) -> None:
    page = watched.page
    account = await register(api)
    response = await page.goto("/console/login")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    await accessible(page)
    await page.goto("/console/register")
    await accessible(page)
    await page.goto("/console/no-such-page")
    await accessible(page)
    await page.goto("/console/login")
    await page.get_by_label("Email").fill(account.email)
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("Incorrect email or password")
    await sign_in(page, account)
    cookies = await page.context.cookies()
    session = next(cookie for cookie in cookies if cookie["name"] == "pt_session")
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert session["secure"] is True  # the live server runs as in production
    assert await page.evaluate("() => Object.keys(localStorage).length") == 0
    await expect(page.get_by_role("heading", name="Schedules")).to_be_visible()
    await accessible(page)
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url("**/console/login")
    await page.goto("/console/schedules")
    await page.wait_for_url(re.compile(r".*/console/login\?next=%2Fconsole%2Fschedules$"))


async def test_create_a_cron_schedule_in_seoul_with_a_live_preview(
    watched: Watched, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    page = watched.page
    _account, _ = await trader(page, api, 0.1)
    await page.goto("/console/schedules/new")
    await accessible(page)
    await page.get_by_label("Name").fill("KOSPI open")
    await page.get_by_label("Time zone").fill("Asia/Seoul")
    cron = page.get_by_label("Cron expression")
    await cron.fill("0 9 * * 1-5")
    description = page.locator("#preview-description")
    await expect(description).to_contain_text("09:00")
    times = page.locator("#preview-times li")
    await expect(times).to_have_count(5)
    await expect(times.first).to_contain_text("09:00:00+09:00")
    await cron.fill("15 10 * * *")  # as it is typed, the preview follows
    await expect(description).to_contain_text("10:15")
    await expect(times.first).to_contain_text("10:15:00+09:00")
    await page.get_by_role("button", name="Create schedule").click()
    await page.wait_for_url(re.compile(r".*/console/schedules/[0-9a-f-]{36}$"))
    await expect(page.get_by_role("heading", name=re.compile("KOSPI open"))).to_be_visible()
    fires = page.locator("table.fires tbody tr")
    await expect(fires).to_have_count(10)
    await expect(fires.first).to_contain_text("10:15:00 (UTC+09:00)")
    await accessible(page)
    await screenshot(page, "console-schedule.png", tmp_path)


async def test_a_bad_expression_shows_the_reason_and_saves_nothing(
    watched: Watched, api: httpx.AsyncClient
) -> None:
    page = watched.page
    account, _ = await trader(page, api, 0.1)
    await page.goto("/console/schedules/new")
    await page.get_by_label("Name").fill("Broken")
    await page.get_by_label("Cron expression").fill("0 25 * * *")
    reason = page.locator("#error-schedule_config-cron_expression")
    await expect(reason).not_to_be_empty()
    await expect(page.get_by_label("Cron expression")).to_have_attribute("aria-invalid", "true")
    await page.get_by_role("button", name="Create schedule").click()
    await expect(reason).not_to_be_empty()
    assert page.url.endswith("/console/schedules/new")
    listed = await api.get("/api/v1/schedules", headers=account.headers)
    assert listed.json()["items"] == []


async def test_pause_with_a_note_then_resume(
    watched: Watched, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    page = watched.page
    _account, _ = await trader(page, api, 0.1)
    schedule_id = await create_cron_schedule(page, "NY session")
    await page.get_by_role("button", name="Pause").click()
    await expect(page.locator("#action-result")).to_contain_text("needs a note")
    await page.get_by_label("Why pause (required)").fill("holiday: markets closed")
    await page.get_by_role("button", name="Pause").click()
    await expect(page.locator("#pause-note-shown")).to_contain_text("holiday: markets closed")
    await page.goto("/console/schedules")
    row = page.locator(f'tr[data-schedule-id="{schedule_id}"]')
    await expect(row).to_contain_text("paused")
    await expect(row).to_contain_text("holiday: markets closed")
    await accessible(page)
    await page.goto(f"/console/schedules/{schedule_id}")
    await page.get_by_role("button", name="Resume").click()
    await expect(page.get_by_role("button", name="Pause")).to_be_visible()
    await page.goto("/console/schedules")
    await expect(row).to_contain_text("active")
    await screenshot(page, "console-schedules.png", tmp_path)


async def test_trigger_and_watch_the_execution_complete_then_open_it(
    watched: Watched, api: httpx.AsyncClient
) -> None:
    page = watched.page
    _account, _ = await trader(page, api, 0.5)
    await create_cron_schedule(page, "Trigger me")
    await page.get_by_role("button", name="Trigger now").click()
    runs = page.locator("#runs tr")
    await expect(runs).to_have_count(1)
    await expect(runs.first).to_contain_text("completed", timeout=30_000)
    await runs.first.get_by_role("link").click()
    await page.wait_for_url(re.compile(r".*/console/executions/[0-9a-f-]{36}$"))
    await expect(page.locator("#execution-status")).to_have_text("completed")
    nodes = page.locator("details[data-node]")
    await expect(nodes).to_have_count(3)
    await expect(page.locator("svg.timeline rect")).to_have_count(3)
    report = page.locator('details[data-node="report"]')
    await report.locator("summary").click()
    await expect(report.locator("pre").nth(1)).to_contain_text('"said": "완료 <done> & \'ok\'"')
    await expect(page.locator("table.logs")).to_contain_text("execution completed")
    await accessible(page)


async def test_cancel_a_running_execution(watched: Watched, api: httpx.AsyncClient) -> None:
    page = watched.page
    account = await register(api)
    workflow_id = await sleeper_workflow(api, account, 30)
    run = await api.post(f"/api/v1/workflows/{workflow_id}/run", headers=account.headers)
    execution_id = run.json()["id"]
    await sign_in(page, account)
    await page.goto(f"/console/executions/{execution_id}")
    await expect(page.locator("#execution-status")).to_have_text("running", timeout=15_000)
    await page.get_by_role("button", name="Cancel").click()
    await expect(page.locator("#execution-status")).to_have_text("cancelled")
    wait = page.locator('details[data-node="wait"]')
    await expect(wait.locator("summary")).to_contain_text("cancelled")
    assert await page.get_by_role("button", name="Cancel").count() == 0


async def test_another_user_s_schedule_and_execution_are_out_of_reach(
    watched: Watched, api: httpx.AsyncClient
) -> None:
    page = watched.page
    owner = await register(api)
    workflow_id = await sleeper_workflow(api, owner, 0.1)
    created = await api.post(
        "/api/v1/schedules",
        json={"workflow_id": workflow_id, "name": "Owner's", "schedule_type": "interval",
              "schedule_config": {"minutes": 15}, "timezone": "UTC"},
        headers=owner.headers,
    )  # fmt: skip
    schedule_id = created.json()["id"]
    run = await api.post(f"/api/v1/workflows/{workflow_id}/run", headers=owner.headers)
    intruder = await register(api)
    await sign_in(page, intruder)
    for path in (
        f"/console/schedules/{schedule_id}",
        f"/console/schedules/{schedule_id}/edit",
        f"/console/executions/{run.json()['id']}",
    ):
        response = await page.goto(path)
        assert response is not None
        assert response.status == 404, path
        await expect(page.get_by_role("heading", name="Not found")).to_be_visible()
        await accessible(page)
    await page.goto("/console/schedules")
    await expect(page.locator(f'tr[data-schedule-id="{schedule_id}"]')).to_have_count(0)
    # The session cookie alone cannot change anything: the API wants the page's CSRF token.
    refused = await page.evaluate(
        """async (path) => (await fetch(path, {method: "POST", credentials: "same-origin",
             headers: {"Content-Type": "application/json"}, body: "{}"})).status""",
        "/api/v1/schedules/preview",
    )
    assert refused == 403


async def _api_schedule(
    api: httpx.AsyncClient, account: Account, workflow_id: str, **fields: object
) -> str:
    body = {"workflow_id": workflow_id, "name": "by API", "timezone": "UTC", **fields}
    created = await api.post("/api/v1/schedules", json=body, headers=account.headers)
    assert created.status_code == 201, created.text
    made: str = created.json()["id"]
    return made


async def test_next_fire_times_mark_a_dst_change(watched: Watched, api: httpx.AsyncClient) -> None:
    page = watched.page
    account = await register(api)
    workflow_id = await sleeper_workflow(api, account, 0.1)
    schedule_id = await _api_schedule(
        api, account, workflow_id, schedule_type="cron", timezone="America/New_York",
        schedule_config={"cron_expression": "0 9 1 * *"},
    )  # fmt: skip
    await sign_in(page, account)
    await page.goto(f"/console/schedules/{schedule_id}")
    rows = page.locator("table.fires tbody tr")
    await expect(rows).to_have_count(10)
    marked = page.locator("table.fires tbody tr.dst")
    # Ten monthly fires from December cross one change (March) or two (and November).
    assert await marked.count() in (1, 2)
    await expect(marked.first).to_contain_text("DST change")
    await expect(marked.first).to_contain_text("09:00:00 (UTC-04:00)")


async def test_edit_then_delete_then_restore(watched: Watched, api: httpx.AsyncClient) -> None:
    page = watched.page
    account, _ = await trader(page, api, 0.1)
    schedule_id = await create_cron_schedule(page, "Edit me")
    await page.get_by_role("link", name="Edit").click()
    await page.wait_for_url(f"**/console/schedules/{schedule_id}/edit")
    await accessible(page)
    await expect(page.get_by_label("Cron expression")).to_have_value("30 9 * * 1-5")
    await page.get_by_label("Name").fill("Edited")
    await page.get_by_label("Cron expression").fill("45 14 * * 1-5")
    await expect(page.locator("#preview-description")).to_contain_text("14:45")
    await page.get_by_label("Max instances").fill("0")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#error-metadata-max_instances")).not_to_be_empty()
    await page.get_by_label("Max instances").fill("2")
    await page.get_by_role("button", name="Save").click()
    await page.wait_for_url(f"**/console/schedules/{schedule_id}")
    await expect(page.get_by_role("heading", name=re.compile("Edited"))).to_be_visible()
    await expect(page.locator("#frequency")).to_contain_text("14:45")
    stored = await api.get(f"/api/v1/schedules/{schedule_id}", headers=account.headers)
    assert stored.json()["metadata"]["max_instances"] == 2
    await page.get_by_role("button", name="Delete").click()
    await expect(page.get_by_role("button", name="Restore")).to_be_visible()
    await expect(page.locator("h1 .state")).to_have_text("deleted")
    await page.get_by_role("button", name="Restore").click()
    await expect(page.locator("h1 .state")).to_have_text("active")


async def test_resuming_an_expired_schedule_shows_the_api_s_409_in_place(
    watched: Watched, api: httpx.AsyncClient
) -> None:
    page = watched.page
    account = await register(api)
    workflow_id = await sleeper_workflow(api, account, 0.1)
    run_date = (datetime.now(UTC) + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    schedule_id = await _api_schedule(
        api, account, workflow_id, schedule_type="date", schedule_config={"run_date": run_date},
        metadata={"misfire_grace_time": 0},
    )  # fmt: skip
    paused = await api.post(
        f"/api/v1/schedules/{schedule_id}/pause", json={"note": "later"}, headers=account.headers
    )
    assert paused.status_code == 200, paused.text
    await asyncio.sleep(3.5)  # the run date and its grace have passed: expired
    await sign_in(page, account)
    await expect(page.locator(f'tr[data-schedule-id="{schedule_id}"]')).to_contain_text("expired")
    await page.goto(f"/console/schedules/{schedule_id}")
    await page.get_by_role("button", name="Resume").click()
    result = page.locator("#action-result")
    await expect(result).to_be_visible()
    await expect(result).to_contain_text("Cannot resume: the schedule can never fire")


async def test_the_pause_action_works_from_the_keyboard(
    watched: Watched, api: httpx.AsyncClient
) -> None:
    page = watched.page
    _account, _ = await trader(page, api, 0.1)
    await create_cron_schedule(page, "Keys only")
    note = page.get_by_label("Why pause (required)")
    await note.focus()
    await page.keyboard.type("maintenance window")
    await page.keyboard.press("Tab")
    focused = await page.evaluate("() => document.activeElement.textContent")
    assert focused == "Pause"
    await page.keyboard.press("Enter")
    await expect(page.locator("#pause-note-shown")).to_contain_text("maintenance window")


async def test_the_schedules_list_refreshes_itself(
    watched: Watched, api: httpx.AsyncClient
) -> None:
    page = watched.page
    account, workflow_id = await trader(page, api, 0.1)
    await page.evaluate("() => { window.notReloaded = true; }")
    schedule_id = await _api_schedule(
        api, account, workflow_id, schedule_type="interval", schedule_config={"minutes": 15}
    )
    row = page.locator(f'tr[data-schedule-id="{schedule_id}"]')
    await expect(row).to_contain_text("Every 15 minutes", timeout=15_000)
    await expect(row.locator("time")).to_contain_text("in ")
    assert await page.evaluate("() => window.notReloaded") is True


async def test_a_cron_schedule_written_as_fields(watched: Watched, api: httpx.AsyncClient) -> None:
    page = watched.page
    account, _ = await trader(page, api, 0.1)
    await page.goto("/console/schedules/new")
    await page.get_by_label("Name").fill("NY session sweep")
    await page.get_by_label("fields (APScheduler style)").check()
    await expect(page.get_by_label("Cron expression")).to_be_hidden()
    await page.get_by_label("minute", exact=True).fill("*/15")
    await page.get_by_label("hour", exact=True).fill("9-15")
    await page.get_by_label("day of week", exact=True).fill("mon-fri")
    await page.get_by_label("Time zone").fill("America/New_York")
    times = page.locator("#preview-times li")
    await expect(times.first).to_contain_text(re.compile(r"(09|1[0-5]):(00|15|30|45):00-0[45]:00"))
    await accessible(page)
    await page.get_by_role("button", name="Create schedule").click()
    await page.wait_for_url(re.compile(r".*/console/schedules/[0-9a-f-]{36}$"))
    schedule_id = page.url.rsplit("/", 1)[1]
    stored = await api.get(f"/api/v1/schedules/{schedule_id}", headers=account.headers)
    assert stored.json()["schedule_config"] == {
        "minute": "*/15", "hour": "9-15", "day_of_week": "mon-fri"
    }  # fmt: skip


async def test_a_list_whose_session_ended_goes_back_to_sign_in(
    watched: Watched, api: httpx.AsyncClient
) -> None:
    page = watched.page
    account = await register(api)
    await sign_in(page, account)
    await page.context.clear_cookies()  # signed out elsewhere, or the session expired
    await page.wait_for_url(re.compile(r".*/console/login\?next=.*"), timeout=15_000)
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
