"""``innanforskapet demo load``: demo content so a new user sees a real service at once.

Each domain that has demo content exposes ``async def load(session, settings) -> list[str]``
in its ``demo.py``; loading is idempotent (running it twice changes nothing).
"""

from __future__ import annotations

import importlib

import click
from sqlalchemy.ext.asyncio import AsyncSession

import service.models  # noqa: F401 - every model registered (foreign keys across domains)
from service.settings import Settings

DEMO_MODULES = (
    "subscribers.demo",
    "service.calendar.demo",
    "service.events.demo",
    "service.issues.demo",
)


async def load_all(session: AsyncSession, settings: Settings) -> list[str]:
    messages: list[str] = []
    for name in DEMO_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        messages.extend(await module.load(session, settings))
    return messages


def register(main: click.Group) -> None:
    @main.group()
    def demo() -> None:
        """Demo content."""

    @demo.command("load")
    def demo_load() -> None:
        """Load the demo lists, calendar items and the August 2019 issue (idempotent)."""
        from service.cli import get_settings, run_in_session

        settings = get_settings()

        async def go(session: AsyncSession) -> list[str]:
            return await load_all(session, settings)

        for line in run_in_session(settings, go):
            click.echo(line)
