"""The console over plain HTTP against the live server (no browser needed): the session
cookie as a credential, the form tokens, error pages, the way back after signing in."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.browser.conftest import Account, LiveServer, register


@pytest.fixture
async def client(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client keeping cookies as a browser does for a loopback origin: the live server
    runs as in production, so its cookies are Secure, and browsers send Secure cookies to
    http://127.0.0.1 (a trustworthy origin) where httpx's cookie jar would not."""
    kept: dict[str, str] = {}

    async def keep(response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "max-age=0" in header.lower() or not value.strip('"'):
                kept.pop(name, None)
            else:
                kept[name] = value

    async def send(request: httpx.Request) -> None:
        if kept and "cookie" not in request.headers:
            request.headers["cookie"] = "; ".join(f"{k}={v}" for k, v in kept.items())

    async with httpx.AsyncClient(
        base_url=live_server.url, timeout=30,
        event_hooks={"request": [send], "response": [keep]},
    ) as client:  # fmt: skip
        client.kept = kept  # type: ignore[attr-defined]
        yield client


def _form_token(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None, page.text
    return found.group(1)


async def _signed_in(client: httpx.AsyncClient, account: Account) -> str:
    """Sign in through the form; the page's CSRF token."""
    form = await client.get("/console/login")
    answer = await client.post(
        "/console/login",
        data={"email": account.email, "password": account.password,
              "csrf_token": _form_token(form), "next": "/console/schedules"},
    )  # fmt: skip
    assert answer.status_code == 303, answer.text
    assert "pt_session" in client.kept  # type: ignore[attr-defined]
    listed = await client.get("/console/schedules")
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', listed.text)
    assert found is not None
    return found.group(1)


async def test_answers_to_the_session_cookie_are_never_cached(
    client: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    account = await register(api)
    csrf = await _signed_in(client, account)
    me = await client.get("/api/v1/users/me")
    assert me.status_code == 200
    assert me.headers["cache-control"] == "no-store"
    changed = await client.post(
        "/api/v1/workflows", json={"name": "by cookie"}, headers={"X-CSRF-Token": csrf}
    )
    assert changed.status_code == 201, changed.text
    assert changed.headers["cache-control"] == "no-store"
    page = await client.get("/console/schedules")
    assert page.headers["cache-control"] == "no-store"


async def test_the_session_cookie_is_httponly_strict_and_secure_outside_development(
    client: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    account = await register(api)
    form = await client.get("/console/login")
    answer = await client.post(
        "/console/login",
        data={"email": account.email, "password": account.password,
              "csrf_token": _form_token(form)},
    )  # fmt: skip
    cookie = answer.headers["set-cookie"].lower()
    assert cookie.startswith("pt_session=")
    for flag in ("httponly", "samesite=strict", "secure", "path=/"):
        assert flag in cookie, cookie


@pytest.mark.parametrize("token", ["", "short", None])
async def test_sign_in_without_a_real_form_token_is_refused(
    client: httpx.AsyncClient, api: httpx.AsyncClient, token: str | None
) -> None:
    account = await register(api)
    cookie = {} if token is None else {"cookie": f"pt_form={token}"}
    answer = await client.post(
        "/console/login",
        data={"email": account.email, "password": account.password, "csrf_token": token or ""},
        headers=cookie,
    )
    assert answer.status_code == 403
    assert "pt_session" not in answer.cookies
    assert "The form expired" in answer.text


async def test_sign_out_needs_the_page_s_token(
    client: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    account = await register(api)
    csrf = await _signed_in(client, account)
    refused = await client.post("/console/logout", data={"csrf_token": "0" * 64})
    assert refused.status_code == 403
    assert (await client.get("/console/schedules")).status_code == 200
    done = await client.post("/console/logout", data={"csrf_token": csrf})
    assert done.status_code == 303
    assert (await client.get("/console/schedules")).status_code == 303


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/console/schedules/not-a-uuid", 422),
        ("/console/schedules?schedule_type=weekly", 422),
        ("/console/schedules?cursor=" + "x" * 5000, 422),
        ("/console/no-such-page", 404),
        (f"/console/executions/{'0' * 8}-0000-0000-0000-{'0' * 12}", 404),
    ],
)
async def test_a_console_address_that_is_wrong_answers_a_page(
    client: httpx.AsyncClient, api: httpx.AsyncClient, path: str, status: int
) -> None:
    await _signed_in(client, await register(api))
    answer = await client.get(path)
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in answer.headers["content-security-policy"]


async def test_signing_in_leads_back_to_the_page_asked_for_with_its_filters(
    client: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    account = await register(api)
    asked = await client.get("/console/schedules?state=paused&schedule_type=cron")
    assert asked.status_code == 303
    login_page = await client.get(asked.headers["location"])
    found = re.search(r'name="next" value="([^"]+)"', login_page.text)
    assert found is not None
    assert (
        found.group(1).replace("&amp;", "&") == "/console/schedules?state=paused&schedule_type=cron"
    )
    for outside in ("//evil.example", "https://evil.example/console/", "/console/..//evil.example"):
        form = await client.get("/console/login", params={"next": outside})
        answer = await client.post(
            "/console/login",
            data={"email": account.email, "password": account.password,
                  "csrf_token": _form_token(form), "next": outside},
        )  # fmt: skip
        assert answer.headers["location"] == "/console/schedules", outside
        client.kept.clear()  # type: ignore[attr-defined]


async def test_the_list_s_script_is_told_when_the_session_is_gone(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/console/schedules", params={"fragment": "true"})
    assert answer.status_code == 401


async def test_tokens_with_characters_beyond_ascii_are_refused_not_a_500(
    client: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    account = await register(api)
    form = await client.get("/console/login")
    assert form.status_code == 200
    refused = await client.post(
        "/console/login",
        data={"email": account.email, "password": account.password, "csrf_token": "é" * 43},
    )
    assert refused.status_code == 403
    await _signed_in(client, account)
    changed = await client.post(
        "/api/v1/workflows", json={"name": "x"}, headers={"X-CSRF-Token": "é".encode("latin-1")}
    )
    assert changed.status_code == 403, changed.text
    out = await client.post("/console/logout", data={"csrf_token": "ü" * 64})
    assert out.status_code == 403
