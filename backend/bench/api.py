"""`make bench` (API part): list and get latency with 1,000,000 schedules over 10,000 users.

- in process: p50/p99 of GET /api/v1/schedules (a page of 50) and GET /api/v1/schedules/{id}
  through the ASGI app (httpx, no network);
- served: list requests/s from uvicorn (2 workers) under a local load generator: wrk when
  it is on PATH, else a Python client (which then shares the cores and reads lower);
- baseline, same run: requests/s of a bare route (`SELECT 1` on the app's own read pool,
  bench/baseline_app.py) served by the same uvicorn command line and loaded by the same
  generator for as long, and list / baseline: absolute rates move by a factor of two or
  more between days on the same machine, the ratio much less.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.security import create_access_token
from app.core.settings import Settings
from app.db.admin import ensure_database, migrate
from app.db.database import create_database
from app.main import create_app

BENCH_DATABASE = "pastetrader_bench_api"
SECRET = "bench-secret-" + "x" * 32
BACKEND = Path(__file__).resolve().parents[1]
LIST_PATH = "/api/v1/schedules?limit=50"
BASELINE_PATH = "/bench/baseline"  # bench/baseline_app.py
BASELINE_FACTORY = "bench.baseline_app:create_baseline_app"
POOL_SIZE = 20
CONNECTIONS = 32


async def seed(db: AsyncEngine, users: int, per_user: int) -> None:
    """`users` users with one workflow and `per_user` interval schedules each."""
    async with db.begin() as conn:
        await conn.execute(text("TRUNCATE users, workflows, schedules CASCADE"))
        await conn.execute(
            text(
                "INSERT INTO users (email) SELECT 'bench' || g || '@example.com'"
                " FROM generate_series(1, :n) AS g"
            ),
            {"n": users},
        )
        await conn.execute(
            text("INSERT INTO workflows (owner_id, name) SELECT id, 'bench' FROM users")
        )
        await conn.execute(
            text(
                """
                INSERT INTO schedules (workflow_id, user_id, name, schedule_type, schedule_config,
                                       timezone, next_run_at, job_id, created_at)
                SELECT w.id, w.owner_id, 'bench ' || g, 'interval', '{"hours": 1}', 'UTC',
                       now() + g * interval '1 second', 'schedule_' || gen_random_uuid(),
                       now() - g * interval '1 millisecond'
                  FROM workflows w CROSS JOIN generate_series(1, :per_user) AS g
                """
            ),
            {"per_user": per_user},
        )
    async with db.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))


def percentile(values: list[float], q: float) -> float:
    """The `q` quantile of `values` (nearest rank), for the p99 figures."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def token_for(owner: uuid.UUID) -> str:
    """An hour's access token for `owner`, signed with the secret the bench serves with."""
    return create_access_token(owner, SECRET, timedelta(hours=1))


async def in_process(database_url: str, db: AsyncEngine, requests: int) -> dict[str, float]:
    """List and get p50/p99 in ms through the ASGI app, without network or server."""
    async with db.connect() as conn:
        owners = [row[0] for row in await conn.execute(text("SELECT id FROM users"))]
        sample = list(
            (
                await conn.execute(text("SELECT id, user_id FROM schedules TABLESAMPLE SYSTEM (1)"))
            ).all()
        )
        if not sample:  # a small table: 1% of its pages may hold no row
            sample = list(
                (
                    await conn.execute(
                        text("SELECT id, user_id FROM schedules ORDER BY random() LIMIT 200")
                    )
                ).all()
            )
    tokens = {
        owner: token_for(owner)
        for owner in {*random.sample(owners, min(200, len(owners))), *(s[1] for s in sample[:200])}
    }
    app = create_app(
        Settings(database_url=database_url, scheduler_enabled=False, jwt_secret=SECRET)
    )
    list_ms: list[float] = []
    get_ms: list[float] = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            owners_with_tokens = list(tokens)
            for index in range(requests):
                owner = owners_with_tokens[index % len(owners_with_tokens)]
                headers = {"Authorization": f"Bearer {tokens[owner]}"}
                began = time.perf_counter()
                response = await client.get("/api/v1/schedules?limit=50", headers=headers)
                list_ms.append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200
                assert len(response.json()["items"]) == 50
            for index in range(requests):
                schedule_id, owner = sample[index % min(200, len(sample))]
                headers = {"Authorization": f"Bearer {tokens[owner]}"}
                began = time.perf_counter()
                response = await client.get(f"/api/v1/schedules/{schedule_id}", headers=headers)
                get_ms.append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200
    return {
        "list_p50": statistics.median(list_ms), "list_p99": percentile(list_ms, 0.99),
        "get_p50": statistics.median(get_ms), "get_p99": percentile(get_ms, 0.99),
    }  # fmt: skip


def free_port() -> int:
    """A TCP port free on 127.0.0.1 for the server under load."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Load:
    """One route under load: requests/s, requests made, and how many of them failed."""

    rate: float
    requests: int
    failures: int


@dataclass(frozen=True)
class Served:
    """The served figures: the list endpoint beside the same-run baseline route."""

    generator: str
    listing: Load
    baseline: Load

    @property
    def ratio(self) -> float:
        """List requests/s over baseline requests/s: the figure that holds across days."""
        return self.listing.rate / self.baseline.rate


async def served(database_url: str, token: str, seconds: int, workers: int) -> Served:
    """List and baseline requests/s from uvicorn, one server and `seconds` of load each.

    wrk when it is on PATH, else the Python client on this event loop; both routes get the
    same generator, duration, uvicorn command line and environment.
    """
    use_wrk = shutil.which("wrk") is not None
    generator = (
        f"wrk, 2 threads, {CONNECTIONS} connections"
        if use_wrk
        else f"Python httpx client, {CONNECTIONS} tasks (shares the cores with uvicorn)"
    )
    load = functools.partial(
        _serve_and_load, database_url=database_url, token=token, seconds=seconds,
        workers=workers, use_wrk=use_wrk,
    )  # fmt: skip
    listing = await load(["app.main:app"], LIST_PATH)
    baseline = await load(["--factory", BASELINE_FACTORY], BASELINE_PATH)
    return Served(generator, listing, baseline)


async def _serve_and_load(
    app: list[str], path: str, *, database_url: str, token: str, seconds: int, workers: int,
    use_wrk: bool,
) -> Load:  # fmt: skip
    port = free_port()
    env = {
        **os.environ, "DATABASE_URL": database_url, "JWT_SECRET": SECRET,
        "SCHEDULER_ENABLED": "false", "DATABASE_POOL_SIZE": str(POOL_SIZE),
        "LOG_LEVEL": "WARNING",
        # `app` and `bench.baseline_app` importable in the workers, whatever the venv holds.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(BACKEND), os.environ.get("PYTHONPATH")])),
    }  # fmt: skip
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "uvicorn", *app, "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), "--no-access-log", "--log-level", "warning",
        env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        await _wait_healthy(server, base)
        url = base + path
        if use_wrk:
            return await asyncio.to_thread(_wrk, url, token, seconds)
        return await _python_load(url, token, seconds)
    finally:
        if server.returncode is None:
            server.terminate()
            try:
                await asyncio.wait_for(server.wait(), timeout=30)
            except TimeoutError:
                server.kill()
                await server.wait()


async def _wait_healthy(server: asyncio.subprocess.Process, base: str) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=base) as client:
        while True:
            try:
                if (await client.get("/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if server.returncode is not None:
                raise RuntimeError(f"uvicorn exited with {server.returncode} before serving")
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start within 60 s")
            await asyncio.sleep(0.2)


def _wrk(url: str, token: str, seconds: int) -> Load:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f'wrk.headers["Authorization"] = "Bearer {token}"\n')
    try:
        output = subprocess.run(
            ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", script.name, url],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        Path(script.name).unlink()
    return parse_wrk(output)


def parse_wrk(output: str) -> Load:
    """Requests/s, requests and failures (non-2xx or 3xx, socket errors) from wrk's report."""
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    total = re.search(r"(\d+) requests in ", output)
    if rate is None or total is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket = re.search(r"Socket errors:([^\n]*)", output)
    failures = int(non_2xx[1]) if non_2xx else 0
    if socket:
        failures += sum(int(count) for count in re.findall(r"\d+", socket[1]))
    return Load(float(rate[1]), int(total[1]), failures)


async def _python_load(url: str, token: str, seconds: int) -> Load:
    headers = {"Authorization": f"Bearer {token}"}
    done = failed = 0
    stop = time.monotonic() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal done, failed
        while time.monotonic() < stop:
            try:
                response = await client.get(url, headers=headers)
            except httpx.HTTPError:
                failed += 1
                continue
            if response.status_code == 200:
                done += 1
            else:
                failed += 1

    limits = httpx.Limits(max_connections=CONNECTIONS)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        began = time.monotonic()
        await asyncio.gather(*(worker(client) for _ in range(CONNECTIONS)))
        elapsed = time.monotonic() - began
    return Load(done / elapsed, done + failed, failed)


async def main(args: argparse.Namespace) -> None:
    """Seed (when the sizes changed), measure in process, then served, and print."""
    server_url = os.environ["DATABASE_URL"]
    database_url = ensure_database(server_url, BENCH_DATABASE, recreate=args.reseed)
    migrate(database_url)
    db = create_database(database_url)
    async with db.connect() as conn:
        present = await conn.scalar(text("SELECT count(*) FROM schedules"))
    if args.reseed or present != args.users * args.per_user:
        print(f"seeding {args.users:,} users x {args.per_user} schedules ...", flush=True)
        await seed(db, args.users, args.per_user)
    latency = await in_process(database_url, db, args.requests)
    async with db.connect() as conn:
        owner = await conn.scalar(text("SELECT id FROM users LIMIT 1"))
    await db.dispose()
    result = await served(
        database_url, token_for(uuid.UUID(str(owner))), args.seconds, args.workers
    )
    for name, load in (("list", result.listing), ("baseline", result.baseline)):
        if load.failures:
            raise RuntimeError(f"{name}: {load.failures} of {load.requests} requests failed")
    total = args.users * args.per_user
    print(f"\nAPI with {total:,} schedules over {args.users:,} users ({os.cpu_count()} cores)")
    print(
        f"list page of 50, in process: p50 {latency['list_p50']:.1f} ms, "
        f"p99 {latency['list_p99']:.1f} ms   (goal p99 <= 20 ms)"
    )
    print(
        f"get by id, in process:       p50 {latency['get_p50']:.1f} ms, "
        f"p99 {latency['get_p99']:.1f} ms"
    )
    print(f"served by uvicorn ({args.workers} workers, pool {POOL_SIZE}), "
          f"{args.seconds} s per route:")  # fmt: skip
    print(f"  load from:                       {result.generator}")
    print(f"  list page of 50:                 {result.listing.rate:>8,.0f} requests/s"
          "   (goal >= 1,000)")  # fmt: skip
    print(f"  baseline (bare route, SELECT 1): {result.baseline.rate:>8,.0f} requests/s")
    print(f"  list / baseline:                 {result.ratio:>8.2f}")


def parse_args() -> argparse.Namespace:
    """The sizes and durations; the defaults are the figures the README quotes."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--per-user", type=int, default=100)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reseed", action="store_true")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
