"""Logging set-up: one line per record, level from settings."""

from __future__ import annotations

import logging


def configure_logging(level: str) -> None:
    """Send the app's logs to stderr at `level` (idempotent)."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    # Client libraries would log every request they make at INFO.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
