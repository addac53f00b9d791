"""`python -m app.worker`: one worker, with the app's settings (any number, on any machine).

SIGTERM or SIGINT: no new work; running executions have WORKER_SHUTDOWN_GRACE_SECONDS to
finish, then go back to the queue for another worker.
"""

from __future__ import annotations

import asyncio
import gc
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
    tune_garbage_collector()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, worker.stop)
    try:
        await worker.run()
    finally:
        await database.dispose()


def tune_garbage_collector() -> None:
    """Collect cycles less often, and never scan what startup loaded (modules, settings,
    the app's classes): a busy worker allocates fast, and with the defaults the collector
    took about a tenth of its CPU, in full collections that each stopped it for ~100 ms
    (measured with `make bench`, DESIGN.md "Group commit")."""
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


# Allocations between two collections of the young generation (Python's default: 700).
GC_YOUNG_THRESHOLD = 10_000


if __name__ == "__main__":
    asyncio.run(main())
