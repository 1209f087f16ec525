"""``INNAN_LOG_LEVEL`` sets what every command logs, not only the web server's lines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CLI = (sys.executable, "-c", "from service.cli import main; main()")


def _upgrade(tmp_path: Path, level: str) -> subprocess.CompletedProcess[str]:
    var = tmp_path / level
    env = os.environ | {
        "INNAN_ENV": "test",
        "INNAN_VAR_DIR": str(var),
        "INNAN_DATABASE_URL": f"sqlite+aiosqlite:///{var}/innan.db",
        "INNAN_LOG_LEVEL": level,
    }
    return subprocess.run(
        [*CLI, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120, check=True
    )


def test_the_level_reaches_the_services_own_loggers(tmp_path: Path) -> None:
    chatty = _upgrade(tmp_path, "INFO")
    assert " INFO alembic" in chatty.stderr  # the migrations say what they run
    quiet = _upgrade(tmp_path, "WARNING")
    assert " INFO " not in quiet.stderr, quiet.stderr
    assert "Databasen är uppgraderad till head." in quiet.stdout
