"""The API bench's same-run baseline: the real app plus one bare route, `GET /bench/baseline`.

`bench/api.py` serves it with the list endpoint's uvicorn command line (same workers, flags
and environment, `--factory bench.baseline_app:create_baseline_app`). The route runs
`SELECT 1` on the app's own read pool and returns a tiny JSON body, so list / baseline is
the list endpoint's own work (auth, query, serialisation) over the floor of one request
and one pool round trip, measured on the same machine in the same minute.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app

BASELINE_PATH = "/bench/baseline"


def read_database(app: FastAPI) -> AsyncEngine:
    """The app's read pool (AUTOCOMMIT, the API's connections); the one place naming it."""
    database: AsyncEngine = app.state.read_database
    return database


def create_baseline_app() -> FastAPI:
    """`app.main`'s app (settings from the environment, as uvicorn serves it) + the route."""
    app = create_app()

    @app.get(BASELINE_PATH, include_in_schema=False)
    async def baseline(request: Request) -> dict[str, int]:
        """One `SELECT 1` on the read pool: the floor the list endpoint is read against."""
        async with read_database(request.app).connect() as connection:
            await connection.execute(text("SELECT 1"))
        return {"ok": 1}

    return app
