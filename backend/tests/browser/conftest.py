"""Browser tests: the app served by a real uvicorn process on loopback (API, console and a
worker, on a database of their own), driven by Playwright in the system's headless Chromium.

Chromium comes from the system (Debian's `chromium`; or CHROMIUM_PATH). Without it these
tests are skipped, and the run says so and how to enable them; with REQUIRE_BROWSER_TESTS=1
(CI) a missing browser fails the run instead.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

from tests.database import recreate_database, upgrade

BROWSER_DATABASE = "pastetrader_test_browser"
BACKEND = Path(__file__).resolve().parents[2]
SKIP_REASON = (
    "browser tests skipped: no Chromium found. Install Debian's `chromium` "
    "(apt-get install chromium) or set CHROMIUM_PATH to a Chromium binary"
)


def chromium_path() -> str | None:
    """The Chromium to drive: CHROMIUM_PATH, or one on PATH."""
    given = os.environ.get("CHROMIUM_PATH")
    if given:
        return given if Path(given).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """No browser: skip the browser tests (or fail, when CI requires them)."""
    if chromium_path() is not None:
        return
    if os.environ.get("REQUIRE_BROWSER_TESTS") == "1":
        raise pytest.UsageError(f"REQUIRE_BROWSER_TESTS=1 but {SKIP_REASON}")
    marker = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if "tests/browser" in str(item.fspath) and "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(marker)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say plainly when the browser tests did not run, and how to make them run."""
    if chromium_path() is None:
        terminalreporter.write_line("")
        terminalreporter.write_line(f"NOTE: {SKIP_REASON}.", yellow=True, bold=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class LiveServer:
    """The app under test on loopback."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path


@pytest.fixture(scope="session")
def live_server(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`uvicorn app.main:app` with its worker, on a fresh database, until the run ends."""
    database_url = recreate_database(server_url, BROWSER_DATABASE)
    upgrade(database_url)
    port = _free_port()
    log = tmp_path_factory.mktemp("live") / "server.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ENVIRONMENT": "production",
        "SCHEDULER_ENABLED": "false",
        "WORKER_ENABLED": "true",
        "WORKER_STALL_SECONDS": "5",
        "LOG_LEVEL": "WARNING",
        # Every test registers and signs in from 127.0.0.1.
        "LOGIN_RATE_LIMIT_PER_ADDRESS": "1000/minute",
        "REGISTRATION_RATE_LIMIT_PER_ADDRESS": "1000/minute",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1",
             "--port", str(port)],
            cwd=BACKEND, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the live server did not start:\n{log.read_text()}")
        time.sleep(0.2)
    yield LiveServer(url, process, log)
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium for the run."""
    path = chromium_path()
    if path is None:
        pytest.skip(SKIP_REASON)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=path, headless=True)
        yield launched
        await launched.close()


@dataclass
class Watched:
    """A page and what its console and scripts reported."""

    page: Page
    errors: list[str] = field(default_factory=list)


@pytest.fixture
async def watched(browser: Browser, live_server: LiveServer) -> AsyncIterator[Watched]:
    """A fresh browser context's page; the test fails if a script error or console error
    happened on it."""
    context = await browser.new_context(base_url=live_server.url, timezone_id="Europe/Berlin")
    page = await context.new_page()
    seen = Watched(page)

    def on_console(message: ConsoleMessage) -> None:
        # A 4xx answer to a page or an API call is logged by Chromium as an error; the tests
        # check those answers themselves. Script errors, CSP refusals, 5xx answers and a
        # static file that fails to load are errors.
        url = urlsplit(message.location.get("url", ""))
        answered_4xx = re.match(r"Failed to load resource: .* status of 4\d\d", message.text)
        if message.type == "error" and not (
            answered_4xx and not url.path.startswith("/console/static/")
        ):
            seen.errors.append(f"console: {message.text} ({url.path})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: seen.errors.append(f"page error: {error}"))
    page.set_default_timeout(15_000)
    yield seen
    await context.close()
    assert seen.errors == [], seen.errors


@pytest.fixture
async def api(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """The live server's JSON API, for setting up what the console shows."""
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
        yield client


@dataclass
class Account:
    """A registered user: credentials and an API token."""

    email: str
    password: str
    headers: dict[str, str]


async def register(api: httpx.AsyncClient) -> Account:
    """A new user, registered and logged in through the API."""
    email = f"trader-{time.monotonic_ns()}@example.com"
    password = "kospi-open-nine-sharp"
    created = await api.post("/api/v1/users", json={"email": email, "password": password})
    assert created.status_code == 201, created.text
    token = await api.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert token.status_code == 200, token.text
    return Account(email, password, {"Authorization": f"Bearer {token.json()['access_token']}"})


async def sleeper_workflow(
    api: httpx.AsyncClient, account: Account, seconds: float, name: str = "Morning check"
) -> str:
    """A workflow trigger -> sleep(seconds) -> echo; its id."""
    headers = account.headers

    async def created(path: str, body: dict[str, Any]) -> str:
        response = await api.post(f"/api/v1/{path}", json=body, headers=headers)
        assert response.status_code == 201, response.text
        made: str = response.json()["id"]
        return made

    sleep = await created("tools", {"name": f"sleep-{time.monotonic_ns()}", "tool_type": "builtin",
                                    "config": {"name": "sleep"}})  # fmt: skip
    echo = await created("tools", {"name": f"echo-{time.monotonic_ns()}", "tool_type": "builtin",
                                   "config": {"name": "echo"}})  # fmt: skip
    workflow_id = await created("workflows", {"name": name})
    graph = await api.get(f"/api/v1/workflows/{workflow_id}/graph", headers=headers)
    saved = await api.put(
        f"/api/v1/workflows/{workflow_id}/graph",
        json={
            "version": graph.json()["version"],
            "nodes": [
                {"name": "start", "node_type": "trigger"},
                {"name": "wait", "node_type": "tool", "tool_id": sleep,
                 "config": {"parameters": {"seconds": seconds}}},
                {"name": "report", "node_type": "tool", "tool_id": echo,
                 "config": {"parameters": {"said": "완료 <done> & 'ok'"}}},
            ],
            "edges": [{"source": "start", "target": "wait"},
                      {"source": "wait", "target": "report"}],
        },
        headers=headers,
    )  # fmt: skip
    assert saved.status_code == 200, saved.text
    return workflow_id


async def sign_in(page: Page, account: Account) -> None:
    """Sign in through the console's form."""
    await page.goto("/console/login")
    await page.get_by_label("Email").fill(account.email)
    await page.get_by_label("Password").fill(account.password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/console/schedules")


async def trader(page: Page, api: httpx.AsyncClient, nap: float = 0.1) -> tuple[Account, str]:
    """A new user with a workflow (`sleeper_workflow` of `nap` seconds), signed in to the
    console on `page`; the account and the workflow's id."""
    account = await register(api)
    workflow_id = await sleeper_workflow(api, account, nap)
    await sign_in(page, account)
    return account, workflow_id
