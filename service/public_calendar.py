"""What other domains add to an item on the public calendar (``/kalender``, the item's
page ``/kalender/<id>``) and in an issue's calendar block.

The archive and issues domains render calendar items but may not import the domains
that know more about an item (event registration lives in ``service.events``, which
they must not import). Each entry of :data:`ITEM_NOTES` names an async function
``(session, item_ids) -> {item_id: ItemNote}`` as ``"module:attribute"``, resolved when
a page is built (as :mod:`service.personal_data` does for personal data), so importing
this module imports no domain.

The public pages are cached by a fingerprint of what they show (:mod:`archive.cache`).
A note may change with every registration (the seats left), so each entry of
:data:`NOTE_FINGERPRINTS` names a function returning a one-row aggregate ``Select``
whose values change whenever a note would; the cache asks it with the archive's and the
calendar's. A note that changes by the clock alone (registration opens or closes) says
when in ``expires_at``, and a page built with it is not served from the cache after
that.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class ItemNote:
    """A line under an item: ``label`` (a link to ``href``, or plain text when ``href``
    is empty) with a line of ``detail``. A newsletter's calendar block shows only the
    link ``mail_label`` to ``mail_href`` (a path; none when empty): a mail is read long
    after it is sent, so it carries no state that changes."""

    href: str
    label: str
    detail: str = ""
    expires_at: datetime | None = None  # the note changes then, by the clock alone
    mail_href: str = ""
    mail_label: str = ""


NoteSource = Callable[[AsyncSession, Sequence[int]], Awaitable[dict[int, ItemNote]]]
FingerprintSource = Callable[[], Select[Any]]

ITEM_NOTES: tuple[str, ...] = ("service.events.public:registration_notes",)
NOTE_FINGERPRINTS: tuple[str, ...] = ("service.events.public:fingerprint_select",)


def _resolve(name: str) -> Any:
    module, _, attribute = name.partition(":")
    return getattr(importlib.import_module(module), attribute)


async def notes_for(session: AsyncSession, item_ids: Sequence[int]) -> dict[int, list[ItemNote]]:
    """Every note of the items ``item_ids``, by item id."""
    found: dict[int, list[ItemNote]] = {}
    if not item_ids:
        return found
    for name in ITEM_NOTES:
        source = cast(NoteSource, _resolve(name))
        for item_id, note in (await source(session, item_ids)).items():
            found.setdefault(item_id, []).append(note)
    return found


def fingerprint_selects() -> list[Select[Any]]:
    """The one-row aggregates whose values change whenever a note does."""
    return [cast(FingerprintSource, _resolve(name))() for name in NOTE_FINGERPRINTS]


def notes_expire(notes: dict[int, list[ItemNote]]) -> datetime | None:
    """The first moment any of ``notes`` changes by the clock."""
    moments = [n.expires_at for found in notes.values() for n in found if n.expires_at]
    return min(moments, default=None)
