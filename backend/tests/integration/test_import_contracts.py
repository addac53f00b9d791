"""The import contracts in pyproject.toml are live: a forbidden import breaks `lint-imports`.

Each case copies the app to a temporary folder, adds one import the house rules forbid,
and runs the same `lint-imports` that `make lint` runs against the copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def run_contracts(app_root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` with the repository's contracts over the app found in `app_root`."""
    env = {**os.environ, "PYTHONPATH": str(app_root)}
    return subprocess.run(
        [str(LINT_IMPORTS), str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=REPO, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip


@pytest.fixture
def app_copy(tmp_path: Path) -> Path:
    """A copy of backend/app to break; its parent folder goes on PYTHONPATH."""
    shutil.copytree(
        REPO / "backend" / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__")
    )
    return tmp_path


def test_the_app_as_it_stands_keeps_every_contract(app_copy: Path) -> None:
    result = run_contracts(app_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "forbidden_import", "complaint"),
    [
        (
            "core/settings.py",
            "import app.scheduler.engine",
            "app.core is not allowed to import app.scheduler",
        ),
        ("timing/zones.py", "import app.models", "app.timing is not allowed to import app.models"),
        (
            "api/pagination.py",
            "import app.schedules.service",
            "app.api is not allowed to import app.schedules",
        ),
        (
            "users/service.py",
            "import app.schedules.repository",
            "app.users is not allowed to import app.schedules",
        ),
        (
            "timing/lifecycle.py",
            "import sqlalchemy",
            "app.timing is not allowed to import sqlalchemy",
        ),
        (
            "scheduler/planning.py",
            "import cronsim",
            "app.scheduler.planning -> cronsim",
        ),
    ],
)
def test_a_forbidden_import_breaks_the_build(
    app_copy: Path, module: str, forbidden_import: str, complaint: str
) -> None:
    source = app_copy / "app" / module
    source.write_text(source.read_text() + f"\n{forbidden_import}  # noqa\n")
    result = run_contracts(app_copy)
    assert result.returncode == 1, result.stdout
    assert complaint in result.stdout
