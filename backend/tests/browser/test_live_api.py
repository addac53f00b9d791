"""The API over a real socket (the live server of the browser tests): an answer to a write
goes out only after the write committed."""

from __future__ import annotations

import time

import httpx

from tests.browser.conftest import LiveServer


async def test_a_user_just_registered_can_sign_in_at_once(live_server: LiveServer) -> None:
    """Registration answers 201 after its commit: signing in right after always works (with
    the commit run after the response, about one in ten failed here with 401)."""
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as api:
        for _ in range(20):
            email = f"quick-{time.monotonic_ns()}@example.com"
            created = await api.post(
                "/api/v1/users", json={"email": email, "password": "kospi-open-nine-sharp"}
            )
            assert created.status_code == 201, created.text
            token = await api.post(
                "/api/v1/auth/token",
                data={"username": email, "password": "kospi-open-nine-sharp"},
            )
            assert token.status_code == 200, token.text


async def test_a_schedule_just_created_can_be_read_at_once(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as api:
        email = f"reader-{time.monotonic_ns()}@example.com"
        await api.post("/api/v1/users", json={"email": email, "password": "kospi-open-nine-sharp"})
        token = await api.post(
            "/api/v1/auth/token", data={"username": email, "password": "kospi-open-nine-sharp"}
        )
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        workflow = await api.post("/api/v1/workflows", json={"name": "w"}, headers=headers)
        for index in range(30):
            created = await api.post(
                "/api/v1/schedules",
                json={"workflow_id": workflow.json()["id"], "name": f"s{index}",
                      "schedule_type": "interval", "schedule_config": {"minutes": 5}},
                headers=headers,
            )  # fmt: skip
            assert created.status_code == 201, created.text
            read = await api.get(f"/api/v1/schedules/{created.json()['id']}", headers=headers)
            assert read.status_code == 200, read.text
