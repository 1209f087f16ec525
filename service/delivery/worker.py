"""Delivery workers: claim ahead, send over the SMTP pool, record outcomes in batches.

A worker is a small pipeline in one event loop, so the SMTP connections never wait for
the database:

* the *feeder* claims a batch of ledger rows whenever fewer than two batches are claimed
  and not yet recorded, so one batch waits while the other is sent (at most three batches
  are in flight: two claimed ahead plus the one being recorded);
* one *sender* per SMTP pool connection takes the next job, personalises the pre-rendered
  issue (byte template) and sends it;
* the *recorder* writes the outcomes, a batch at a time (at the latest every
  ``flush_seconds``), and marks an issue sent when its last row is done.

PostgreSQL claims with ``FOR UPDATE SKIP LOCKED`` so several processes share an issue;
SQLite claims in a short ``BEGIN IMMEDIATE`` transaction. The subscriber is joined at
claim time, so an unsubscribe, erasure or suppression after the snapshot is honoured
(the row becomes ``skipped`` with the reason). Claimed rows carry ``claimed_at``, which
a live worker refreshes; rows whose claim is older than the lease (a dead worker) are
queued again, keeping their Message-ID. Jobs that still wait when their issue is paused
or cancelled, or when the worker stops, are handed back unsent.
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

from sqlalchemy import BigInteger, ColumnElement, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db import any_of, begin_immediate, is_sqlite, utcnow
from service.delivery import outbound, ratelimit, verp
from service.delivery.models import Delivery, WorkerHeartbeat
from service.delivery.outbound import OutboundConfig, OutboundWorker
from service.delivery.service import (
    CANCELLED_REASON,
    finish_if_done,
    halt,
    suppressed_subscribers,
)
from service.delivery.tokens import LinkTokens
from service.errors import DomainError
from service.issues.models import Issue, IssueList
from service.mail.dkim import DkimSigner
from service.mail.models import QueuedMail
from service.mail.template import IssueTemplate, Personal
from service.mail.transport import RecipientResult, Transport
from service.settings import Settings
from subscribers import links
from subscribers.models import MailingList, Subscriber, Subscription

log = logging.getLogger(__name__)

RECORD_ATTEMPTS = 5  # a lost database connection is retried before outcomes are given up
BUILD_FAILED_PREFIX = "Utskicket är pausat: brevet kunde inte byggas."
BUILD_FAILED = "Ett internt fel inträffade (se loggen)."
AHEAD = 2  # batches claimed and not yet recorded before the feeder waits for the recorder


@dataclass(frozen=True)
class WorkerConfig:
    batch_size: int = 200
    lease_seconds: float = 120.0
    retry_base_seconds: float = 60.0
    retry_max_seconds: float = 3600.0
    idle_sleep: float = 2.0
    flush_seconds: float = 0.25  # the longest an outcome waits in memory before it is written


@dataclass
class Job:
    """A claimed row. Its links are signed by the sender, just before it is sent, so that
    claiming a batch is a short pause for the event loop, not a burst of HMACs."""

    delivery_id: int
    issue_id: int
    attempts: int
    to: str
    name: str
    message_id: str
    subscriber_id: int
    token_version: int
    template: IssueTemplate | None = None
    result: RecipientResult | None = None  # None after the sender: handed back unsent


def backoff(config: WorkerConfig, attempts: int) -> float:
    return float(
        min(config.retry_max_seconds, config.retry_base_seconds * 2 ** max(0, attempts - 1))
    )


class _Run:
    """What one pipeline run shares between the feeder, the senders and the recorder."""

    def __init__(self, stop: asyncio.Event) -> None:
        self.stop = stop  # once set, no new message is started
        self.queue: asyncio.Queue[Job | None] = asyncio.Queue()  # claimed, waiting to be sent
        self.done: list[Job] = []  # sent (or handed back), outcome not yet written
        self.active: set[int] = set()  # issues that may be sent now (not paused or cancelled)
        self.pending = 0  # claimed and not yet recorded
        self.sending = 0  # taken from the queue by a sender, not yet done
        self.handled = 0  # rows given a final or retry state
        self.closing = False
        self.flush = asyncio.Event()  # write the outcomes now
        self.recorded = asyncio.Event()  # outcomes were written


async def _wait_any(*events: asyncio.Event, seconds: float | None) -> None:
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


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
        self.return_paths = verp.ReturnPaths(settings)
        self.senders = max(1, settings.smtp_pool_size)  # one per SMTP connection
        self._templates: dict[int, tuple[datetime | None, IssueTemplate]] = {}
        # The transactional mail queue, sent beside the newsletters with the same pool,
        # rate limits, signer and worker id (so the heartbeat keeps its claims too).
        self.outbound = OutboundWorker(
            settings,
            factory,
            transport,
            worker_id=self.worker_id,
            config=OutboundConfig(
                retry_base_seconds=self.config.retry_base_seconds,
                retry_max_seconds=self.config.retry_max_seconds,
                idle_sleep=self.config.idle_sleep,
            ),
            bucket=self.bucket,
            signer=self.signer,
        )

    # ------------------------------------------------------------------ running

    async def run(self, stop: asyncio.Event) -> None:
        """Send until ``stop`` is set, beating the heartbeat that keeps our claims ours."""
        try:
            await self.reclaim_dead_local()
        except Exception:
            log.exception("reclaiming the claims of dead workers on this machine failed")
        heartbeat = asyncio.create_task(self._heartbeat(stop))
        try:
            await asyncio.gather(self._pipeline(stop, until_idle=False), self.outbound.run(stop))
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def drain(self) -> int:
        """Send until nothing is claimable now (tests, CLI ``--once``); returns rows handled."""
        return await self._pipeline(asyncio.Event(), until_idle=True)

    async def _pipeline(self, stop: asyncio.Event, *, until_idle: bool) -> int:
        run = _Run(stop)
        senders = [asyncio.create_task(self._sender(run)) for _ in range(self.senders)]
        recorder = asyncio.create_task(self._recorder(run))
        try:
            await self._feed(run, until_idle=until_idle)
        finally:
            # Hand back what still waits, let the sends under way finish, write everything.
            while not run.queue.empty():
                job = run.queue.get_nowait()
                if job is not None:
                    run.done.append(job)
            for _ in senders:
                run.queue.put_nowait(None)
            await asyncio.gather(*senders)
            run.closing = True
            run.flush.set()
            await recorder
        return run.handled

    async def _feed(self, run: _Run, *, until_idle: bool) -> None:
        stop = run.stop
        while not stop.is_set():
            run.recorded.clear()
            if run.pending >= AHEAD * self.config.batch_size:
                await _wait_any(run.recorded, stop, seconds=self.config.idle_sleep)
                if not run.recorded.is_set():  # slow sends: notice a pause or cancel anyway
                    with contextlib.suppress(Exception):
                        run.active = set(await self._sendable_issues())
                continue
            try:
                claimed = await self._claim_round(run)
            except Exception:  # a worker must survive a bad batch or a lost database
                log.exception("claiming deliveries failed")
                await _wait_any(stop, seconds=self.config.idle_sleep)
                continue
            if claimed or run.recorded.is_set():
                # Outcomes written while we claimed may have made a retry due: look again.
                continue
            if run.pending:
                # Outcomes still to be written may finish an issue or make a retry due.
                await _wait_any(run.recorded, stop, seconds=self.config.idle_sleep)
            elif until_idle:
                return
            else:
                await _wait_any(stop, seconds=self.config.idle_sleep)

    async def _claim_round(self, run: _Run) -> bool:
        """Claim one batch of each issue being sent; False when nothing was claimable."""
        issue_ids = await self._sendable_issues()
        run.active = set(issue_ids)
        self._templates = {k: v for k, v in self._templates.items() if k in run.active}
        claimed = False
        for issue_id in issue_ids:
            try:  # before claiming: a message that cannot be built leaves nothing claimed
                template = await self._template(issue_id)
            except Exception as exc:
                await self._halt(issue_id, exc)
                run.active.discard(issue_id)
                continue
            jobs, skipped = await self._claim(issue_id)
            run.handled += skipped
            claimed = claimed or bool(jobs or skipped)
            if not jobs:  # nothing to send now: the issue may be complete (or all skipped)
                async with self.factory() as session:
                    await finish_if_done(session, issue_id)
                    await session.commit()
                continue
            run.pending += len(jobs)
            for job in jobs:
                job.template = template
                run.queue.put_nowait(job)
        return claimed

    async def _halt(self, issue_id: int, exc: Exception) -> None:
        log.exception("the message of issue %s cannot be built; its send is paused", issue_id)
        reason = exc.message if isinstance(exc, DomainError) else BUILD_FAILED
        async with self.factory() as session:
            await halt(session, issue_id, f"{BUILD_FAILED_PREFIX} {reason}")
            await session.commit()

    async def _sendable_issues(self) -> list[int]:
        async with self.factory() as session:
            query = (
                select(Issue.id)
                .where(Issue.status == "sending", Issue.paused.is_(False))
                .order_by(Issue.id)
            )
            return [int(i) for i in (await session.execute(query)).scalars()]

    async def _sender(self, run: _Run) -> None:
        batch = self.config.batch_size
        while (job := await run.queue.get()) is not None:
            run.sending += 1
            # Else paused or cancelled while it waited, or we are stopping: handed back.
            if job.issue_id in run.active and not run.stop.is_set():
                await self._send(job)
            run.sending -= 1
            run.done.append(job)
            if len(run.done) >= batch or (run.queue.empty() and not run.sending):
                run.flush.set()  # a batch, or the last of the work

    async def _recorder(self, run: _Run) -> None:
        while True:
            await _wait_any(run.flush, seconds=self.config.flush_seconds)
            run.flush.clear()
            if run.done:
                jobs, run.done = run.done, []
                await self._write(jobs)
                run.pending -= len(jobs)
                run.handled += sum(1 for job in jobs if job.result is not None)
                run.recorded.set()
            elif run.closing:
                return

    async def _write(self, jobs: list[Job]) -> None:
        for attempt in range(RECORD_ATTEMPTS):
            try:
                await self._record(jobs)
                return
            except Exception:
                log.exception("writing %d delivery outcomes failed", len(jobs))
                await asyncio.sleep(min(10.0, 0.5 * 2**attempt))
        # The rows stay "sending": when our lease runs out they are queued again and sent
        # with the same Message-ID, so nobody is skipped.
        log.error("gave up writing %d delivery outcomes; they will be sent again", len(jobs))

    async def _heartbeat(self, stop: asyncio.Event) -> None:
        interval = max(0.5, self.config.lease_seconds / 3)
        while not stop.is_set():
            try:
                await self.beat()
            except Exception:
                log.exception("heartbeat failed")
            await _wait_any(stop, seconds=interval)

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
            await outbound.refresh_claims(session, self.worker_id, now)
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
        """Queue again the claims (newsletter and mail queue) whose lease ran out."""
        older_than = now - timedelta(seconds=self.config.lease_seconds)
        result = await session.execute(
            update(Delivery)
            .where(Delivery.state == "sending", Delivery.claimed_at < older_than)
            .values(state="retry", next_attempt_at=now, claimed_by=None)
        )
        # A cancel skips queued rows; a dead worker's claims of a cancelled issue are
        # skipped here, instead of waiting as retries that nothing will send.
        await session.execute(
            update(Delivery)
            .where(
                Delivery.state == "retry",
                Delivery.claimed_by.is_(None),
                Delivery.issue_id.in_(select(Issue.id).where(Issue.status == "cancelled")),
            )
            .values(state="skipped", last_reply=CANCELLED_REASON, updated_at=now)
        )
        mails = await outbound.requeue_claims(session, now=now, older_than=older_than)
        return int(result.rowcount or 0) + mails  # type: ignore[attr-defined]

    async def reclaim_dead_local(self) -> int:
        """At start: queue again at once what a dead worker *on this machine* had claimed.

        A worker id is ``host:pid:random``; a claim by this host whose process no longer
        exists cannot be in flight (the process that sent it is gone), so it need not wait
        for its lease to run out. Claims of other hosts still wait for the lease.
        """
        host = socket.gethostname()
        now = utcnow()
        requeued = 0
        async with self.factory() as session:
            await begin_immediate(session)
            owners: set[str] = set()
            for model in (Delivery, QueuedMail):
                found = await session.execute(
                    select(model.claimed_by)
                    .where(model.state == "sending", model.claimed_by.like(f"{host}:%"))
                    .distinct()
                )
                owners.update(str(o) for o in found.scalars() if o)
            for owner in sorted(owners):
                if owner == self.worker_id or _process_alive(owner, host):
                    continue
                result = await session.execute(
                    update(Delivery)
                    .where(Delivery.state == "sending", Delivery.claimed_by == owner)
                    .values(state="retry", next_attempt_at=now, claimed_by=None)
                )
                requeued += int(result.rowcount or 0)  # type: ignore[attr-defined]
                requeued += await outbound.requeue_claims(session, now=now, claimed_by=owner)
            await session.commit()
        if requeued:
            log.info("queued again %d rows claimed by dead workers on %s", requeued, host)
        return requeued

    # ------------------------------------------------------------------ one batch

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
            self._templates[issue_id] = (issue.rendered_at, template)
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
                # No ORDER BY: the claim index hands out the first open rows directly
                # (queued rows in id order); sorting by id would sort every open row of
                # the issue on each claim (16 ms for 30 000 rows on SQLite).
                .limit(self.config.batch_size)
            )
            if not is_sqlite(session):
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
            # A scalar subquery with LIMIT 1, not EXISTS: PostgreSQL turns an EXISTS into
            # a hashed subplan over every active subscription of the issue's lists, built
            # again on each claim (14 ms per batch at 30 000 subscribers, growing with the
            # audience); this is one primary-key probe per claimed row.
            active = (
                select(literal(1))
                .where(Subscription.subscriber_id == Subscriber.id)
                .where(Subscription.status == "active")
                .where(
                    Subscription.list_id.in_(
                        select(IssueList.list_id).where(IssueList.issue_id == issue_id)
                    )
                )
                .limit(1)
                .scalar_subquery()
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
                    .where(_delivery_ids(session, claimed))
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
                jobs.append(
                    Job(
                        delivery_id=int(row[0]),
                        issue_id=issue_id,
                        attempts=int(row[2]),
                        to=str(row[4]),
                        name=str(row[5] or ""),
                        message_id=str(row[1]),
                        subscriber_id=int(row[3]),
                        token_version=int(row[7]),
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

    def personal(self, job: Job) -> Personal:
        unsubscribe, prefs = self.tokens.tokens(
            (links.UNSUBSCRIBE_PURPOSE, links.PREFS_PURPOSE), job.subscriber_id, job.token_version
        )
        return Personal(
            to=job.to,
            message_id=job.message_id,
            # Both List-Unsubscribe targets carry one token (signed once); same shape as
            # links.unsubscribe_url/unsubscribe_mailto.
            unsubscribe_url=self.settings.url(f"/avregistrera/{unsubscribe}"),
            unsubscribe_mailto=(
                f"mailto:unsubscribe@{self.return_paths.domain}?subject=unsubscribe%20{unsubscribe}"
            ),
            name=job.name,
            prefs_url=self.settings.url(f"/installningar/{prefs}"),
        )

    async def _send(self, job: Job) -> None:
        assert job.template is not None
        await self.bucket.acquire()
        try:
            wire = job.template.wire(self.personal(job), signer=self.signer)
            result = await self.transport.send_prepared(
                self.return_paths.address(job.delivery_id), [job.to], wire
            )
            job.result = result.per_recipient.get(job.to) or RecipientResult(
                451, "no reply for recipient"
            )
        except Exception as exc:  # never lose a row to an unexpected error
            log.exception("send failed")
            job.result = RecipientResult(451, f"sändningsfel: {exc}")

    async def _record(self, jobs: list[Job]) -> None:
        """Write the outcomes of ``jobs`` in one transaction; finish issues that are done."""
        now = utcnow()
        sent_ids: list[int] = []
        handed_back: list[int] = []
        others: list[dict[str, Any]] = []
        for job in jobs:
            r = job.result
            if r is None:
                handed_back.append(job.delivery_id)
                continue
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
                    .where(_delivery_ids(session, sent_ids))
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
            if handed_back:
                await self._hand_back(session, handed_back, now)
            for issue_id in sorted({job.issue_id for job in jobs}):
                await finish_if_done(session, issue_id)
            await session.commit()

    async def _hand_back(self, session: AsyncSession, ids: list[int], now: datetime) -> None:
        """Queue unsent claims again, as if never claimed; skip those of a cancelled issue."""
        await session.execute(
            update(Delivery)
            .where(
                _delivery_ids(session, ids),
                Delivery.state == "sending",
                Delivery.claimed_by == self.worker_id,
            )
            .values(state="queued", attempts=Delivery.attempts - 1, claimed_by=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        # A cancel skips the queued rows; rows it found claimed are skipped here.
        await session.execute(
            update(Delivery)
            .where(
                _delivery_ids(session, ids),
                Delivery.state == "queued",
                Delivery.issue_id.in_(select(Issue.id).where(Issue.status == "cancelled")),
            )
            .values(state="skipped", last_reply=CANCELLED_REASON, updated_at=now)
            .execution_options(synchronize_session=False)
        )


def _process_alive(worker_id: str, host: str) -> bool:
    """Whether the process of ``worker_id`` (``host:pid:random``) still runs here."""
    pid_text = worker_id.removeprefix(f"{host}:").split(":", 1)[0]
    if not pid_text.isdigit():
        return True  # not one of ours: leave it to the lease
    pid = int(pid_text)
    if pid == os.getpid():
        return True  # another worker in this very process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True


def _delivery_ids(session: AsyncSession, ids: list[int]) -> ColumnElement[bool]:
    return any_of(session, Delivery.id, ids, BigInteger())


def _skip(delivery_id: int, reason: str, now: datetime) -> dict[str, Any]:
    return {
        "id": int(delivery_id),
        "state": "skipped",
        "last_reply": reason,
        "claimed_by": None,
        "updated_at": now,
    }
