"""The composition root: builds the settings, the database, the firing engine and the routers.

The lifespan opens the database and starts the firing engine and a worker when enabled;
GET /health.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.agents.router import router as agents_router
from app.api.deps import LiveUsers
from app.api.errors import install_error_handlers
from app.api.metrics import router as metrics_router
from app.api.middleware import RequestBodyLimit, SecurityHeaders
from app.api.rate_limits import RateLimits
from app.console.router import install_console
from app.core.logging import configure_logging
from app.core.settings import Settings, get_settings
from app.db.database import create_database, create_session_factory
from app.executions.router import router as executions_router
from app.runtime.worker import Worker
from app.scheduler.engine import EngineConfig, SchedulerEngine
from app.schedules.router import router as schedules_router
from app.tools.router import router as tools_router
from app.users.router import router as users_router
from app.workflows.graph_router import router as graph_router
from app.workflows.router import router as workflows_router


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the database opens at start-up and is disposed of at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resolved = settings or get_settings()
        configure_logging(resolved.log_level)
        resolved.require_jwt_secret()
        app.state.secret_box = resolved.sealing_box()
        app.state.settings = resolved
        app.state.rate_limits = RateLimits.from_settings(resolved)
        database = create_database(
            resolved.database_url,
            pool_size=resolved.database_pool_size,
            echo=resolved.database_echo,
            statement_timeout=resolved.database_statement_timeout_seconds,
            connect_timeout=resolved.database_connect_timeout_seconds,
        )
        app.state.database = database
        app.state.session_factory = create_session_factory(database)
        # Same pool; statements of read-only requests run without a transaction around them.
        app.state.read_database = database.execution_options(isolation_level="AUTOCOMMIT")
        app.state.read_session_factory = create_session_factory(app.state.read_database)
        app.state.live_users = LiveUsers(resolved.auth_cache_seconds)
        app.state.scheduler = None
        if resolved.scheduler_enabled:
            app.state.scheduler = SchedulerEngine(database, EngineConfig.from_settings(resolved))
            app.state.scheduler.start()
        app.state.worker = None
        if resolved.worker_enabled:
            app.state.worker = Worker(database, resolved, app.state.secret_box)
            app.state.worker.start()
        try:
            yield
        finally:
            if app.state.worker is not None:
                await app.state.worker.shutdown()
            if app.state.scheduler is not None:
                await app.state.scheduler.shutdown()
            await database.dispose()

    app = FastAPI(
        title="PasteTrader backend",
        summary="Workflows, schedules and the engine that fires them.",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    # The last added runs first: headers go on every answer, the 413 included.
    app.add_middleware(RequestBodyLimit)
    app.add_middleware(SecurityHeaders)
    routers = (
        users_router, workflows_router, graph_router, schedules_router, tools_router,
        agents_router, executions_router, metrics_router,
    )  # fmt: skip
    for router in routers:
        app.include_router(router)
    install_console(app)

    @app.get("/health", tags=["health"])
    async def health(request: Request) -> JSONResponse:
        """Report the database and the firing engine (503 when the database is down)."""
        body: dict[str, Any] = {"status": "ok", "database": "ok"}
        scheduler: SchedulerEngine | None = request.app.state.scheduler
        worker: Worker | None = request.app.state.worker
        try:
            async with request.app.state.database.connect() as connection:
                await connection.execute(text("SELECT 1"))
            body["scheduler"] = await scheduler.status() if scheduler else {"state": "disabled"}
            body["worker"] = {"state": worker.state if worker else "disabled"}
        except Exception as exc:  # any failure means unhealthy
            body = {"status": "error", "database": f"unavailable: {type(exc).__name__}"}
            return JSONResponse(body, status_code=503)
        return JSONResponse(body)

    return app


app = create_app()
