"""`make bench` (API part): list and get latency with 1,000,000 schedules over 10,000 users.

- in process: p50/p99 of GET /api/v1/schedules (a page of 50) and GET /api/v1/schedules/{id}
  through the ASGI app (httpx, no network);
- served: list requests/s from uvicorn (2 workers) under a local load generator: wrk when
  it is on PATH, else a Python client (which then shares the two cores and reads lower).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.security import create_access_token
from app.core.settings import Settings
from app.db.admin import ensure_database, migrate
from app.db.engine import create_engine
from app.main import create_app

BENCH_DATABASE = "pastetrader_bench_api"
SECRET = "bench-secret-" + "x" * 32


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
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def in_process(database_url: str, db: AsyncEngine, requests: int) -> dict[str, float]:
    async with db.connect() as conn:
        owners = [row[0] for row in await conn.execute(text("SELECT id FROM users"))]
        sample = list(
            (
                await conn.execute(text("SELECT id, user_id FROM schedules TABLESAMPLE SYSTEM (1)"))
            ).all()
        )
    tokens = {
        owner: create_access_token(owner, SECRET, timedelta(hours=1))
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
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def served(database_url: str, token: str, seconds: int, workers: int) -> tuple[float, str]:
    """List requests/s from uvicorn; (rate, which load generator)."""
    port = free_port()
    env = {
        **os.environ, "DATABASE_URL": database_url, "JWT_SECRET": SECRET,
        "SCHEDULER_ENABLED": "false", "DATABASE_POOL_SIZE": "20", "LOG_LEVEL": "WARNING",
    }  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers), "--no-access-log",
         "--log-level", "warning"],
        env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/api/v1/schedules?limit=50"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.2)
        if shutil.which("wrk"):
            return _wrk(url, token, seconds), "wrk, 2 threads, 32 connections"
        return asyncio.run(_python_load(url, token, seconds)), "Python httpx client, 32 tasks"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wrk(url: str, token: str, seconds: int) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f'wrk.headers["Authorization"] = "Bearer {token}"\n')
    try:
        output = subprocess.run(
            ["wrk", "-t2", "-c32", f"-d{seconds}s", "-s", script.name, url],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        Path(script.name).unlink()
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk saw errors:\n{output}")
    line = next(line for line in output.splitlines() if line.startswith("Requests/sec"))
    return float(line.split()[1])


async def _python_load(url: str, token: str, seconds: int) -> float:
    headers = {"Authorization": f"Bearer {token}"}
    done = 0
    stop = time.monotonic() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal done
        while time.monotonic() < stop:
            response = await client.get(url, headers=headers)
            response.raise_for_status()
            done += 1

    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=32)) as client:
        began = time.monotonic()
        await asyncio.gather(*(worker(client) for _ in range(32)))
        return done / (time.monotonic() - began)


async def main(args: argparse.Namespace) -> None:
    server_url = os.environ["DATABASE_URL"]
    database_url = ensure_database(server_url, BENCH_DATABASE, recreate=args.reseed)
    migrate(database_url)
    db = create_engine(database_url)
    async with db.connect() as conn:
        present = await conn.scalar(text("SELECT count(*) FROM schedules"))
    if args.reseed or present != args.users * args.per_user:
        print(f"seeding {args.users:,} users x {args.per_user} schedules ...", flush=True)
        await seed(db, args.users, args.per_user)
    latency = await in_process(database_url, db, args.requests)
    async with db.connect() as conn:
        owner = await conn.scalar(text("SELECT id FROM users LIMIT 1"))
    await db.dispose()
    token = create_access_token(uuid.UUID(str(owner)), SECRET, timedelta(hours=1))
    rate, generator = served(database_url, token, args.seconds, args.workers)
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
    print(f"list served by uvicorn ({args.workers} workers): {rate:,.0f} requests/s "
          f"(goal >= 1,000), load from {generator}")  # fmt: skip


def parse_args() -> argparse.Namespace:
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
