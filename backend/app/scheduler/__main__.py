"""`python -m app.scheduler`: run the firing engine alone, with the app's settings.

SIGTERM or SIGINT stops it after the pass in flight has committed.
"""

from __future__ import annotations

import asyncio
import signal

from app.core.logging import configure_logging
from app.core.settings import get_settings
from app.db.database import create_database
from app.scheduler.engine import EngineConfig, SchedulerEngine


async def main() -> None:
    """Run one firing engine until a stop signal."""
    settings = get_settings()
    configure_logging(settings.log_level)
    database = create_database(
        settings.database_url,
        pool_size=2,
        statement_timeout=settings.database_statement_timeout_seconds,
        connect_timeout=settings.database_connect_timeout_seconds,
    )
    scheduler = SchedulerEngine(database, EngineConfig.from_settings(settings))
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, scheduler.stop)
    try:
        await scheduler.run()
    finally:
        await database.dispose()


if __name__ == "__main__":
    asyncio.run(main())
