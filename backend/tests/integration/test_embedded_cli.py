"""`python -m app.db.embedded`: runs a command against a database, starting PostgreSQL if needed."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = (
    "import os, asyncio, asyncpg\n"
    "from sqlalchemy.engine import make_url\n"
    "u = make_url(os.environ['PT_PROBE_URL'])\n"
    "async def main():\n"
    "    c = await asyncpg.connect(user=u.username, host=u.query.get('host') or u.host,"
    " port=u.port, database=u.database)\n"
    "    print(await c.fetchval('select current_database()'))\n"
    "    await c.close()\n"
    "asyncio.run(main())\n"
)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.db.embedded", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env or {k: v for k, v in os.environ.items() if k != "PT_PROBE_URL"},
        check=False,
    )


def test_starts_embedded_server_and_creates_the_database() -> None:
    result = run_cli(
        "--env-var",
        "PT_PROBE_URL",
        "--database",
        "pastetrader_cli_probe",
        "--",
        sys.executable,
        "-c",
        PROBE,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "pastetrader_cli_probe"
    assert "embedded PostgreSQL: postgresql+asyncpg://" in result.stderr


def test_uses_the_given_url_and_passes_the_exit_code() -> None:
    env = {**os.environ, "PT_PROBE_URL": "postgresql://unused@nowhere/none"}
    result = run_cli(
        "--env-var",
        "PT_PROBE_URL",
        "--",
        sys.executable,
        "-c",
        "import os, sys; print(os.environ['PT_PROBE_URL']); sys.exit(3)",
        env=env,
    )
    assert result.returncode == 3
    assert result.stdout.strip() == "postgresql://unused@nowhere/none"
    assert "embedded" not in result.stderr


def test_a_command_is_required() -> None:
    result = run_cli()
    assert result.returncode == 2
    assert "no command given" in result.stderr
