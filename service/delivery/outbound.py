"""The outbound worker: sends the transactional mail queue (:mod:`service.mail.queue`).

It runs inside every delivery worker, beside the newsletter pipeline, and shares its
worker id (so the heartbeat keeps its claims alive), its SMTP pool, its send-rate limits
and its DKIM signer. One pass:

1. *claim* due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a short ``BEGIN
   IMMEDIATE`` on SQLite) and reserve hourly send slots for them;
2. *compose* rows that carry a payload instead of a message with the composer
   registered for their kind, each in a short write transaction of its own (the
   composer may decide that no mail is due: the row is ``skipped`` with the reason);
3. *send* after every transaction is closed, a few at a time, each mail DKIM-signed;
4. *record* every outcome in one transaction: ``sent`` (message and payload cleared),
   ``retry`` with exponential backoff on 4xx and connection errors, ``failed`` on 5xx
   or when the attempts are used up (the message is kept so an editor can send it again).

A row claimed by a worker that died is queued again when its lease runs out (or at once
by the next worker started on the same machine, see ``Worker.reclaim_dead_local``).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db import any_of, begin_immediate, is_sqlite, utcnow
from service.delivery import ratelimit
from service.mail.compose import to_bytes
from service.mail.dkim import DkimSigner, signed
from service.mail.models import QueuedMail
from service.mail.queue import Composer, Skipped
from service.mail.transport import RecipientResult, Transport
from service.settings import Settings

log = logging.getLogger(__name__)

# Composers by kind, as "module:function" (resolved when the worker starts, so this
# module does not import the domains that compose).
COMPOSERS: dict[str, str] = {
    "confirm": "subscribers.signup:process_signup",
    "registration-confirm": "service.events.mails:compose_confirm",
}

CLAIM_SIZE = 50
COMPOSE_FAILED = "Meddelandet kunde inte skapas (internt fel, se loggen)."
UNKNOWN_KIND = "Okänd sorts meddelande; det kan inte skapas."


def load_composers(names: Mapping[str, str] = COMPOSERS) -> dict[str, Composer]:
    composers: dict[str, Composer] = {}
    for kind, target in names.items():
        module_name, _, attribute = target.partition(":")
        composers[kind] = getattr(importlib.import_module(module_name), attribute)
    return composers


@dataclass
class _Item:
    id: int
    kind: str
    recipient: str
    attempts: int
    message: bytes | None
    payload: dict[str, Any] | None
    result: RecipientResult | None = None  # None: handed back unsent
    written: bool = False  # its final state was written while composing


@dataclass(frozen=True)
class OutboundConfig:
    retry_base_seconds: float = 60.0
    retry_max_seconds: float = 3600.0
    idle_sleep: float = 2.0


def backoff(config: OutboundConfig, attempts: int) -> float:
    return float(
        min(config.retry_max_seconds, config.retry_base_seconds * 2 ** max(0, attempts - 1))
    )


class OutboundWorker:
    def __init__(
        self,
        settings: Settings,
        factory: async_sessionmaker[AsyncSession],
        transport: Transport,
        *,
        worker_id: str,
        config: OutboundConfig | None = None,
        bucket: ratelimit.TokenBucket | None = None,
        signer: DkimSigner | None = None,
        composers: Mapping[str, Composer] | None = None,
    ) -> None:
        self.settings = settings
        self.factory = factory
        self.transport = transport
        self.worker_id = worker_id
        self.config = config or OutboundConfig()
        self.bucket = bucket or ratelimit.TokenBucket(settings.send_rate_per_second)
        self.signer = signer if signer is not None else DkimSigner.from_settings(settings)
        self.composers = dict(composers) if composers is not None else load_composers()
        self.senders = max(1, settings.smtp_pool_size)
        self.stop = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Send until ``stop`` is set; a failing pass is logged and tried again."""
        self.stop = stop
        while not stop.is_set():
            try:
                handled = await self.pass_once()
            except Exception:
                log.exception("sending the mail queue failed")
                handled = 0
            if not handled:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.config.idle_sleep)

    async def drain(self, ids: Sequence[int] | None = None) -> int:
        """Pass until nothing (of ``ids``) is due now; returns the rows handled."""
        total = 0
        while handled := await self.pass_once(ids):
            total += handled
        return total

    async def pass_once(self, ids: Sequence[int] | None = None) -> int:
        items = await self._claim(ids)
        if not items:
            return 0
        await self._compose([item for item in items if item.message is None])
        ready = [i for i in items if i.message is not None and not i.written]
        gate = asyncio.Semaphore(self.senders)

        async def send(item: _Item) -> None:
            async with gate:
                if not self.stop.is_set():
                    await self._send(item)

        await asyncio.gather(*(send(item) for item in ready))
        await self._record(items)
        return len(items)

    # ------------------------------------------------------------------ claim

    async def _claim(self, ids: Sequence[int] | None) -> list[_Item]:
        now = utcnow()
        async with self.factory() as session:
            await begin_immediate(session)
            candidates = (
                select(QueuedMail.id)
                .where(
                    QueuedMail.state.in_(("queued", "retry")),
                    (QueuedMail.next_attempt_at.is_(None)) | (QueuedMail.next_attempt_at <= now),
                )
                .order_by(QueuedMail.id)
                .limit(CLAIM_SIZE)
            )
            if ids is not None:
                candidates = candidates.where(QueuedMail.id.in_(list(ids)))
            if not is_sqlite(session):
                candidates = candidates.with_for_update(skip_locked=True)
            rows = (
                await session.execute(
                    update(QueuedMail)
                    .where(QueuedMail.id.in_(candidates.scalar_subquery()))
                    .values(
                        state="sending",
                        claimed_by=self.worker_id,
                        claimed_at=now,
                        attempts=QueuedMail.attempts + 1,
                        updated_at=now,
                    )
                    .returning(
                        QueuedMail.id,
                        QueuedMail.kind,
                        QueuedMail.recipient,
                        QueuedMail.attempts,
                        QueuedMail.message,
                        QueuedMail.payload,
                    )
                    .execution_options(synchronize_session=False)
                )
            ).all()
            items = [
                _Item(
                    id=int(r[0]),
                    kind=str(r[1]),
                    recipient=str(r[2]),
                    attempts=int(r[3]),
                    message=r[4],
                    payload=r[5],
                )
                for r in sorted(rows, key=lambda r: int(r[0]))
            ]
            if items and self.settings.send_rate_per_hour > 0:
                granted, window_end = await ratelimit.reserve(
                    session,
                    f"send:{self.transport.name}",
                    len(items),
                    self.settings.send_rate_per_hour,
                )
                later, items = items[granted:], items[:granted]
                if later:
                    await session.execute(
                        update(QueuedMail)
                        .where(_ids(session, [i.id for i in later]))
                        .values(
                            state="queued",
                            attempts=QueuedMail.attempts - 1,
                            claimed_by=None,
                            next_attempt_at=datetime.fromtimestamp(window_end, now.tzinfo),
                        )
                        .execution_options(synchronize_session=False)
                    )
            await session.commit()
        return items

    # ------------------------------------------------------------------ compose

    async def _compose(self, items: list[_Item]) -> None:
        """Compose each item in a short write transaction of its own: on SQLite the
        write lock is held for one composition at a time, never for a batch, so the
        signups and other writes waiting behind it are not held up."""
        for item in items:
            now = utcnow()
            try:
                async with self.factory() as session:
                    await begin_immediate(session)
                    if await self._compose_one(session, item, now):
                        await session.commit()
            except Exception:
                log.exception("committing composed mail %s failed", item.id)
                item.message, item.written = None, False
                item.result = RecipientResult(451, COMPOSE_FAILED)

    async def _compose_one(self, session: AsyncSession, item: _Item, now: datetime) -> bool:
        composer = self.composers.get(item.kind)
        if composer is None or item.payload is None:
            item.result = RecipientResult(554, UNKNOWN_KIND)
            return False
        try:
            outcome = await composer(session, self.settings, dict(item.payload))
            if isinstance(outcome, Skipped):
                values: dict[str, Any] = {
                    "state": "skipped",
                    "last_reply": outcome.reason,
                    "payload": None,
                    "claimed_by": None,
                    "updated_at": now,
                }
            else:
                message = to_bytes(outcome.message)
                values = {
                    "message": message,
                    "recipient": str(outcome.message["To"]),
                    "subject": str(outcome.message.get("Subject", ""))[:300],
                    "subscriber_id": outcome.subscriber_id,
                    "payload": None,
                    "updated_at": now,
                }
            await session.execute(
                update(QueuedMail)
                .where(QueuedMail.id == item.id, QueuedMail.claimed_by == self.worker_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        except Exception:
            log.exception("composing queued mail %s (%s) failed", item.id, item.kind)
            item.result = RecipientResult(451, COMPOSE_FAILED)
            return False
        if isinstance(outcome, Skipped):
            item.written = True
        else:
            item.message, item.recipient = values["message"], values["recipient"]
        return True

    # ------------------------------------------------------------------ send

    async def _send(self, item: _Item) -> None:
        assert item.message is not None
        await self.bucket.acquire()
        try:
            result = await self.transport.send(
                self.settings.sender_address.addr_spec,
                [item.recipient],
                signed(item.message, self.signer),
            )
            item.result = result.per_recipient.get(item.recipient) or RecipientResult(
                451, "inget svar för mottagaren"
            )
        except Exception as exc:  # never lose a mail to an unexpected error
            log.exception("sending queued mail %s failed", item.id)
            item.result = RecipientResult(451, f"sändningsfel: {type(exc).__name__}")

    # ------------------------------------------------------------------ record

    async def _record(self, items: list[_Item]) -> None:
        now = utcnow()
        rows: list[dict[str, Any]] = []
        handed_back: list[int] = []
        for item in items:
            if item.written:
                continue
            r = item.result
            if r is None:
                handed_back.append(item.id)
                continue
            reply = f"{r.code} {r.message}"[:2000]
            row: dict[str, Any] = {"id": item.id, "claimed_by": None, "updated_at": now}
            if r.ok:
                row.update(state="sent", sent_at=now, last_reply=reply, message=None, payload=None)
            elif r.temporary and item.attempts < self.settings.send_max_attempts:
                wait = backoff(self.config, item.attempts)
                row.update(
                    state="retry", last_reply=reply, next_attempt_at=now + timedelta(seconds=wait)
                )
            else:
                row.update(state="failed", last_reply=reply)
            rows.append(row)
        if not rows and not handed_back:
            return
        async with self.factory() as session:
            await begin_immediate(session)
            if rows:
                await session.execute(update(QueuedMail), rows)
            if handed_back:
                await session.execute(
                    update(QueuedMail)
                    .where(_ids(session, handed_back), QueuedMail.claimed_by == self.worker_id)
                    .values(
                        state="queued",
                        attempts=QueuedMail.attempts - 1,
                        claimed_by=None,
                        updated_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
            await session.commit()


# ---------------------------------------------------------------------- leases


async def refresh_claims(session: AsyncSession, worker_id: str, now: datetime) -> None:
    await session.execute(
        update(QueuedMail)
        .where(QueuedMail.claimed_by == worker_id, QueuedMail.state == "sending")
        .values(claimed_at=now)
    )


async def requeue_claims(
    session: AsyncSession,
    *,
    now: datetime,
    older_than: datetime | None = None,
    claimed_by: str | None = None,
) -> int:
    """Queue again rows claimed before ``older_than`` (a dead worker) or by ``claimed_by``."""
    query = update(QueuedMail).where(QueuedMail.state == "sending")
    if older_than is not None:
        query = query.where(QueuedMail.claimed_at < older_than)
    if claimed_by is not None:
        query = query.where(QueuedMail.claimed_by == claimed_by)
    result = await session.execute(
        query.values(state="retry", next_attempt_at=now, claimed_by=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _ids(session: AsyncSession, ids: list[int]) -> Any:
    return any_of(session, QueuedMail.id, ids, BigInteger())


async def send_now(settings: Settings, ids: Sequence[int]) -> list[QueuedMail]:
    """Send the given queued mails from this process at once (the CLI's test send), and
    return their rows afterwards; a temporary failure leaves them to the worker's retries."""
    import os
    import socket
    import uuid

    from service.db import create_engine, create_session_factory
    from service.mail.transport import make_transport

    engine = create_engine(settings.database_url, pool_size=2)
    transport = make_transport(settings)
    try:
        factory = create_session_factory(engine)
        worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        await OutboundWorker(settings, factory, transport, worker_id=worker_id).drain(ids)
        async with factory() as session:
            rows = await session.execute(
                select(QueuedMail).where(QueuedMail.id.in_(list(ids))).order_by(QueuedMail.id)
            )
            return list(rows.scalars())
    finally:
        await transport.close()
        await engine.dispose()
