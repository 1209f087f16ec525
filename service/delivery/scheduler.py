"""The scheduler: one leader per deployment runs due sends and periodic jobs.

Leader election: on PostgreSQL ``pg_try_advisory_lock`` held on a dedicated connection
(released by the server when that connection dies, so a candidate takes over within
``RETRY_SECONDS``); on SQLite the single process is the leader. The leader runs
APScheduler (in-memory job store: the due time lives on the issue, ``Issue.scheduled_at``,
which is the truth, so a send that fell due while nothing ran starts at the first tick):

* due sends every 10 s (``service.delivery.service.start_due``),
* retention daily (``subscribers.service.run_retention``, the events domain's
  ``service.events.jobs.erase_expired``, and ``service.issues.service.purge_deleted``:
  drafts deleted more than 30 days ago),
* event registration every 5 min (``service.events.jobs.run_periodic``: update mails
  for changed items, expired offers, reminders),
* hourly clean-up of expired HTTP sessions, old rate counters, dead worker heartbeats
  finished mail-queue rows older than ``INNAN_MAIL_LOG_DAYS`` and, with the outbox
  transport, outbox files older than ``INNAN_OUTBOX_KEEP_DAYS``,
* bounce polling every 5 min when ``INNAN_BOUNCE_MAILBOX_URL`` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from service.db import session_scope, utcnow
from service.settings import Settings

log = logging.getLogger(__name__)

LOCK_KEY = 0x1AA4F0  # advisory lock id of the scheduler leader
RETRY_SECONDS = 10.0


class Scheduler:
    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        factory: async_sessionmaker[AsyncSession],
        *,
        due_interval: float = 10.0,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.factory = factory
        self.due_interval = due_interval
        self.is_leader = False

    # ------------------------------------------------------------------ jobs

    async def _in_session(self, fn: Callable[[AsyncSession], Awaitable[object]]) -> None:
        try:
            async with session_scope(self.factory) as session:
                await fn(session)
        except Exception:
            log.exception("scheduled job failed")

    async def due_sends(self) -> None:
        from service.delivery.service import start_due

        async def job(session: AsyncSession) -> None:
            started = await start_due(session, self.settings)
            if started:
                log.info("scheduled sends started: %s", started)

        await self._in_session(job)

    async def retention(self) -> None:
        from subscribers.service import run_retention

        async def job(session: AsyncSession) -> None:
            await run_retention(session, self.settings)

        await self._in_session(job)
        await self.events_retention()
        await self.deleted_issues()

    async def events_retention(self) -> None:
        from service.events.jobs import erase_expired

        async def job(session: AsyncSession) -> None:
            await erase_expired(session, self.settings)

        await self._in_session(job)

    async def deleted_issues(self) -> None:
        from service.issues.service import purge_deleted

        async def job(session: AsyncSession) -> None:
            purged = await purge_deleted(session)
            if purged:
                log.info("deleted drafts purged: %s", purged)

        await self._in_session(job)

    async def events(self) -> None:
        from service.events.jobs import run_periodic

        async def job(session: AsyncSession) -> None:
            done = await run_periodic(session, self.settings)
            if any(done.values()):
                log.info("event registration jobs: %s", done)

        await self._in_session(job)

    async def cleanup(self) -> None:
        from service.core.models import HttpSession
        from service.core.ratelimit import purge_old
        from service.delivery.models import WorkerHeartbeat
        from service.mail.queue import purge as purge_mail_log
        from service.mail.transport import prune_outbox

        async def job(session: AsyncSession) -> None:
            now = utcnow()
            await session.execute(delete(HttpSession).where(HttpSession.expires_at < now))
            await purge_old(session)
            await session.execute(
                delete(WorkerHeartbeat).where(WorkerHeartbeat.seen_at < now - timedelta(hours=1))
            )
            await purge_mail_log(session, self.settings, now=now)
            if self.settings.smtp_url is None:  # the outbox transport keeps copies
                await asyncio.to_thread(
                    prune_outbox, self.settings.outbox_dir, self.settings.outbox_keep_days * 86400
                )

        await self._in_session(job)

    async def poll_bounces(self) -> None:
        from service.delivery.bounces import MailboxError, poll

        try:
            await poll(self.settings)
        except MailboxError as exc:  # a configuration/server problem: one line, no traceback
            log.warning("bounce polling failed: %s", exc)
        except Exception:
            log.exception("bounce polling failed")

    def _make(self) -> AsyncIOScheduler:
        scheduler = AsyncIOScheduler(timezone="UTC")
        now = utcnow()
        common = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}
        scheduler.add_job(
            self.due_sends, "interval", seconds=self.due_interval, next_run_time=now, **common
        )
        scheduler.add_job(
            self.retention, "interval", hours=24, next_run_time=now + timedelta(minutes=1), **common
        )
        scheduler.add_job(
            self.events, "interval", minutes=5, next_run_time=now + timedelta(seconds=30), **common
        )
        scheduler.add_job(
            self.cleanup, "interval", hours=1, next_run_time=now + timedelta(minutes=2), **common
        )
        if self.settings.bounce_mailbox_url:
            scheduler.add_job(self.poll_bounces, "interval", minutes=5, next_run_time=now, **common)
        return scheduler

    # ------------------------------------------------------------------ leadership

    async def _try_lock(self, conn: AsyncConnection) -> bool:
        got = (await conn.execute(select(text(f"pg_try_advisory_lock({LOCK_KEY})")))).scalar()
        await conn.commit()
        return bool(got)

    async def run(self, stop: asyncio.Event) -> None:
        """Be a candidate until ``stop``: lead while we hold the lock, else retry."""
        if self.engine.dialect.name == "sqlite":
            await self._lead(stop, None)
            return
        while not stop.is_set():
            try:
                async with self.engine.connect() as conn:
                    if await self._try_lock(conn):
                        await self._lead(stop, conn)
            except Exception:
                log.exception("scheduler leadership lost")
            self.is_leader = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RETRY_SECONDS)

    async def _lead(self, stop: asyncio.Event, conn: AsyncConnection | None) -> None:
        scheduler = self._make()
        scheduler.start()
        self.is_leader = True
        log.info("this process is the scheduler leader")
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), RETRY_SECONDS)
                if conn is not None:
                    await conn.execute(text("SELECT 1"))  # raises when the connection died
                    await conn.commit()
        finally:
            self.is_leader = False
            scheduler.shutdown(wait=False)
