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

The worker sees the database only through :class:`~service.delivery.store.DeliveryStore`
(claims, outcomes, leases: see there). Jobs that still wait when their issue is paused
or cancelled, or when the worker stops, are handed back unsent. Beside the newsletters
it sends the transactional mail queue (:mod:`service.delivery.outbound`).
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

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db import utcnow
from service.delivery import ratelimit, verp
from service.delivery.outbound import OutboundConfig, OutboundWorker
from service.delivery.store import DeliveryStore, Outcome, Recipient, SqlDeliveryStore
from service.delivery.tokens import LinkTokens
from service.errors import DomainError
from service.issues.message import IssueTemplate, Personal
from service.mail.dkim import DkimSigner
from service.mail.transport import RecipientResult, Transport
from service.settings import Settings
from subscribers import links

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

    issue_id: int
    recipient: Recipient
    template: IssueTemplate
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
        store: DeliveryStore | None = None,
    ) -> None:
        self.settings = settings
        self.transport = transport
        self.store = store or SqlDeliveryStore(settings, factory, rate_key=f"send:{transport.name}")
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
                        run.active = set(await self.store.sendable_issues())
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
        issue_ids = await self.store.sendable_issues()
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
            claim = await self.store.claim(issue_id, self.worker_id, self.config.batch_size)
            run.handled += claim.skipped
            claimed = claimed or bool(claim.recipients or claim.skipped)
            if not claim.recipients:  # nothing to send now: the issue may be complete
                await self.store.finish_if_done(issue_id)
                continue
            run.pending += len(claim.recipients)
            for recipient in claim.recipients:
                run.queue.put_nowait(Job(issue_id, recipient, template))
        return claimed

    async def _halt(self, issue_id: int, exc: Exception) -> None:
        log.exception("the message of issue %s cannot be built; its send is paused", issue_id)
        reason = exc.message if isinstance(exc, DomainError) else BUILD_FAILED
        await self.store.halt(issue_id, f"{BUILD_FAILED_PREFIX} {reason}")

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
        await self.store.beat(self.worker_id, self.config.lease_seconds)

    async def reclaim_dead_local(self) -> int:
        """At start: queue again at once what a dead worker *on this machine* had claimed.

        A worker id is ``host:pid:random``; a claim by this host whose process no longer
        exists cannot be in flight (the process that sent it is gone), so it need not wait
        for its lease to run out. Claims of other hosts still wait for the lease.
        """
        host = socket.gethostname()
        requeued = await self.store.reclaim_dead(
            self.worker_id, lambda owner: _process_alive(owner, host)
        )
        if requeued:
            log.info("queued again %d rows claimed by dead workers on %s", requeued, host)
        return requeued

    # ------------------------------------------------------------------ one batch

    async def _template(self, issue_id: int) -> IssueTemplate:
        cached = self._templates.get(issue_id)
        if cached is not None and cached[0] == await self.store.rendered_at(issue_id):
            return cached[1]
        rendered_at, source = await self.store.mail_source(issue_id)
        template = IssueTemplate.build(self.settings, source)
        self._templates[issue_id] = (rendered_at, template)
        return template

    def personal(self, r: Recipient) -> Personal:
        unsubscribe, prefs = self.tokens.tokens(
            (links.UNSUBSCRIBE_PURPOSE, links.PREFS_PURPOSE), r.subscriber_id, r.token_version
        )
        return Personal(
            to=r.to,
            message_id=r.message_id,
            # Both List-Unsubscribe targets carry one token (signed once); same shape as
            # links.unsubscribe_url/unsubscribe_mailto.
            unsubscribe_url=self.settings.url(f"/avregistrera/{unsubscribe}"),
            unsubscribe_mailto=(
                f"mailto:unsubscribe@{self.return_paths.domain}?subject=unsubscribe%20{unsubscribe}"
            ),
            name=r.name,
            prefs_url=self.settings.url(f"/installningar/{prefs}"),
        )

    async def _send(self, job: Job) -> None:
        r = job.recipient
        await self.bucket.acquire()
        try:
            wire = job.template.wire(self.personal(r), signer=self.signer)
            result = await self.transport.send_prepared(
                self.return_paths.address(r.delivery_id), [r.to], wire
            )
            job.result = result.per_recipient.get(r.to) or RecipientResult(
                451, "no reply for recipient"
            )
        except Exception as exc:  # never lose a row to an unexpected error
            log.exception("send failed")
            job.result = RecipientResult(451, f"sändningsfel: {exc}")

    async def _record(self, jobs: list[Job]) -> None:
        """Turn results into outcomes (retry with backoff, or failed) and write them."""
        now = utcnow()
        outcomes: list[Outcome] = []
        for job in jobs:
            r, row = job.result, job.recipient
            if r is None:
                outcomes.append(Outcome(row.delivery_id, job.issue_id, None))
            elif r.ok:
                outcomes.append(Outcome(row.delivery_id, job.issue_id, "sent"))
            elif r.temporary and row.attempts < self.settings.send_max_attempts:
                wait = timedelta(seconds=backoff(self.config, row.attempts))
                outcomes.append(
                    Outcome(
                        row.delivery_id,
                        job.issue_id,
                        "retry",
                        f"{r.code} {r.message}"[:2000],
                        now + wait,
                    )
                )
            else:
                outcomes.append(
                    Outcome(row.delivery_id, job.issue_id, "failed", f"{r.code} {r.message}"[:2000])
                )
        await self.store.record(outcomes, self.worker_id)


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
