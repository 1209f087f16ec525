"""What other domains add to an item on the public calendar page (``/kalender``).

The archive domain renders the public calendar but may not import the domains that
know more about an item (event registration lives in ``service.events``, which the
archive must not import). Each entry of :data:`ITEM_NOTES` names an async function
``(session, item_ids) -> {item_id: ItemNote}`` as ``"module:attribute"``, resolved
when the page is built (as :mod:`service.personal_data` does for personal data), so
importing this module imports no domain.

The page is cached by the calendar's fingerprint (:mod:`archive.cache`); a note must
therefore change only when a calendar item does. The events domain touches the item's
``updated_at`` when registration is turned on, changed or the event cancelled, and a
note carries nothing that changes with every registration (no seat counts).
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class ItemNote:
    """A link under an item: ``label`` to ``href``, with a line of ``detail``."""

    href: str
    label: str
    detail: str = ""


NoteSource = Callable[[AsyncSession, Sequence[int]], Awaitable[dict[int, ItemNote]]]

ITEM_NOTES: tuple[str, ...] = ("service.events.public:registration_notes",)


def _resolve(name: str) -> NoteSource:
    module, _, attribute = name.partition(":")
    return cast(NoteSource, getattr(importlib.import_module(module), attribute))


async def notes_for(session: AsyncSession, item_ids: Sequence[int]) -> dict[int, list[ItemNote]]:
    """Every note of the items ``item_ids``, by item id."""
    found: dict[int, list[ItemNote]] = {}
    if not item_ids:
        return found
    for name in ITEM_NOTES:
        for item_id, note in (await _resolve(name)(session, item_ids)).items():
            found.setdefault(item_id, []).append(note)
    return found
