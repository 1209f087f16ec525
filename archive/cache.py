"""Public pages and feeds kept in process memory while the published content is unchanged.

Every public archive/calendar request asks the database one cheap question — the
*fingerprint* of what is published (count, newest change and version sum of the public
issues and of the calendar items; both read from covering indexes) — and, when it
matches the fingerprint an entry was built under, answers with the stored bytes: no
session, no ORM, no template. Any publish, edit or withdrawal, by this process, another
web instance or the CLI, changes the fingerprint, so no instance serves a stale page
once the change is committed. Entries are evicted least-recently-used within a byte
budget.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select, true
from sqlalchemy.ext.asyncio import AsyncEngine

from archive import calendar
from archive import service as archive

DEFAULT_BUDGET_BYTES = 32 * 1024 * 1024
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Fingerprint:
    value: str
    archive_modified: datetime
    calendar_modified: datetime

    @property
    def last_modified(self) -> datetime:
        return max(self.archive_modified, self.calendar_modified)


@dataclass(frozen=True)
class Cached:
    """A public response body with what a conditional GET needs."""

    body: bytes
    media_type: str
    last_modified: datetime
    headers: dict[str, str] = field(default_factory=dict)
    etag: str = ""

    def __post_init__(self) -> None:
        if not self.etag:
            digest = hashlib.sha256(self.body).hexdigest()[:32]
            object.__setattr__(self, "etag", f'"{digest}"')


def _fingerprint_query() -> Select[Any]:
    """The archive's and the calendar's fingerprint rows side by side, in one query."""
    issues = archive.fingerprint_select().subquery()
    items = calendar.fingerprint_select().subquery()
    # Two one-row aggregates (a join on TRUE, not an accidental product).
    return select(issues, items).select_from(issues.join(items, true()))


class PublicCache:
    """Rendered public responses keyed by path and query, valid for one fingerprint."""

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[str, tuple[str, Cached]] = OrderedDict()
        self._bytes = 0
        self._query = _fingerprint_query()
        self._next: asyncio.Future[Fingerprint] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def fingerprint(self, engine: AsyncEngine) -> Fingerprint:
        """The fingerprint as of a moment after this call began.

        Concurrent callers share reads: everyone who arrives while a read is running
        waits for the next one, which starts after they arrived, so nobody is answered
        from a snapshot older than their request. Under load one query serves a whole
        wave of requests instead of one each.
        """
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (tests, a restarted server)
            self._loop, self._next, self._reader = loop, None, None
        waiting = self._next
        if waiting is None:
            waiting = self._next = loop.create_future()
            waiting.add_done_callback(_consume_exception)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_waves(engine))
        return await asyncio.shield(waiting)

    async def _read_waves(self, engine: AsyncEngine) -> None:
        while self._next is not None:
            wave, self._next = self._next, None  # later arrivals form the next wave
            try:
                found = await self._read(engine)
            except Exception as exc:  # every waiter of this wave gets the error
                wave.set_exception(exc)
            else:
                wave.set_result(found)

    async def _read(self, engine: AsyncEngine) -> Fingerprint:
        async with engine.connect() as conn:
            row = (await conn.execute(self._query)).one()
        updated, published, item_updated = row[1], row[2], row[5]
        archive_modified = max(
            [d for d in (updated, published) if isinstance(d, datetime)], default=EPOCH
        )
        calendar_modified = item_updated if isinstance(item_updated, datetime) else EPOCH
        return Fingerprint(
            value=f"{archive.fingerprint_text(row[:4])}|{calendar.fingerprint_text(row[4:])}",
            archive_modified=archive_modified,
            calendar_modified=calendar_modified,
        )

    def get(self, key: str, fingerprint: Fingerprint) -> Cached | None:
        found = self._entries.get(key)
        if found is None or found[0] != fingerprint.value:
            return None
        self._entries.move_to_end(key)
        return found[1]

    def put(self, key: str, fingerprint: Fingerprint, cached: Cached) -> None:
        if len(cached.body) > self.budget_bytes // 4:
            return  # one huge body must not push everything else out
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old[1].body)
        self._entries[key] = (fingerprint.value, cached)
        self._bytes += len(cached.body)
        while self._bytes > self.budget_bytes and self._entries:
            _key, (_fp, evicted) = self._entries.popitem(last=False)
            self._bytes -= len(evicted.body)

    @property
    def size_bytes(self) -> int:
        return self._bytes


def _consume_exception(future: asyncio.Future[Fingerprint]) -> None:
    """Mark a wave's error as seen even if all its waiters went away (no asyncio warning)."""
    if not future.cancelled():
        future.exception()
