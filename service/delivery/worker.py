"""Delivery workers: claim a batch, personalise from the byte template, send, record.

One claim and one outcome write per batch (no database round trip per recipient).
PostgreSQL claims with ``FOR UPDATE SKIP LOCKED`` so several processes share an issue;
SQLite claims in a short ``BEGIN IMMEDIATE`` transaction. The subscriber is joined at
claim time, so an unsubscribe, erasure or suppression after the snapshot is honoured
(the row becomes ``skipped`` with the reason). Claimed rows carry ``claimed_at``, which
a live worker refreshes; rows whose claim is older than the lease (a dead worker) are
queued again, keeping their Message-ID.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db import begin_immediate, is_sqlite, utcnow
from service.delivery import ratelimit, verp
from service.delivery.models import Delivery, WorkerHeartbeat
from service.delivery.service import finish_if_done, suppressed_subscribers
from service.delivery.tokens import LinkTokens
from service.issues.models import Issue, IssueList
from service.mail.template import DkimSigner, IssueTemplate, Personal
from service.mail.transport import RecipientResult, Transport
from service.settings import Settings
from subscribers import links
from subscribers.models import MailingList, Subscriber, Subscription

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerConfig:
    batch_size: int = 200
    loops: int = 2  # concurrent claim/send loops in this process
    lease_seconds: float = 120.0
    retry_base_seconds: float = 60.0
    retry_max_seconds: float = 3600.0
    idle_sleep: float = 2.0


@dataclass
class Job:
    delivery_id: int
    attempts: int
    to: str
    personal: Personal
    result: RecipientResult | None = None


def backoff(config: WorkerConfig, attempts: int) -> float:
    return float(
        min(config.retry_max_seconds, config.retry_base_seconds * 2 ** max(0, attempts - 1))
    )


class Worker:
    """Sends queued deliveries of every issue that is ``sending`` and not paused."""

    def __init__(
        self,
        settings: Settings,
        factory: async_sessionmaker[AsyncSession],
        transport: Transport,
        config: WorkerConfig | None = None,
        *,
        worker_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.factory = factory
        self.transport = transport
        self.config = config or WorkerConfig(batch_size=settings.send_batch_size)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.bucket = ratelimit.TokenBucket(settings.send_rate_per_second)
        self.signer = DkimSigner.from_settings(settings)
        self.tokens = LinkTokens(settings)
        self.bounce_domain = verp.bounce_domain(settings)  # parsing mail_from costs ~100 µs
        self._templates: dict[int, tuple[datetime | None, IssueTemplate, list[int]]] = {}
        self._send_slots = asyncio.Semaphore(max(1, settings.smtp_pool_size))

    # ------------------------------------------------------------------ loops

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set: several claim/send loops plus the heartbeat."""
        tasks = [asyncio.create_task(self._loop(stop)) for _ in range(self.config.loops)]
        tasks.append(asyncio.create_task(self._heartbeat(stop)))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()

    async def _loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                done = await self.run_once()
            except Exception:  # a worker must survive a bad batch or a lost database
                log.exception("delivery batch failed")
                done = 0
            if done == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.config.idle_sleep)

    async def _heartbeat(self, stop: asyncio.Event) -> None:
        interval = max(0.5, self.config.lease_seconds / 3)
        while not stop.is_set():
            try:
                await self.beat()
            except Exception:
                log.exception("heartbeat failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    async def beat(self) -> None:
        """Refresh our claims and heartbeat; re-queue claims of workers that died."""
        now = utcnow()
        async with self.factory() as session:
            await begin_immediate(session)
            await session.execute(
                update(Delivery)
                .where(Delivery.claimed_by == self.worker_id, Delivery.state == "sending")
                .values(claimed_at=now)
            )
            await self.requeue_stale(session, now)
            hb = await session.get(WorkerHeartbeat, self.worker_id)
            if hb is None:
                session.add(
                    WorkerHeartbeat(
                        worker_id=self.worker_id, hostname=socket.gethostname(), seen_at=now
                    )
                )
            else:
                hb.seen_at = now
            await session.commit()

    async def requeue_stale(self, session: AsyncSession, now: datetime) -> int:
        result = await session.execute(
            update(Delivery)
            .where(
                Delivery.state == "sending",
                Delivery.claimed_at < now - timedelta(seconds=self.config.lease_seconds),
            )
            .values(state="retry", next_attempt_at=now, claimed_by=None)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def drain(self, *, max_rounds: int = 10_000) -> int:
        """Send until nothing is claimable now (tests, CLI ``--once``); returns rows handled."""
        total = 0
        for _ in range(max_rounds):
            done = await self.run_once()
            if done == 0:
                break
            total += done
        return total

    # ------------------------------------------------------------------ one batch

    async def run_once(self) -> int:
        async with self.factory() as session:
            issue_ids = [
                int(i)
                for i in (
                    await session.execute(
                        select(Issue.id)
                        .where(Issue.status == "sending", Issue.paused.is_(False))
                        .order_by(Issue.id)
                    )
                ).scalars()
            ]
        handled = 0
        for issue_id in issue_ids:
            jobs, skipped = await self._claim(issue_id)
            handled += skipped
            if jobs:
                template = await self._template(issue_id)
                await asyncio.gather(*(self._send(template, job) for job in jobs))
                await self._record(issue_id, jobs)
                handled += len(jobs)
            else:  # nothing sent now: the issue may be complete (e.g. an empty audience)
                async with self.factory() as session:
                    await finish_if_done(session, issue_id)
                    await session.commit()
        return handled

    async def _template(self, issue_id: int) -> IssueTemplate:
        async with self.factory() as session:
            cached = self._templates.get(issue_id)
            if cached is not None:
                # One small column per batch; the issue row carries the rendered HTML.
                rendered_at = await session.scalar(
                    select(Issue.rendered_at).where(Issue.id == issue_id)
                )
                if cached[0] == rendered_at:
                    return cached[1]
            issue = await session.get(Issue, issue_id)
            assert issue is not None
            list_ids = list(issue.list_ids)
            first = (
                await session.execute(
                    select(MailingList.slug, MailingList.name)
                    .join(IssueList, IssueList.list_id == MailingList.id)
                    .where(IssueList.issue_id == issue.id)
                    .order_by(MailingList.sort_order, MailingList.id)
                    .limit(1)
                )
            ).first()
            slug = str(first[0]) if first else "nyhetsbrev"
            template = IssueTemplate.build(
                self.settings,
                subject=(issue.subject or issue.title).strip(),
                text=issue.rendered_text or "",
                html=issue.rendered_html or "",
                list_id=f"{slug}.{self.settings.mail_domain}",
                list_name=str(first[1]) if first else self.settings.org_name,
                feedback_id=f"{issue.slug or issue.id}:{slug}:innanforskapet",
            )
            self._templates = {issue_id: (issue.rendered_at, template, list_ids)}
            return template

    async def _claim(self, issue_id: int) -> tuple[list[Job], int]:
        """Claim a batch; returns the jobs to send and how many rows were skipped."""
        now = utcnow()
        async with self.factory() as session:
            await begin_immediate(session)
            candidates = (
                select(Delivery.id)
                .where(
                    Delivery.issue_id == issue_id,
                    Delivery.state.in_(("queued", "retry")),
                    (Delivery.next_attempt_at.is_(None)) | (Delivery.next_attempt_at <= now),
                )
                .limit(self.config.batch_size)
            )
            if is_sqlite(session):
                candidates = candidates.order_by(Delivery.id)
            else:
                # No ORDER BY: the claim index hands out the first open rows directly;
                # sorting by id would sort every open row of the issue on each claim.
                candidates = candidates.with_for_update(skip_locked=True)
            claimed = [
                int(i)
                for i in (
                    await session.execute(
                        update(Delivery)
                        .where(Delivery.id.in_(candidates.scalar_subquery()))
                        .values(
                            state="sending",
                            claimed_by=self.worker_id,
                            claimed_at=now,
                            attempts=Delivery.attempts + 1,
                            updated_at=now,
                        )
                        .returning(Delivery.id)
                        .execution_options(synchronize_session=False)
                    )
                ).scalars()
            ]
            if not claimed:
                await session.commit()
                return [], 0
            active = (
                exists()
                .where(Subscription.subscriber_id == Subscriber.id)
                .where(Subscription.status == "active")
                .where(
                    Subscription.list_id.in_(
                        select(IssueList.list_id).where(IssueList.issue_id == issue_id)
                    )
                )
            )
            rows = (
                await session.execute(
                    select(
                        Delivery.id,
                        Delivery.message_id,
                        Delivery.attempts,
                        Subscriber.id,
                        Subscriber.email,
                        Subscriber.name,
                        Subscriber.status,
                        Subscriber.token_version,
                        active.label("active"),
                    )
                    .outerjoin(Subscriber, Subscriber.id == Delivery.subscriber_id)
                    .where(Delivery.id.in_(claimed))
                    .order_by(Delivery.id)
                )
            ).all()
            skips: list[dict[str, Any]] = []
            ready: list[Any] = []
            for row in rows:
                if row[3] is None:
                    skips.append(_skip(row[0], "mottagaren är raderad", now))
                elif row[6] != "active":
                    skips.append(_skip(row[0], f"mottagarens status är {row[6]}", now))
                elif not row[8]:
                    skips.append(_skip(row[0], "mottagaren har avregistrerat sig", now))
                else:
                    ready.append(row)
            suppressed = await suppressed_subscribers(
                session, self.settings, [(int(r[3]), str(r[4])) for r in ready]
            )
            jobs: list[Job] = []
            for row in ready:
                if int(row[3]) in suppressed:
                    skips.append(_skip(row[0], "adressen är spärrad", now))
                    continue
                sid, version = int(row[3]), int(row[7])
                token = self.tokens.token(links.UNSUBSCRIBE_PURPOSE, sid, version)
                jobs.append(
                    Job(
                        delivery_id=int(row[0]),
                        attempts=int(row[2]),
                        to=str(row[4]),
                        personal=Personal(
                            to=str(row[4]),
                            message_id=str(row[1]),
                            # Both List-Unsubscribe targets carry one token (signed once);
                            # same shape as links.unsubscribe_url/unsubscribe_mailto.
                            unsubscribe_url=self.settings.url(f"/avregistrera/{token}"),
                            unsubscribe_mailto=(
                                f"mailto:unsubscribe@{self.bounce_domain}"
                                f"?subject=unsubscribe%20{token}"
                            ),
                            name=str(row[5] or ""),
                            prefs_url=self.settings.url(
                                "/installningar/"
                                + self.tokens.token(links.PREFS_PURPOSE, sid, version)
                            ),
                        ),
                    )
                )
            if jobs and self.settings.send_rate_per_hour > 0:
                granted, window_end = await ratelimit.reserve(
                    session,
                    f"send:{self.transport.name}",
                    len(jobs),
                    self.settings.send_rate_per_hour,
                )
                if granted < len(jobs):
                    later = jobs[granted:]
                    jobs = jobs[:granted]
                    await session.execute(
                        update(Delivery),
                        [
                            {
                                "id": job.delivery_id,
                                "state": "queued",
                                "attempts": job.attempts - 1,
                                "claimed_by": None,
                                "next_attempt_at": datetime.fromtimestamp(window_end, now.tzinfo),
                            }
                            for job in later
                        ],
                    )
            if skips:
                await session.execute(update(Delivery), skips)
            await session.commit()
        return jobs, len(skips)

    async def _send(self, template: IssueTemplate, job: Job) -> None:
        await self.bucket.acquire()
        async with self._send_slots:
            try:
                wire = template.wire(job.personal, signer=self.signer)
                result = await self.transport.send_prepared(
                    verp.return_path(self.settings, job.delivery_id, self.bounce_domain),
                    [job.to],
                    wire,
                )
                job.result = result.per_recipient.get(job.to) or RecipientResult(
                    451, "no reply for recipient"
                )
            except Exception as exc:  # never lose a row to an unexpected error
                log.exception("send failed")
                job.result = RecipientResult(451, f"sändningsfel: {exc}")

    async def _record(self, issue_id: int, jobs: list[Job]) -> None:
        now = utcnow()
        sent_ids: list[int] = []
        others: list[dict[str, Any]] = []
        for job in jobs:
            r = job.result or RecipientResult(451, "no result")
            reply = f"{r.code} {r.message}"[:2000]
            if r.ok:
                sent_ids.append(job.delivery_id)
            elif r.temporary and job.attempts < self.settings.send_max_attempts:
                others.append(
                    {
                        "id": job.delivery_id,
                        "state": "retry",
                        "last_reply": reply,
                        "claimed_by": None,
                        "next_attempt_at": now
                        + timedelta(seconds=backoff(self.config, job.attempts)),
                        "updated_at": now,
                    }
                )
            else:
                others.append(
                    {
                        "id": job.delivery_id,
                        "state": "failed",
                        "last_reply": reply,
                        "claimed_by": None,
                        "updated_at": now,
                    }
                )
        async with self.factory() as session:
            await begin_immediate(session)
            if sent_ids:
                await session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(sent_ids))
                    .values(
                        state="sent",
                        sent_at=now,
                        last_reply="250 ok",
                        claimed_by=None,
                        updated_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
            if others:
                await session.execute(update(Delivery), others)
            await finish_if_done(session, issue_id)
            await session.commit()


def _skip(delivery_id: int, reason: str, now: datetime) -> dict[str, Any]:
    return {
        "id": int(delivery_id),
        "state": "skipped",
        "last_reply": reason,
        "claimed_by": None,
        "updated_at": now,
    }
