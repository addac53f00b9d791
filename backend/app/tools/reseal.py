"""`python -m app.tools.reseal`: re-seal every tool's auth under the first of
ENCRYPTION_KEYS, a batch per transaction.

Key rotation: put the new key first (`ENCRYPTION_KEYS=new,old`), restart, run this, then
drop the old key. Rows it has not reached yet still open with the old key meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.logging import configure_logging
from app.core.secret_box import SecretBox
from app.core.settings import get_settings
from app.db.database import create_database, create_session_factory
from app.tools import service

logger = logging.getLogger("app.tools.reseal")


async def reseal_all(database: AsyncEngine, box: SecretBox, batch_size: int = 500) -> int:
    """Re-seal every tool's auth under `box`'s first key; how many were re-sealed."""
    factory = create_session_factory(database)
    total, after = 0, uuid.UUID(int=0)
    while True:
        async with factory() as session, session.begin():
            count, last = await service.reseal_batch(session, box, after, batch_size)
        total += count
        if last is None:
            return total
        after = last


async def main() -> None:
    """Re-seal with the app's settings."""
    settings = get_settings()
    configure_logging(settings.log_level)
    database = create_database(settings.database_url, pool_size=1)
    try:
        count = await reseal_all(database, settings.sealing_box())
    finally:
        await database.dispose()
    logger.info("re-sealed the auth of %d tools under the first key", count)


if __name__ == "__main__":
    asyncio.run(main())
