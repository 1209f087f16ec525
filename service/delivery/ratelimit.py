"""Send-rate limits per transport.

* Per second: an in-process token bucket shared by the senders of one worker process
  (``INNAN_SEND_RATE_PER_SECOND`` is per process; run one worker process per transport
  when a hard per-second cap matters).
* Per hour: a fixed-window counter in ``rate_counters`` (the same table as
  ``service.core.ratelimit``), shared by every worker process on the database. A worker
  reserves the slots for a whole claimed batch with one upsert, so the limit holds across
  processes without a round trip per message; rows it may not send now go back to the
  queue until the next window.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.core.models import RateCounter

HOUR = 3600


async def reserve(
    session: AsyncSession,
    key: str,
    wanted: int,
    limit: int,
    window_seconds: int = HOUR,
    *,
    now: float | None = None,
) -> tuple[int, float]:
    """Reserve up to ``wanted`` slots in this window; returns (granted, window_end).

    Slots asked for beyond the limit are given back, so the counter never exceeds it.
    """
    now = time.time() if now is None else now
    window = int(now // window_seconds) * window_seconds
    if wanted <= 0:
        return 0, float(window + window_seconds)
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(RateCounter)
        .values(key=key, window_start=window, count=wanted)
        .on_conflict_do_update(
            index_elements=[RateCounter.key, RateCounter.window_start],
            set_={"count": RateCounter.count + wanted},
        )
        .returning(RateCounter.count)
    )
    count = int((await session.execute(stmt)).scalar_one())
    granted = max(0, min(wanted, limit - (count - wanted)))
    if granted < wanted:
        from sqlalchemy import update

        await session.execute(
            update(RateCounter)
            .where(RateCounter.key == key, RateCounter.window_start == window)
            .values(count=RateCounter.count - (wanted - granted))
        )
    return granted, float(window + window_seconds)


class TokenBucket:
    """At most ``rate`` acquisitions per second on average (burst of one second)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = max(1.0, rate)
        self.updated = time.monotonic()
        self.lock = asyncio.Lock()

    async def acquire(self) -> None:
        if self.rate <= 0:
            return
        async with self.lock:
            while True:
                now = time.monotonic()
                self.tokens = min(
                    max(1.0, self.rate), self.tokens + (now - self.updated) * self.rate
                )
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)
