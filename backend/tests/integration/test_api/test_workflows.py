"""Workflows through the API."""

from __future__ import annotations

import httpx

from tests.integration.test_api.conftest import Headers, error_fields, post_schedule, post_workflow


async def test_crud(api: httpx.AsyncClient, alice: Headers) -> None:
    created = await post_workflow(api, alice, name="Momentum", description="buy the open")
    assert created["version"] == 1
    assert created["is_active"] is True
    got = await api.get(f"/api/v1/workflows/{created['id']}", headers=alice)
    assert got.json() == created
    patched = await api.patch(
        f"/api/v1/workflows/{created['id']}", json={"name": "Renamed"}, headers=alice
    )
    assert patched.status_code == 200
    assert patched.json()["name"] == "Renamed"
    assert patched.json()["version"] == 2
    listed = await api.get("/api/v1/workflows", headers=alice)
    assert [item["id"] for item in listed.json()["items"]] == [created["id"]]
    assert listed.json()["next_cursor"] is None


async def test_bad_input(api: httpx.AsyncClient, alice: Headers) -> None:
    empty = await api.post("/api/v1/workflows", json={"name": ""}, headers=alice)
    assert empty.status_code == 422
    assert error_fields(empty) == ["name"]
    created = await post_workflow(api, alice)
    extra = await api.patch(
        f"/api/v1/workflows/{created['id']}", json={"owner_id": "x"}, headers=alice
    )
    assert extra.status_code == 422
    assert error_fields(extra) == ["owner_id"]
    not_a_uuid = await api.get("/api/v1/workflows/not-a-uuid", headers=alice)
    assert not_a_uuid.status_code == 422
    assert error_fields(not_a_uuid) == ["workflow_id"]


async def test_delete_takes_schedules_and_restore_brings_them_back(
    api: httpx.AsyncClient, alice: Headers
) -> None:
    workflow = await post_workflow(api, alice)
    schedule = await post_schedule(api, alice, workflow["id"])
    deleted = await api.delete(f"/api/v1/workflows/{workflow['id']}", headers=alice)
    assert deleted.status_code == 204
    assert (await api.get(f"/api/v1/workflows/{workflow['id']}", headers=alice)).status_code == 404
    gone = await api.get(f"/api/v1/schedules/{schedule['id']}", headers=alice)
    assert gone.status_code == 404
    listed = await api.get("/api/v1/schedules", params={"include_deleted": "true"}, headers=alice)
    [shown] = listed.json()["items"]
    assert shown["deleted_at"] is not None
    assert shown["next_run_at"] is None
    restored = await api.post(f"/api/v1/workflows/{workflow['id']}/restore", headers=alice)
    assert restored.status_code == 200
    back = await api.get(f"/api/v1/schedules/{schedule['id']}", headers=alice)
    assert back.status_code == 200
    assert back.json()["next_run_at"] is not None
    again = await api.post(f"/api/v1/workflows/{workflow['id']}/restore", headers=alice)
    assert again.status_code == 409


async def test_other_users_workflows_are_invisible(
    api: httpx.AsyncClient, alice: Headers, bob: Headers
) -> None:
    workflow = await post_workflow(api, alice)
    url = f"/api/v1/workflows/{workflow['id']}"
    assert (await api.get(url, headers=bob)).status_code == 404
    assert (await api.patch(url, json={"name": "x"}, headers=bob)).status_code == 404
    assert (await api.delete(url, headers=bob)).status_code == 404
    assert (await api.post(f"{url}/restore", headers=bob)).status_code == 404
    assert (await api.get("/api/v1/workflows", headers=bob)).json()["items"] == []
    assert (await api.get(url, headers=alice)).json()["name"] == "wf"


async def test_text_postgresql_cannot_store_is_422(api: httpx.AsyncClient, alice: Headers) -> None:
    response = await api.post(
        "/api/v1/workflows", json={"name": "ok", "variables": {"a": "x\u0000"}}, headers=alice
    )
    assert response.status_code == 422
    assert error_fields(response) == ["variables.a"]
    assert (await api.get("/api/v1/workflows", headers=alice)).json()["items"] == []
    not_json = await api.post(
        "/api/v1/workflows",
        content=b"{not json",
        headers={**alice, "Content-Type": "application/json"},
    )
    assert not_json.status_code == 422
    assert error_fields(not_json) == ["body"]
