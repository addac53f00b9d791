"""The embedded PostgreSQL server for development and tests (pgserver).

With no database URL in the environment, `make run` and `make test` start a real
PostgreSQL 16 from the `pgserver` package, with its data in `.pgdata/` at the
repository root, and stop it when they exit. Run a command under it with::

    python -m app.db.embedded [--env-var DATABASE_URL] [--database NAME] -- CMD ...

If the variable is already set, CMD runs against that server and nothing starts.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.database_url import to_async_url
from app.db.admin import ensure_database

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_DATA_DIR = REPO_ROOT / ".pgdata"


@contextlib.contextmanager
def embedded_server(data_dir: Path = DEFAULT_DATA_DIR) -> Iterator[str]:
    """Start (or join) the embedded server in `data_dir`; yield its async URL to `postgres`.

    The server stops when the last process using it leaves the block.
    """
    from pgserver.postgres_server import get_server  # noqa: PLC0415  # optional dependency

    data_dir.mkdir(parents=True, exist_ok=True)
    server: Any = get_server(data_dir, cleanup_mode="stop")
    try:
        yield to_async_url(server.get_uri("postgres"))
    finally:
        server.cleanup()


def run_with_database(command: list[str], env_var: str, database: str) -> int:
    """Run `command` with `env_var` set, starting the embedded server if it is unset."""
    if os.environ.get(env_var):
        return subprocess.call(command)
    with embedded_server() as server_url:
        env = {**os.environ, env_var: ensure_database(server_url, database)}
        print(f"embedded PostgreSQL: {env[env_var]}", file=sys.stderr, flush=True)
        child = subprocess.Popen(command, env=env)
        # The child shares our terminal and gets Ctrl-C itself; we wait for it, then stop.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda *_: child.terminate())
        try:
            return child.wait()
        finally:
            signal.signal(signal.SIGINT, previous)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m app.db.embedded", description=__doc__)
    parser.add_argument("--env-var", default="DATABASE_URL")
    parser.add_argument("--database", default="pastetrader")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    return run_with_database(command, args.env_var, args.database)


if __name__ == "__main__":
    sys.exit(main())
