"""Public pages and feeds kept in process memory while the published content is unchanged.

Every public archive/calendar request asks the database one cheap question — the
*fingerprint* of what is published (count, newest change and version sum of the public
issues and of the calendar items, both read from covering indexes, and whatever the
notes under calendar items depend on, :func:`service.public_calendar.fingerprint_selects`:
the events' seat counters) — and, when it
matches the fingerprint an entry was built under, answers with the stored bytes: no
session, no ORM, no template. Any publish, edit or withdrawal, by this process, another
web instance or the CLI, changes the fingerprint, so no instance serves a stale page
once the change is committed. An entry may also expire at a set moment (a calendar page
whose "Anmäl dig" changes when a registration opens or closes). Entries are evicted
least-recently-used within a byte budget.

Making the question cheaper (``bench/bench_archive.py`` measures it):

* SQLite: a connection held open only for ``PRAGMA data_version``, which changes when
  any other connection, in this process or another, commits. While it has not changed
  the last fingerprint still holds and no query is made (a commit of anything, not only
  of the archive, sends the next request to the query).
* PostgreSQL: the fingerprint is asked with statements prepared on a connection held
  open in autocommit, not on a pool checkout (which pings first) through the ORM's
  execution; a failed connection is replaced once. The full question also returns
  ``pg_current_snapshot()``; while the snapshot is the same, no transaction has
  committed on the server, and only the snapshot is asked (a commit of anything, in any
  database of the server, sends the next request to the full question).
* :class:`PublicFastPath` answers a repeated plain GET/HEAD of a cached URL before the
  framework sees it: the response the handler sent last time (status, headers, the
  cached body), replayed while the fingerprint and the entry are unchanged and for at
  most ``MEMO_SECONDS``, so whatever else a key depends on (the date, for the calendar)
  is derived anew at least that often. Conditional GETs, searches, anything the handler
  did not mark with :meth:`PublicCache.remember` and anything setting a cookie go
  through the framework as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import sqlite3
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select, true
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from archive import calendar
from archive import service as archive
from service.db import utcnow
from service.public_calendar import fingerprint_selects

log = logging.getLogger(__name__)

DEFAULT_BUDGET_BYTES = 32 * 1024 * 1024
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
MEMO_SECONDS = 1.0  # a replayed response is re-derived by its handler at least this often
MEMO_ENTRIES = 1024  # distinct (path, query) responses remembered for replay
_MARK = "innan.public_cache"  # scope["state"] key: (cache key, Cached) the handler sent


@dataclass(frozen=True)
class Fingerprint:
    value: str
    archive_modified: datetime
    calendar_modified: datetime

    @property
    def last_modified(self) -> datetime:
        return max(self.archive_modified, self.calendar_modified)


@dataclass(frozen=True, eq=False)
class Cached:
    """A public response body with what a conditional GET needs."""

    body: bytes
    media_type: str
    last_modified: datetime
    headers: dict[str, str] = field(default_factory=dict)
    etag: str = ""
    expires_at: datetime | None = None  # not served from the cache from then on

    def __post_init__(self) -> None:
        if not self.etag:
            digest = hashlib.sha256(self.body).hexdigest()[:32]
            object.__setattr__(self, "etag", f'"{digest}"')

    def expired(self) -> bool:
        return self.expires_at is not None and utcnow() >= self.expires_at


def _fingerprint_query() -> Select[Any]:
    """The archive's, the calendar's and the calendar notes' fingerprint rows side by
    side, in one query."""
    issues = archive.fingerprint_select().subquery()
    items = calendar.fingerprint_select().subquery()
    notes = [query.subquery() for query in fingerprint_selects()]
    # One-row aggregates (joins on TRUE, not an accidental product).
    joined = issues.join(items, true())
    for note in notes:
        joined = joined.join(note, true())
    return select(issues, items, *notes).select_from(joined)


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
        self._engine: AsyncEngine | None = None
        self._versions: _DataVersion | None = None  # SQLite
        self._known: tuple[int, Fingerprint] | None = None  # data_version it was read at
        self._held: AsyncConnection | None = None  # PostgreSQL
        self._statements: tuple[Any, Any] | None = None  # prepared on the held connection
        self._pg_known: tuple[str, Fingerprint] | None = None  # snapshot it was read at
        self._memo: OrderedDict[tuple[str, bytes], _Memo] = OrderedDict()
        self.queries = 0  # fingerprint queries made (tests, benchmarks)
        self.replayed = 0  # responses answered by PublicFastPath

    def _bind(self, engine: AsyncEngine) -> None:
        """Start over for another engine or event loop (tests, a restarted server)."""
        loop = asyncio.get_running_loop()
        if self._loop is loop and self._engine is engine:
            return
        if self._versions is not None:
            self._versions.close()
        # A held connection of another loop cannot be closed from this one; drop it.
        self._loop, self._next, self._reader = loop, None, None
        self._held, self._statements, self._pg_known = None, None, None
        self._engine, self._known, self._versions = engine, None, None
        if engine.dialect.name == "sqlite":
            database = engine.url.database or ""
            if database and database != ":memory:" and Path(database).exists():
                self._versions = _DataVersion(database)

    def fingerprint_now(self, engine: AsyncEngine) -> Fingerprint | None:
        """The current fingerprint if it is known without a query (SQLite), else None."""
        self._bind(engine)
        known, versions = self._known, self._versions
        if known is None or versions is None:
            return None
        return known[1] if versions.read() == known[0] else None

    async def fingerprint(self, engine: AsyncEngine) -> Fingerprint:
        """The fingerprint as of a moment after this call began.

        On SQLite, while ``PRAGMA data_version`` is what it was when the last fingerprint
        was read, that one is answered at once. Otherwise concurrent callers share
        reads: everyone who arrives while a read is running waits for the next one,
        which starts after they arrived, so nobody is answered from a snapshot older
        than their request. Under load one query serves a whole wave of requests
        instead of one each.
        """
        quick = self.fingerprint_now(engine)
        if quick is not None:
            return quick
        loop = asyncio.get_running_loop()
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
        if engine.dialect.name == "postgresql":
            return await self._read_held(engine)
        self.queries += 1
        if self._versions is not None:  # read before the query: a commit between is seen
            version = self._versions.read()
            async with engine.connect() as conn:
                row = (await conn.execute(self._query)).one()
            found = _fingerprint(row)
            self._known = None if version is None else (version, found)
            return found
        async with engine.connect() as conn:
            return _fingerprint((await conn.execute(self._query)).one())

    async def _read_held(self, engine: AsyncEngine) -> Fingerprint:
        """The fingerprint, asked on the held autocommit connection with statements
        prepared once on the driver (a third of the CPU of the ORM's execution).

        The full question also returns the statement's snapshot
        (``pg_current_snapshot()``: which transactions are visible). Next time only the
        snapshot is asked; while it is the same no transaction has committed anywhere
        on the server since, so neither has the fingerprint changed. A broken
        connection is replaced once (a restarted server, an idle timeout).
        """
        for attempt in (1, 2):
            if self._held is None:
                await self._hold(engine)
            held, statements = self._held, self._statements
            assert held is not None and statements is not None
            try:
                if self._pg_known is not None:
                    snapshot = await statements[0].fetchval()
                    if snapshot == self._pg_known[0]:
                        return self._pg_known[1]
                self.queries += 1
                row = tuple(await statements[1].fetchrow())
                found = _fingerprint(row[1:])
                self._pg_known = (row[0], found)
                return found
            except Exception:
                self._held, self._statements = None, None
                with contextlib.suppress(Exception):
                    await held.invalidate()
                    await held.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _hold(self, engine: AsyncEngine) -> None:
        conn = await engine.connect()
        try:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            driver: Any = (await conn.get_raw_connection()).driver_connection
            fingerprint = str(
                self._query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
            )
            snapshot = "pg_current_snapshot()::text"
            self._statements = (
                await driver.prepare(f"SELECT {snapshot}"),
                await driver.prepare(f"SELECT {snapshot}, fp.* FROM ({fingerprint}) AS fp"),
            )
        except BaseException:
            await conn.close()
            raise
        self._held = conn

    async def close(self) -> None:
        """Close the held connections (the app's shutdown; tests that made their own)."""
        held, self._held, self._statements = self._held, None, None
        if held is not None:
            with contextlib.suppress(Exception):
                await held.close()
        if self._versions is not None:
            self._versions.close()
        self._versions, self._known, self._engine, self._pg_known = None, None, None, None

    # --- replaying whole responses (PublicFastPath) -------------------------------

    def remember(self, scope: Any, key: str, cached: Cached) -> None:
        """Mark this request's response as replayable: it is ``cached``, filed as ``key``."""
        scope.setdefault("state", {})[_MARK] = (key, cached)

    def _record(self, scope: Any, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        mark = scope.get("state", {}).get(_MARK)
        if mark is None or status != 200 or scope.get("method") != "GET":
            return
        if any(bytes(name).lower() == b"set-cookie" for name, _ in headers):
            return
        key, cached = mark
        raw = (scope["path"], bytes(scope.get("query_string", b"")))
        self._memo[raw] = _Memo(key, weakref.ref(cached), headers, time.monotonic())
        self._memo.move_to_end(raw)
        while len(self._memo) > MEMO_ENTRIES:
            self._memo.popitem(last=False)

    def _replayable(
        self, raw: tuple[str, bytes], fingerprint: Fingerprint
    ) -> tuple[_Memo, Cached] | None:
        memo = self._memo.get(raw)
        if memo is None:
            return None
        if time.monotonic() - memo.recorded > MEMO_SECONDS:
            del self._memo[raw]
            return None
        cached = memo.cached()
        entry = self._entries.get(memo.key)
        if cached is None or entry is None or entry[1] is not cached:
            return None
        if entry[0] != fingerprint.value or cached.expired():
            return None
        return memo, cached

    def get(self, key: str, fingerprint: Fingerprint) -> Cached | None:
        found = self._entries.get(key)
        if found is None or found[0] != fingerprint.value or found[1].expired():
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


def _fingerprint(row: Any) -> Fingerprint:
    """Columns: the archive's four, the calendar's three, then the notes' aggregates
    (any number; each newest change among them counts as a change of the calendar)."""
    updated, published, item_updated = row[1], row[2], row[5]
    archive_modified = max(
        [d for d in (updated, published) if isinstance(d, datetime)], default=EPOCH
    )
    notes = tuple(row[7:])
    calendar_modified = max(
        [d for d in (item_updated, *notes) if isinstance(d, datetime)], default=EPOCH
    )
    value = f"{archive.fingerprint_text(row[:4])}|{calendar.fingerprint_text(row[4:7])}"
    return Fingerprint(
        value=value + "|" + ":".join(str(v) for v in notes),
        archive_modified=archive_modified,
        calendar_modified=calendar_modified,
    )


class _DataVersion:
    """A SQLite connection that only ever asks ``PRAGMA data_version`` (never writes).

    The value changes when another connection commits. In WAL mode the question takes no
    lock a writer holds, so it is asked on the event loop; ``timeout=0`` makes any
    surprise (a locked database, a checkpoint restarting the log) an immediate
    ``None``, i.e. "ask the database", never a wait.
    """

    def __init__(self, path: str) -> None:
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            path, timeout=0, isolation_level=None, check_same_thread=False
        )

    def read(self) -> int | None:
        if self._conn is None:
            return None
        try:
            value = self._conn.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:
            return None
        return int(value)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


@dataclass
class _Memo:
    key: str
    cached: weakref.ReferenceType[Cached]
    headers: list[tuple[bytes, bytes]]
    recorded: float


Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
_CONDITIONAL = (b"if-none-match", b"if-modified-since")


class PublicFastPath:
    """Wraps the app's ASGI handler: replays remembered public responses, records new ones.

    A GET or HEAD without conditional headers, whose path and query were answered by a
    handler that called :meth:`PublicCache.remember`, is answered with the same status
    and headers and the entry's body — after the same fingerprint check a handler makes,
    so a change committed anywhere is seen at once. Everything else, and any error on
    the way, goes to the wrapped handler unchanged.
    """

    def __init__(self, inner: ASGIApp, cache: PublicCache, engine: AsyncEngine) -> None:
        self.inner = inner
        self.cache = cache
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.inner(scope, receive, send)
            return
        raw = (scope["path"], scope["query_string"])
        if raw in self.cache._memo and not any(
            name in _CONDITIONAL for name, _ in scope["headers"]
        ):
            fingerprint = self.cache.fingerprint_now(self.engine)
            if fingerprint is None:
                try:
                    fingerprint = await self.cache.fingerprint(self.engine)
                except Exception:  # the handler meets it again and answers properly
                    fingerprint = None
            found = self.cache._replayable(raw, fingerprint) if fingerprint else None
            if found is not None:
                memo, cached = found
                self.cache.replayed += 1
                await send({"type": "http.response.start", "status": 200, "headers": memo.headers})
                body = cached.body if scope["method"] == "GET" else b""
                await send({"type": "http.response.body", "body": body})
                return
        await self.inner(scope, receive, self._recorder(scope, send))

    def _recorder(self, scope: Scope, send: Send) -> Send:
        async def recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(bytes(n), bytes(v)) for n, v in message.get("headers", ())]
                self.cache._record(scope, message["status"], headers)
            await send(message)

        return recording


@contextlib.asynccontextmanager
async def public_fast_path(app: Any) -> AsyncIterator[None]:
    """Lifespan hook: put :class:`PublicFastPath` in front of the app's handler for as
    long as the app runs; close the cache's held connections at shutdown."""
    cache: PublicCache = app.state.public_cache
    inner = app.asgi_handler
    app.asgi_handler = PublicFastPath(inner, cache, app.state.engine)
    try:
        yield
    finally:
        app.asgi_handler = inner
        await cache.close()


def _consume_exception(future: asyncio.Future[Fingerprint]) -> None:
    """Mark a wave's error as seen even if all its waiters went away (no asyncio warning)."""
    if not future.cancelled():
        future.exception()
