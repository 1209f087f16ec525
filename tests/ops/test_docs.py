"""The documentation says what the code does.

* The settings table in docs/operators.md and deploy/env.example are what
  ``python -m service.settings_doc`` generates from service/settings.py, every setting
  is declared there once, and each documented default is the real default.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import fields
from pathlib import Path

import pytest

from service import settings_doc
from service.settings import Settings, SettingsError, documented, load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------- settings


def test_generated_settings_docs_are_current() -> None:
    problems = []
    for path, text in settings_doc.expected().items():
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            diff = difflib.unified_diff(
                current.splitlines(), text.splitlines(), str(path), "generated", lineterm=""
            )
            problems.append("\n".join(list(diff)[:40]))
    assert not problems, "out of date: run .venv/bin/python -m service.settings_doc\n" + "\n".join(
        problems
    )


class _Recording(Mapping[str, str]):
    """An environment that remembers which variables were asked for."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return self.env[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.env)

    def __len__(self) -> int:
        return len(self.env)


def test_every_setting_is_declared_once_and_read(tmp_path: Path) -> None:
    declared = [doc.variable for _field, doc in documented()]
    assert len(declared) == len(fields(Settings)) == len(set(declared))
    env = _Recording({"INNAN_VAR_DIR": str(tmp_path)})
    load_settings(env)
    assert env.asked == set(declared)
    source = (REPO_ROOT / "service" / "settings.py").read_text(encoding="utf-8")
    named = set(re.findall(r"INNAN_[A-Z0-9_]+", source))
    assert named <= set(declared), f"named in settings.py, not declared: {named - set(declared)}"


@pytest.mark.parametrize("row", settings_doc.rows(), ids=lambda row: row.doc.variable)
def test_the_documented_default_is_the_default(tmp_path: Path, row: settings_doc.Row) -> None:
    if row.doc.shown_default is not None:
        pytest.skip("a default computed at start-up (checked below)")
    base = {"INNAN_VAR_DIR": str(tmp_path)}
    assert load_settings({**base, row.doc.variable: row.value}) == load_settings(base)


def test_computed_defaults(tmp_path: Path) -> None:
    s = load_settings({"INNAN_VAR_DIR": str(tmp_path)})
    assert s.database_url == f"sqlite+aiosqlite:///{tmp_path / 'innanforskapet.db'}"
    assert (s.outbox_dir, s.media_dir) == (tmp_path / "outbox", tmp_path / "media")
    assert s.privacy_url == "" and s.bounce_domain is None and s.dkim_domain is None
    assert s.embed_origins == ()
    assert (tmp_path / "secret_key").is_file()


def _env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines, as systemd's EnvironmentFile and compose's env_file read them."""
    env = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    return env


def test_env_example_is_a_production_configuration(tmp_path: Path) -> None:
    env = _env_file(REPO_ROOT / settings_doc.ENV_EXAMPLE)
    local = {
        "INNAN_VAR_DIR": str(tmp_path),
        "INNAN_OUTBOX_DIR": str(tmp_path / "outbox"),
        "INNAN_MEDIA_DIR": str(tmp_path / "media"),
    }
    with pytest.raises(SettingsError, match="INNAN_SECRET_KEY is required"):
        load_settings({**env, **local})
    s = load_settings({**env, **local, "INNAN_SECRET_KEY": "k" * 48})
    assert s.is_production and s.base_url.startswith("https://") and not s.is_sqlite
