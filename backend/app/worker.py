"""`python -m app.worker`: one worker, with the app's settings (any number, on any machine).

SIGTERM or SIGINT: no new work; running executions have WORKER_SHUTDOWN_GRACE_SECONDS to
finish, then go back to the queue for another worker.
"""

from __future__ import annotations

import asyncio
import signal

from app.core.logging import configure_logging
from app.core.settings import get_settings
from app.db.database import create_database
from app.runtime.worker import Worker


async def main() -> None:
    """Run one worker until a stop signal."""
    settings = get_settings()
    configure_logging(settings.log_level)
    database = create_database(
        settings.database_url,
        pool_size=min(settings.worker_concurrency + 2, 50),
        statement_timeout=settings.database_statement_timeout_seconds,
        connect_timeout=settings.database_connect_timeout_seconds,
    )
    worker = Worker(database, settings, settings.sealing_box())
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, worker.stop)
    try:
        await worker.run()
    finally:
        await database.dispose()


if __name__ == "__main__":
    asyncio.run(main())
