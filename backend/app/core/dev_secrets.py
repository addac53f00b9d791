"""Development secrets: made once, kept in a git-ignored folder, shared by every process.

`make run` (ENVIRONMENT=development) signs tokens with a secret that every uvicorn worker
and every restart read from the same file; production gets its secrets from the
environment and never from here.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_DIR = REPO_ROOT / ".secrets"


def _random_text() -> str:
    return secrets.token_urlsafe(48)


def load_or_create(
    name: str, directory: Path = DEFAULT_DIR, make: Callable[[], str] = _random_text
) -> str:
    """The secret `name` in `directory`, made by `make` on first use. Racing processes
    agree: the file appears whole (written aside, then linked into place) and the first
    link wins."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / name
    if not path.exists():
        with tempfile.NamedTemporaryFile("w", dir=directory, delete=False) as draft:
            draft.write(make())
        os.chmod(draft.name, 0o600)
        try:
            os.link(draft.name, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            os.unlink(draft.name)
    return path.read_text().strip()
