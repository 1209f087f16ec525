"""Shared helpers for the operations tests: CLI runner with a test database's environment."""

from __future__ import annotations

from click.testing import Result

from service.settings import Settings
from tests.conftest import run_cli as run


async def arun(settings: Settings, *args: str, **extra_env: str) -> Result:
    """``run`` from an async test (the command starts its own event loop in a thread)."""
    import asyncio

    return await asyncio.to_thread(run, settings, *args, **extra_env)
