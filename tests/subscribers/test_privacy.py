"""The hook through which other domains' personal data joins export, erasure and
retention (``subscribers.privacy.PersonalData``), and the direction it keeps: the
subscribers package imports none of the domains that hold data about its people."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import utcnow
from service.delivery.privacy import RECORDS
from service.settings import Settings
from subscribers import service
from subscribers.models import Subscriber
from subscribers.privacy import export_data, load_holders

PACKAGE = Path(__file__).resolve().parents[2] / "subscribers"
# Domains that depend on subscribers; subscribers must never depend on them.
DOWNSTREAM = (
    "archive",
    "service.calendar",
    "service.delivery",
    "service.editor",
    "service.issues",
    "service.media",
    "service.ops",
)


@dataclass
class Notes:
    """A holder of its own: notes about a person, kept in memory for the test."""

    notes: dict[int, str] = field(default_factory=dict)
    erased_while_present: list[bool] = field(default_factory=list)

    async def export(self, session: AsyncSession, subscriber_id: int) -> dict[str, Any]:
        return {"notes": [self.notes[subscriber_id]]} if subscriber_id in self.notes else {}

    async def erase(self, session: AsyncSession, subscriber_id: int) -> None:
        present = await session.scalar(select(Subscriber.id).where(Subscriber.id == subscriber_id))
        self.erased_while_present.append(present is not None)
        self.notes.pop(subscriber_id, None)


def test_the_deployment_names_the_delivery_records() -> None:
    assert RECORDS in load_holders()


def test_a_name_that_is_no_holder_is_refused() -> None:
    with pytest.raises(TypeError, match="not a PersonalData holder"):
        load_holders(["service.personal_data:HOLDERS"])


async def test_export_and_erasure_reach_every_holder(
    session: AsyncSession, settings: Settings
) -> None:
    newsletter = await service.list_by_slug(session, "nyhetsbrev")
    assert newsletter is not None
    person = await service.add_confirmed(session, email="a@example.se", lists=[newsletter])
    await session.commit()
    notes = Notes({person.id: "ringde om kalendariet"})

    data = await export_data(session, person, holders=[notes, RECORDS])
    assert data["notes"] == ["ringde om kalendariet"]
    assert data["deliveries"] == [] and data["bounces"] == []
    assert list(data)[-1] == "pending_confirmations"  # the sections keep their order
    with pytest.raises(ValueError, match="notes"):
        await export_data(session, person, holders=[notes, notes])

    await service.erase(session, settings, person.id, actor="test", holders=[notes])
    await session.commit()
    assert notes.notes == {} and notes.erased_while_present == [True]


async def test_retention_reaches_every_holder(session: AsyncSession, settings: Settings) -> None:
    newsletter = await service.list_by_slug(session, "nyhetsbrev")
    assert newsletter is not None
    person = await service.add_confirmed(session, email="b@example.se", lists=[newsletter])
    await service.unsubscribe(session, settings, person.id, channel="one-click")
    person.unsubscribed_at = utcnow() - timedelta(days=settings.unsubscribed_days + 1)
    await session.commit()
    notes = Notes({person.id: "avslutad"})

    counts = await service.run_retention(session, settings, holders=[notes])
    await session.commit()
    assert counts["unsubscribed"] == 1
    assert notes.notes == {} and notes.erased_while_present == [True]


def _imported(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_subscribers_imports_no_domain_that_depends_on_it() -> None:
    found = {
        f"{path.name}: {name}"
        for path in sorted(PACKAGE.glob("*.py"))
        for name in _imported(path)
        if any(name == d or name.startswith(f"{d}.") for d in DOWNSTREAM)
    }
    assert not found
