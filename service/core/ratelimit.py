"""Fixed-window rate limits whose counters live in the database, shared by all instances."""

from __future__ import annotations

import time

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.core.models import RateCounter


async def hit(
    session: AsyncSession, key: str, limit: int, window_seconds: int, *, now: float | None = None
) -> bool:
    """Count one event for ``key``; return False when it is over ``limit`` in this window.

    The increment is a single upsert, so concurrent requests on several instances
    count correctly.
    """
    now = time.time() if now is None else now
    window = int(now // window_seconds) * window_seconds
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(RateCounter)
        .values(key=key, window_start=window, count=1)
        .on_conflict_do_update(
            index_elements=[RateCounter.key, RateCounter.window_start],
            set_={"count": RateCounter.count + 1},
        )
        .returning(RateCounter.count)
    )
    count = (await session.execute(stmt)).scalar_one()
    return int(count) <= limit


async def undo(
    session: AsyncSession, key: str, window_seconds: int, *, now: float | None = None
) -> None:
    """Take back one event counted by :func:`hit` with the same ``now`` (never below 0)."""
    now = time.time() if now is None else now
    window = int(now // window_seconds) * window_seconds
    await session.execute(
        update(RateCounter)
        .where(
            RateCounter.key == key,
            RateCounter.window_start == window,
            RateCounter.count > 0,
        )
        .values(count=RateCounter.count - 1)
    )


async def forget(session: AsyncSession, key: str) -> None:
    """Drop every count for ``key``."""
    await session.execute(delete(RateCounter).where(RateCounter.key == key))


async def purge_old(session: AsyncSession, older_than_seconds: int = 2 * 86400) -> int:
    cutoff = int(time.time()) - older_than_seconds
    result = await session.execute(delete(RateCounter).where(RateCounter.window_start < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
