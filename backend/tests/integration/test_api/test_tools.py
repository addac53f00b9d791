"""The tools API through HTTP: config checked per type, auth sealed and never shown, public
tools read-only to others, soft delete and restore."""

from __future__ import annotations

import logging
import os
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.secret_box import SecretBox, SecretUnreadableError, generate_key, parse_keys
from app.graphs.tool_configs import open_auth
from app.tools.reseal import reseal_all
from app.tools.schemas import CREATE_EXAMPLES
from tests.integration.test_api.conftest import Headers, error_fields

TOKEN = "tok-7f3a9c1e5b2d4f60a8e1"
HTTP_TOOL: dict[str, Any] = {
    "name": "quote",
    "tool_type": "http",
    "config": {"method": "GET", "url": "https://api.example.com/q/{{ input.symbol }}"},
}


def app_box() -> SecretBox:
    """What the app under test seals with (ENCRYPTION_KEYS of the test run)."""
    return SecretBox(parse_keys(os.environ["ENCRYPTION_KEYS"]))


async def post_tool(api: httpx.AsyncClient, headers: Headers, **body: Any) -> dict[str, Any]:
    """Create a tool through the API."""
    response = await api.post("/api/v1/tools", json={**HTTP_TOOL, **body}, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def stored_tools(db: AsyncEngine) -> list[dict[str, Any]]:
    """Every tools row as stored."""
    async with db.connect() as connection:
        rows = await connection.execute(text("SELECT * FROM tools ORDER BY created_at"))
        return [dict(row._mapping) for row in rows]


@pytest.mark.parametrize("kind", sorted(CREATE_EXAMPLES))
async def test_each_documented_example_creates_its_tool(
    api: httpx.AsyncClient, alice: Headers, kind: str
) -> None:
    example = CREATE_EXAMPLES[kind]["value"]
    response = await api.post("/api/v1/tools", json=example, headers=alice)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["tool_type"] == kind
    assert body["config"] == example["config"]
    assert body["auth_type"] == (example.get("auth_config") or {}).get("type")
    assert "auth_config" not in body
    fetched = await api.get(f"/api/v1/tools/{body['id']}", headers=alice)
    assert fetched.json() == body


@pytest.mark.parametrize(
    ("tool_type", "config", "field"),
    [
        ("http", {"url": "ftp://example.com"}, "config.url"),
        ("http", {"url": "https://user:pw@example.com"}, "config.url"),
        ("http", {}, "config.url"),
        ("http", {"url": "https://x.test", "method": "BREW"}, "config.method"),
        ("http", {"url": "https://x.test", "timeout_seconds": 0}, "config.timeout_seconds"),
        ("http", {"url": "https://x.test", "timeout_seconds": "10"}, "config.timeout_seconds"),
        ("http", {"url": "https://x.test", "headers": {"Authorization": "x"}}, "config.headers"),
        ("http", {"url": "https://x.test", "query": {"api_key": "x"}}, "config.query"),
        ("http", {"url": "https://x.test", "body": {"a": {"password": "x"}}},
         "config.body.a.password"),
        ("http", {"url": "https://x.test/{{ a[ }}"}, "config.url"),
        ("http", {"url": "https://x.test", "extra": 1}, "config.extra"),
        ("python", {"callable": "os.system"}, "config.callable"),
        ("python", {"callable": "a b:c"}, "config.callable"),
        ("builtin", {"name": "rm"}, "config.name"),
        ("shell", {"argv": "rm -rf /"}, "config.argv"),
        ("shell", {"argv": []}, "config.argv"),
        ("mcp", {"server_url": "https://m.test"}, "config.tool_name"),
    ],
)  # fmt: skip
async def test_a_config_that_does_not_fit_its_type_is_refused_and_nothing_is_written(
    *,
    api: httpx.AsyncClient,
    alice: Headers,
    committed_db: AsyncEngine,
    tool_type: str,
    config: dict[str, Any],
    field: str,
) -> None:
    body = {"name": "t", "tool_type": tool_type, "config": config}
    response = await api.post("/api/v1/tools", json=body, headers=alice)
    assert response.status_code == 422, response.text
    assert field in error_fields(response)
    assert await stored_tools(committed_db) == []


@pytest.mark.parametrize(
    ("auth", "field"),
    [
        ({"type": "oauth", "token": "x"}, "auth_config.type"),
        ({"token": "x"}, "auth_config.type"),
        ({"type": "bearer"}, "auth_config.token"),
        ({"type": "bearer", "token": ""}, "auth_config.token"),
        ({"type": "header", "name": "bad header", "value": "v"}, "auth_config.name"),
        ({"type": "basic", "username": "u"}, "auth_config.password"),
        ({"type": "bearer", "token": "x", "extra": 1}, "auth_config.extra"),
    ],
)
async def test_a_bad_auth_config_is_refused_without_echoing_it(
    api: httpx.AsyncClient,
    alice: Headers,
    committed_db: AsyncEngine,
    auth: dict[str, Any],
    field: str,
) -> None:
    response = await api.post(
        "/api/v1/tools", json={**HTTP_TOOL, "auth_config": auth}, headers=alice
    )
    assert response.status_code == 422, response.text
    assert field in error_fields(response)
    assert await stored_tools(committed_db) == []


async def test_auth_is_sealed_at_rest_and_never_in_a_response_or_a_log_line(
    api: httpx.AsyncClient,
    alice: Headers,
    committed_db: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    answers: list[httpx.Response] = []
    auth = {"type": "basic", "username": "trader", "password": TOKEN}
    created = await api.post(
        "/api/v1/tools", json={**HTTP_TOOL, "auth_config": auth}, headers=alice
    )
    answers.append(created)
    tool_id = created.json()["id"]
    assert created.json()["auth_type"] == "basic"
    answers.append(await api.get(f"/api/v1/tools/{tool_id}", headers=alice))
    answers.append(await api.get("/api/v1/tools", headers=alice))
    answers.append(await api.patch(f"/api/v1/tools/{tool_id}", json={"name": "q2"}, headers=alice))
    # A refused change that carries the secret does not echo it either.
    bad = {"auth_config": {"type": "basic", "username": "", "password": TOKEN}}
    answers.append(await api.patch(f"/api/v1/tools/{tool_id}", json=bad, headers=alice))
    assert answers[-1].status_code == 422
    for answer in answers:
        assert TOKEN not in answer.text
    assert all(TOKEN not in record.getMessage() for record in caplog.records)

    [row] = await stored_tools(committed_db)
    assert TOKEN not in str(row)
    assert set(row["auth_config"]) == {"type", "sealed"}
    opened = open_auth(app_box(), row["auth_config"])
    assert opened.model_dump() | {"password": "?"} == {**auth, "password": "?"}
    assert opened.password.get_secret_value() == TOKEN  # type: ignore[union-attr]
    with pytest.raises(SecretUnreadableError):
        open_auth(SecretBox([generate_key()]), row["auth_config"])


async def test_auth_is_replaced_and_cleared_with_patch(
    api: httpx.AsyncClient, alice: Headers, committed_db: AsyncEngine
) -> None:
    tool = await post_tool(api, alice, auth_config={"type": "bearer", "token": TOKEN})
    url = f"/api/v1/tools/{tool['id']}"
    header = {"type": "header", "name": "X-Api-Key", "value": "v-123456"}
    replaced = await api.patch(url, json={"auth_config": header}, headers=alice)
    assert replaced.json()["auth_type"] == "header"
    [row] = await stored_tools(committed_db)
    assert open_auth(app_box(), row["auth_config"]).type == "header"
    cleared = await api.patch(url, json={"auth_config": None}, headers=alice)
    assert cleared.json()["auth_type"] is None
    [row] = await stored_tools(committed_db)
    assert row["auth_config"] is None


async def test_rows_sealed_under_an_old_key_open_after_rotation(
    api: httpx.AsyncClient, alice: Headers, committed_db: AsyncEngine
) -> None:
    await post_tool(api, alice, auth_config={"type": "bearer", "token": TOKEN})
    [row] = await stored_tools(committed_db)
    new_key = generate_key()
    rotated = SecretBox(parse_keys(f"{new_key},{os.environ['ENCRYPTION_KEYS']}"))
    assert open_auth(rotated, row["auth_config"]).token.get_secret_value() == TOKEN  # type: ignore[union-attr]
    resealed = {**row["auth_config"], "sealed": rotated.rotate(row["auth_config"]["sealed"])}
    only_new = SecretBox(parse_keys(new_key))
    assert open_auth(only_new, resealed).token.get_secret_value() == TOKEN  # type: ignore[union-attr]
    with pytest.raises(SecretUnreadableError):
        open_auth(only_new, row["auth_config"])


async def test_changing_the_type_needs_a_config_of_the_new_shape(
    api: httpx.AsyncClient, alice: Headers
) -> None:
    tool = await post_tool(api, alice)
    url = f"/api/v1/tools/{tool['id']}"
    refused = await api.patch(url, json={"tool_type": "builtin"}, headers=alice)
    assert refused.status_code == 422
    assert error_fields(refused) == ["tool_type"]
    changed = await api.patch(
        url, json={"tool_type": "builtin", "config": {"name": "echo"}}, headers=alice
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["tool_type"] == "builtin"
    bad = await api.patch(url, json={"config": {"name": "nope"}}, headers=alice)
    assert bad.status_code == 422
    assert error_fields(bad) == ["config.name"]
    assert (await api.get(url, headers=alice)).json()["config"] == {"name": "echo"}


async def test_public_tools_are_read_by_all_and_changed_only_by_their_owner(
    api: httpx.AsyncClient, alice: Headers, bob: Headers
) -> None:
    public = await post_tool(api, alice, name="shared", is_public=True)
    private = await post_tool(api, alice, name="mine")
    url = f"/api/v1/tools/{public['id']}"
    assert (await api.get(url, headers=bob)).status_code == 200
    listed = (await api.get("/api/v1/tools", headers=bob)).json()["items"]
    assert [item["name"] for item in listed] == ["shared"]
    assert (await api.get("/api/v1/tools?mine=true", headers=bob)).json()["items"] == []
    for method, path, body in [
        ("PATCH", url, {"name": "taken"}),
        ("DELETE", url, None),
    ]:
        answer = await api.request(method, path, json=body, headers=bob)
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"]["code"] == "forbidden"
    assert (await api.get(url, headers=alice)).json()["name"] == "shared"
    private_url = f"/api/v1/tools/{private['id']}"
    for method, path, body in [
        ("GET", private_url, None),
        ("PATCH", private_url, {"name": "taken"}),
        ("DELETE", private_url, None),
        ("POST", f"{private_url}/restore", None),
        ("POST", f"{url}/restore", None),
    ]:
        answer = await api.request(method, path, json=body, headers=bob)
        assert answer.status_code in (403, 404), answer.text
        if path.startswith(private_url):
            assert answer.status_code == 404


async def test_delete_and_restore(api: httpx.AsyncClient, alice: Headers, bob: Headers) -> None:
    tool = await post_tool(api, alice, is_public=True)
    url = f"/api/v1/tools/{tool['id']}"
    assert (await api.post(f"{url}/restore", headers=alice)).status_code == 409
    assert (await api.delete(url, headers=alice)).status_code == 204
    assert (await api.get(url, headers=alice)).status_code == 404
    assert (await api.get(url, headers=bob)).status_code == 404
    assert (await api.get("/api/v1/tools", headers=alice)).json()["items"] == []
    deleted = (await api.get("/api/v1/tools?include_deleted=true", headers=alice)).json()
    assert [item["id"] for item in deleted["items"]] == [tool["id"]]
    assert (await api.post(f"{url}/restore", headers=bob)).status_code == 404
    restored = await api.post(f"{url}/restore", headers=alice)
    assert restored.status_code == 200
    assert restored.json()["deleted_at"] is None


async def test_list_filters_and_pages(api: httpx.AsyncClient, alice: Headers) -> None:
    for index in range(3):
        await post_tool(api, alice, name=f"h{index}")
    await post_tool(api, alice, name="e", tool_type="builtin", config={"name": "echo"})
    builtins = (await api.get("/api/v1/tools?tool_type=builtin", headers=alice)).json()
    assert [item["name"] for item in builtins["items"]] == ["e"]
    first = (await api.get("/api/v1/tools?limit=3", headers=alice)).json()
    assert [item["name"] for item in first["items"]] == ["e", "h2", "h1"]
    rest = await api.get(f"/api/v1/tools?limit=3&cursor={first['next_cursor']}", headers=alice)
    assert [item["name"] for item in rest.json()["items"]] == ["h0"]
    assert rest.json()["next_cursor"] is None


async def test_every_tool_route_needs_a_token(api: httpx.AsyncClient) -> None:
    assert (await api.get("/api/v1/tools")).status_code == 401
    assert (await api.post("/api/v1/tools", json=HTTP_TOOL)).status_code == 401


async def test_reseal_moves_every_row_to_the_new_key(
    api: httpx.AsyncClient, alice: Headers, bob: Headers, committed_db: AsyncEngine
) -> None:
    for headers in (alice, bob, alice):
        await post_tool(api, headers, auth_config={"type": "bearer", "token": TOKEN})
    await post_tool(api, alice, name="no-auth")
    new_key = generate_key()
    rotated = SecretBox(parse_keys(f"{new_key},{os.environ['ENCRYPTION_KEYS']}"))
    assert await reseal_all(committed_db, rotated, batch_size=2) == 3
    only_new = SecretBox(parse_keys(new_key))
    rows = [row for row in await stored_tools(committed_db) if row["auth_config"]]
    assert len(rows) == 3
    for row in rows:
        assert open_auth(only_new, row["auth_config"]).token.get_secret_value() == TOKEN  # type: ignore[union-attr]
        with pytest.raises(SecretUnreadableError):
            open_auth(app_box(), row["auth_config"])
