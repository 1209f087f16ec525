"""Database: declarative base, engine and session factory for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, DateTime, Integer, MetaData, any_, event, literal
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlalchemy.util import await_only

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# A 64-bit primary key on PostgreSQL; SQLite's rowid alias must be declared INTEGER.
BigId = BigInteger().with_variant(Integer, "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


# The largest value of an ``INTEGER`` primary key on PostgreSQL (32-bit). A number from a
# URL or a request body outside 1..MAX_ID names no row, and must not reach a query: the
# driver refuses it (asyncpg: out of int32 range; SQLite: above 64 bits) with an error.
MAX_ID = 2**31 - 1


def is_row_id(value: int) -> bool:
    """Whether ``value`` can be the id of a row (so it is safe to look up)."""
    return 1 <= value <= MAX_ID


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both backends (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Deleted rows are overwritten with zeros, not left in free pages: an erased
    # person's data must not be readable in the file afterwards (GDPR Art. 17).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


_WRITE_WORDS = ("INSERT", "UPDATE", "DELETE", "REPLACE", "BEGIN IMMEDIATE", "CREATE", "DROP")
_HOLDS_WRITE_LOCK = "innan_holds_write_lock"


class SqliteWriteQueue:
    """One SQLite writer at a time per process, in arrival order.

    SQLite allows one writer; a second one waits in SQLite's busy handler, which sleeps
    in growing steps (up to 100 ms) and retries, so under many concurrent writes a
    waiter can keep missing the lock: 16 concurrent signups gave a p99 of 2-3 s at
    under 200 signups/s. Here a write transaction first takes an asyncio lock, when
    its first writing statement is executed (pysqlite opens the transaction right
    then), and gives it back at commit or rollback: writers of this process queue in
    order and the next one starts the moment the lock is free. Writers in other
    processes still meet SQLite's own lock and busy handler.

    It runs in SQLAlchemy's synchronous events, inside the greenlet of the async
    session, so it waits with ``await_only``.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._lock: asyncio.Lock | None = None

    def _get(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    def before_execute(
        self, conn: Any, _cursor: Any, statement: str, *_args: Any, **_kwargs: Any
    ) -> None:
        if conn.info.get(_HOLDS_WRITE_LOCK):
            return
        head = statement.lstrip()[:16].upper()
        if not head.startswith(_WRITE_WORDS):
            return
        try:
            await_only(asyncio.wait_for(self._get().acquire(), self.timeout))
        except TimeoutError:
            raise OperationalError(statement, None, Exception("database is locked")) from None
        conn.info[_HOLDS_WRITE_LOCK] = True

    def release(self, conn: Any, *_args: Any) -> None:
        info = conn.info if hasattr(conn, "info") else None
        if info is not None and info.pop(_HOLDS_WRITE_LOCK, False):
            self._get().release()

    def release_record(self, _dbapi_connection: Any, record: Any) -> None:
        if record is not None and record.info.pop(_HOLDS_WRITE_LOCK, False):
            self._get().release()


def create_engine(database_url: str, *, pool_size: int = 10) -> AsyncEngine:
    """Engine with the right pragmas/pooling for the backend in ``database_url``."""
    if database_url.startswith("sqlite"):
        # Pooled connections: opening a SQLite connection (thread + pragmas) per request
        # cost more than the archive's whole query.
        engine = create_async_engine(
            database_url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=False,
            connect_args={"timeout": 15},
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        writers = SqliteWriteQueue(timeout=15)
        event.listen(engine.sync_engine, "before_cursor_execute", writers.before_execute)
        event.listen(engine.sync_engine, "commit", writers.release)
        event.listen(engine.sync_engine, "rollback", writers.release)
        # A connection handed back to the pool without commit or rollback of ours.
        event.listen(engine.sync_engine.pool, "checkin", writers.release_record)
        return engine
    return create_async_engine(
        database_url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


AfterCommit = Callable[[AsyncSession], Awaitable[None]]
_AFTER_COMMIT = "innan_after_commit"


def after_commit(session: AsyncSession, hook: AfterCommit) -> None:
    """Run ``hook(session)`` once the caller has committed the current work (by
    :func:`session_scope` or the request's ``db`` dependency); dropped on rollback.

    For work that must see the change committed and cannot be part of it, e.g. a WAL
    checkpoint after an erasure. Not for mail or other network I/O: that goes through
    the mail queue.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(hook)


def discard_after_commit(session: AsyncSession) -> None:
    session.info.pop(_AFTER_COMMIT, None)


async def run_after_commit(session: AsyncSession) -> None:
    """Run (and forget) the hooks registered with :func:`after_commit`; a failing hook is
    logged, never raised: the work it follows is already committed."""
    hooks: list[AfterCommit] = session.info.pop(_AFTER_COMMIT, [])
    for hook in hooks:
        try:
            await hook(session)
        except Exception:
            log.exception("after-commit hook %s failed", getattr(hook, "__name__", hook))


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session that commits on success and rolls back on error."""
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            discard_after_commit(session)
            await session.rollback()
            raise
        await run_after_commit(session)


async def checkpoint_sqlite(session: AsyncSession) -> None:
    """SQLite: copy the WAL into the database file and truncate it to zero bytes, so
    that rows just deleted (with ``secure_delete`` on, overwritten in the database file)
    are no longer readable in the ``-wal`` file either. No-op on PostgreSQL."""
    if not is_sqlite(session):
        return
    from sqlalchemy import text

    await session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    await session.commit()


async def begin_immediate(session: AsyncSession) -> None:
    """On SQLite, take the write lock now (short IMMEDIATE transactions); no-op elsewhere."""
    if session.bind is not None and session.bind.dialect.name == "sqlite":
        from sqlalchemy import text

        await session.execute(text("BEGIN IMMEDIATE"))


def is_sqlite(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "sqlite"


def any_of(
    session: AsyncSession,
    column: InstrumentedAttribute[Any],
    values: Sequence[Any],
    element_type: TypeEngine[Any],
) -> ColumnElement[bool]:
    """``column IN values``, as one array parameter (``= ANY($1)``) on PostgreSQL.

    An IN list is one bind parameter per value: SQLAlchemy renders it anew for every
    execution and PostgreSQL plans a new statement for every length. The array form is one
    prepared statement whatever the number of values. SQLite has no arrays: a plain IN.
    """
    if is_sqlite(session):
        return column.in_(values)
    return column == any_(literal(list(values), ARRAY(element_type)))
