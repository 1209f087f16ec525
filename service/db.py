"""Database: declarative base, engine and session factory for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, DateTime, MetaData, any_, event, literal
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute
from sqlalchemy.types import TypeDecorator, TypeEngine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


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
    cursor.close()


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
        return engine
    return create_async_engine(
        database_url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session that commits on success and rolls back on error."""
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


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
