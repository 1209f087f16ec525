"""Sending an issue: schedule, snapshot the audience, cancel, pause, resume, progress.

The snapshot is one ``INSERT … SELECT`` into the ``deliveries`` ledger (unique per issue
and subscriber, a fixed Message-ID per row). Suppressions are keyed HMACs that SQL
cannot compute, so they are removed afterwards in batches: the snapshot's addresses are
streamed, hashed in Python and matched against ``suppressions`` with one query per batch.
The claim (``worker.py``) checks suppressions again, so an address suppressed between
snapshot and send is skipped too.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import String, and_, cast, delete, exists, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.core import audit
from service.core.dates import STOCKHOLM, format_datetime
from service.db import any_of, is_row_id, is_sqlite, utcnow
from service.delivery import messages
from service.delivery.models import Delivery
from service.errors import Conflict, NotFound, ValidationFailed
from service.issues.content import ensure_content, has_content
from service.issues.models import Issue
from service.security.signing import address_hmac
from service.settings import Settings
from subscribers.models import MailingList, Subscriber, Subscription, Suppression

SUPPRESSION_BATCH = 5000
OPEN_STATES = ("queued", "sending", "retry")
CANCELLED_REASON = "utskicket avbröts"

Action = Literal["send", "cancel", "pause", "resume"]
"""What an editor can do with an issue's delivery (page, API and CLI alike)."""


async def _issue(session: AsyncSession, issue_id: int) -> Issue:
    issue = await session.get(Issue, issue_id) if is_row_id(issue_id) else None
    if issue is None or issue.deleted_at is not None:  # a deleted draft is not sent
        raise NotFound("Utskicket finns inte.")
    return issue


MAX_AHEAD = timedelta(days=366)
"""How far ahead a send may be scheduled: further is taken for a typo in the year."""


def send_time(at: datetime, *, now: datetime | None = None) -> datetime:
    """The send-time rule: a time without a zone is Europe/Stockholm; a time that has
    passed, or lies more than a year ahead, is refused (ValidationFailed, in Swedish)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=STOCKHOLM)
    now = now or utcnow()
    if at <= now:
        raise ValidationFailed(
            messages.PAST_TIME.format(when=format_datetime(at, weekday=True)),
            fields={"at": "tiden har passerat"},
        )
    if at > now + MAX_AHEAD:
        raise ValidationFailed(
            messages.FAR_TIME.format(when=format_datetime(at, weekday=True)),
            fields={"at": "mer än ett år fram"},
        )
    return at


def parse_at(raw: str | None) -> datetime | None:
    """A send time as the delivery page, the API and the CLI give it: ISO 8601, read by
    :func:`send_time`; empty means now (None). ValidationFailed if it cannot be read."""
    if raw is None or not str(raw).strip():
        return None
    try:
        at = datetime.fromisoformat(str(raw).strip())
    except ValueError:
        raise ValidationFailed(messages.BAD_TIME, fields={"at": "ogiltig tidpunkt"}) from None
    return send_time(at)


def when_words(at: datetime | None) -> str:
    """The send time in Swedish words: ``nu direkt`` or ``tisdag 5 januari 2027 kl. 08.00``."""
    return messages.NOW_WORDS if at is None else format_datetime(at, weekday=True)


async def run_action(
    session: AsyncSession,
    settings: Settings,
    issue_id: int,
    action: Action,
    *,
    actor: str,
    at: str | None = None,
    version: int | None = None,
) -> Issue:
    """Do ``action`` to the issue's delivery: ``send`` (at ``at``, read by
    :func:`parse_at`: empty is now), ``cancel``, ``pause`` or ``resume``.
    The changes are flushed, so :func:`progress` sees them."""
    if action == "send":
        plan = await start_send(
            session, settings, issue_id, at=parse_at(at), actor=actor, version=version
        )
        issue = plan.issue
    elif action == "cancel":
        issue = await cancel(session, issue_id, actor=actor)
    else:
        issue = await set_paused(session, issue_id, action == "pause", actor=actor)
    await session.flush()
    return issue


@dataclass(frozen=True)
class SendPlan:
    """What a send would do, as the editor confirms it: to how many, on which lists
    (narrowed how), when, and the issue version it was worked out for."""

    issue: Issue
    at: datetime | None  # None: now
    recipients: int
    lists: list[str]
    organisations: list[str]
    roles: list[str]

    @property
    def version(self) -> int:
        return self.issue.version

    @property
    def when(self) -> str:
        return when_words(self.at)


async def plan_send(
    session: AsyncSession,
    settings: Settings,
    issue_id: int,
    *,
    at: datetime | None,
    version: int | None = None,
) -> SendPlan:
    """Check that the issue may be sent at ``at`` (None: now) and say to whom; writes
    nothing. Refuses (in Swedish) a send already under way, a stale ``version``, no
    lists, an empty issue and an audience of no one."""
    issue = await _issue(session, issue_id)
    if issue.status in ("sending", "sent"):
        raise Conflict(messages.ALREADY_SENDING)
    if version is not None and version != issue.version:
        raise Conflict(messages.CHANGED, fields={"version": "inaktuell"})
    if at is not None and at.tzinfo is None:
        raise ValidationFailed("Tidpunkten saknar tidszon.", fields={"at": "ogiltig"})
    if not issue.list_ids:
        raise ValidationFailed(messages.NO_LISTS, fields={"lists": "saknas"})
    await ensure_content(session, issue)
    recipients = await audience_count(session, settings, issue)
    if recipients == 0:
        raise ValidationFailed(messages.NO_RECIPIENTS, fields={"lists": "inga mottagare"})
    names = (
        await session.scalars(
            select(MailingList.name)
            .where(MailingList.id.in_(issue.list_ids))
            .order_by(MailingList.sort_order, MailingList.name)
        )
    ).all()
    return SendPlan(
        issue=issue,
        at=at,
        recipients=recipients,
        lists=[str(n) for n in names],
        organisations=list(issue.organisations or []),
        roles=list(issue.roles or []),
    )


async def start_send(
    session: AsyncSession,
    settings: Settings,
    issue_id: int,
    *,
    at: datetime | None,
    actor: str,
    version: int | None = None,
) -> SendPlan:
    """Schedule the issue for ``at`` (a future, tz-aware time) or send it now, after the
    checks of :func:`plan_send` (whose plan it returns)."""
    plan = await plan_send(session, settings, issue_id, at=at, version=version)
    issue = plan.issue
    issue.send_error = None
    now = utcnow()
    if at is not None and at > now:
        # Render now to catch errors early; rendered again at send time.
        await _render(session, settings, issue)
        issue.status = "scheduled"
        issue.scheduled_at = at
        issue.cancelled_at = None
        audit.record(
            session,
            actor,
            "issue.scheduled",
            "issue",
            issue.id,
            at=at.isoformat(),
            recipients_now=plan.recipients,
        )
        await session.flush()
        return plan
    issue.scheduled_at = now
    await snapshot(session, settings, issue, actor=actor)
    return plan


def audience_conditions(sub: Any, issue: Issue) -> list[Any]:
    """Who an issue goes to, over the subscribers table ``sub``: active subscribers with
    an active subscription to one of its lists, narrowed by its organisations and roles.
    The one audience rule: the snapshot inserts these, the confirmation counts them."""
    conditions: list[Any] = [
        sub.c.status == "active",
        exists()
        .where(Subscription.subscriber_id == sub.c.id)
        .where(Subscription.status == "active")
        .where(Subscription.list_id.in_(list(issue.list_ids))),
    ]
    if issue.organisations:
        conditions.append(sub.c.organisation.in_(list(issue.organisations)))
    if issue.roles:
        conditions.append(sub.c.role.in_(list(issue.roles)))
    return conditions


async def audience_count(session: AsyncSession, settings: Settings, issue: Issue) -> int:
    """How many the issue would go to if it were sent now: the snapshot's audience
    (:func:`audience_conditions`), minus those an earlier, cancelled send of it already
    reached, minus suppressed addresses."""
    sub = Subscriber.__table__.alias("s")
    conditions = audience_conditions(sub, issue)
    has_ledger = await session.scalar(
        select(Delivery.id).where(Delivery.issue_id == issue.id).limit(1)
    )
    if has_ledger is not None:  # a send again after a cancel: the snapshot keeps those rows
        conditions.append(
            ~exists()
            .where(Delivery.issue_id == issue.id, Delivery.subscriber_id == sub.c.id)
            .where(~and_(Delivery.state == "skipped", Delivery.last_reply == CANCELLED_REASON))
        )
    total = int(await session.scalar(select(func.count()).select_from(sub).where(*conditions)) or 0)
    if not total or await session.scalar(select(Suppression.address_hmac).limit(1)) is None:
        return total
    last = 0
    while True:  # suppressions are keyed hashes: match the audience's addresses in batches
        rows = (
            await session.execute(
                select(sub.c.id, sub.c.email)
                .where(*conditions, sub.c.id > last)
                .order_by(sub.c.id)
                .limit(SUPPRESSION_BATCH)
            )
        ).all()
        if not rows:
            return total
        last = int(rows[-1][0])
        total -= len(
            await suppressed_subscribers(session, settings, [(int(a), str(b)) for a, b in rows])
        )


async def _render(session: AsyncSession, settings: Settings, issue: Issue) -> None:
    from service.issues.render import render_issue

    rendered = await render_issue(session, settings, issue.id)
    issue.rendered_html = rendered.html
    issue.rendered_text = rendered.text
    issue.rendered_at = utcnow()


async def snapshot(session: AsyncSession, settings: Settings, issue: Issue, *, actor: str) -> int:
    """Render once, snapshot the audience into the ledger, mark the issue ``sending`` and
    publish it in the archive (if it is not already)."""
    await _render(session, settings, issue)
    now = utcnow()
    prefix = secrets.token_hex(6)
    sub = Subscriber.__table__.alias("s")
    conditions = audience_conditions(sub, issue)
    message_id = (
        literal(f"<{issue.id}.{prefix}.")
        + cast(sub.c.id, String)
        + literal(f"@{settings.mail_domain}>")
    )
    select_rows = select(
        literal(issue.id),
        sub.c.id,
        literal("queued"),
        literal(0),
        message_id,
        literal(now, Delivery.updated_at.type),
    ).where(*conditions)
    # Rows that exist already (a send after a cancel) are kept by ON CONFLICT DO NOTHING
    # on the (issue, subscriber) key. A NOT EXISTS anti-join here was quadratic on
    # PostgreSQL: right after a bulk import the planner has no statistics and probes the
    # ledger's claim index, which holds every row this statement has inserted so far.
    upsert = sqlite_insert if is_sqlite(session) else pg_insert
    await session.execute(
        upsert(Delivery)
        .from_select(
            ["issue_id", "subscriber_id", "state", "attempts", "message_id", "updated_at"],
            select_rows,
        )
        .on_conflict_do_nothing(index_elements=["issue_id", "subscriber_id"])
    )
    # Sending again after a cancel: those the cancel skipped are queued again.
    await session.execute(
        update(Delivery)
        .where(
            Delivery.issue_id == issue.id,
            Delivery.state == "skipped",
            Delivery.last_reply == CANCELLED_REASON,
        )
        .values(state="queued", last_reply=None, next_attempt_at=None, updated_at=now)
    )
    await remove_suppressed(session, settings, issue.id)
    total = int(
        (
            await session.execute(
                select(func.count()).select_from(Delivery).where(Delivery.issue_id == issue.id)
            )
        ).scalar_one()
    )
    issue.status = "sending"
    issue.send_started_at = now
    issue.paused = False
    # On the web from the first mail on: "Visa i webbläsaren" in a delivered mail must
    # work while the rest are still being sent or retried (the public cache sees the
    # new publication time in its fingerprint).
    if issue.web_published_at is None:
        issue.web_published_at = now
    audit.record(session, actor, "issue.send_started", "issue", issue.id, recipients=total)
    await session.flush()
    return total


async def suppressed_subscribers(
    session: AsyncSession, settings: Settings, rows: list[tuple[int, str]]
) -> set[int]:
    """Which of ``(subscriber_id, email)`` are suppressed (one query for the batch)."""
    if not rows or await session.scalar(select(Suppression.address_hmac).limit(1)) is None:
        return set()  # nothing is suppressed: no need to hash the batch's addresses
    keys = {address_hmac(settings.secret_key, email): sid for sid, email in rows}
    found = await session.execute(
        select(Suppression.address_hmac).where(
            any_of(session, Suppression.address_hmac, list(keys), String())
        )
    )
    return {keys[k] for (k,) in found}


async def remove_suppressed(session: AsyncSession, settings: Settings, issue_id: int) -> int:
    if await session.scalar(select(Suppression.address_hmac).limit(1)) is None:
        return 0  # nothing is suppressed: no need to hash the whole audience
    removed = 0
    last = 0
    while True:
        rows = (
            await session.execute(
                select(Subscriber.id, Subscriber.email)
                .join(Delivery, Delivery.subscriber_id == Subscriber.id)
                .where(Delivery.issue_id == issue_id, Delivery.subscriber_id > last)
                .order_by(Delivery.subscriber_id)  # a range scan of the (issue, subscriber) key
                .limit(SUPPRESSION_BATCH)
            )
        ).all()
        if not rows:
            return removed
        last = int(rows[-1][0])
        gone = await suppressed_subscribers(session, settings, [(int(a), str(b)) for a, b in rows])
        if gone:
            await session.execute(
                delete(Delivery).where(
                    Delivery.issue_id == issue_id, Delivery.subscriber_id.in_(list(gone))
                )
            )
            removed += len(gone)


async def cancel(session: AsyncSession, issue_id: int, *, actor: str) -> Issue:
    issue = await _issue(session, issue_id)
    if issue.status not in ("scheduled", "sending"):
        raise Conflict("Bara ett schemalagt utskick eller ett som skickas kan avbrytas.")
    now = utcnow()
    await session.execute(
        update(Delivery)
        .where(Delivery.issue_id == issue_id, Delivery.state.in_(("queued", "retry")))
        .values(state="skipped", last_reply=CANCELLED_REASON, updated_at=now)
    )
    issue.status = "cancelled"
    issue.cancelled_at = now
    if issue.web_published_at is not None and issue.web_published_at == issue.send_started_at:
        # Published by this send: keep it on the web only if someone got a mail linking to it.
        reached = await session.scalar(
            select(Delivery.id)
            .where(Delivery.issue_id == issue_id, Delivery.state.in_(("sent", "sending")))
            .limit(1)
        )
        if reached is None:
            issue.web_published_at = None
    audit.record(session, actor, "issue.cancelled", "issue", issue.id)
    await session.flush()
    return issue


async def set_paused(session: AsyncSession, issue_id: int, paused: bool, *, actor: str) -> Issue:
    issue = await _issue(session, issue_id)
    if issue.status != "sending":
        raise Conflict("Bara ett utskick som skickas kan pausas eller återupptas.")
    issue.paused = paused
    if not paused:
        issue.send_error = None  # the worker tries to build the message again
    audit.record(session, actor, "issue.paused" if paused else "issue.resumed", "issue", issue.id)
    await session.flush()
    return issue


async def halt(session: AsyncSession, issue_id: int, reason: str) -> None:
    """The worker cannot build the issue's message: pause the send and say why.

    Nothing was claimed, so the editor can cancel (every row is skipped) or correct the
    issue and resume (the worker builds the message again).
    """
    issue = await _issue(session, issue_id)
    if issue.status != "sending":
        return
    issue.paused = True
    issue.send_error = reason
    audit.record(session, "system", "issue.halted", "issue", issue.id, reason=reason)
    await session.flush()


async def start_due(
    session: AsyncSession, settings: Settings, now: datetime | None = None
) -> list[int]:
    """Snapshot every scheduled issue whose time has come (also those due while we were
    down); one that has become empty is not sent but made a draft, with the reason."""
    now = now or utcnow()
    due = (
        (
            await session.execute(
                select(Issue).where(Issue.status == "scheduled", Issue.scheduled_at <= now)
            )
        )
        .scalars()
        .all()
    )
    started = []
    for issue in due:
        if not await has_content(session, issue):
            # Emptied after it was scheduled: never send or publish an empty issue. It
            # becomes a draft again (a later save must not send it at the old time).
            issue.status = "draft"
            issue.scheduled_at = None
            issue.send_error = messages.SCHEDULE_EMPTY
            audit.record(session, "system", "issue.schedule_refused", "issue", issue.id)
            await session.flush()
            continue
        await snapshot(session, settings, issue, actor="scheduler")
        started.append(issue.id)
    return started


async def finish_if_done(session: AsyncSession, issue_id: int) -> bool:
    """Mark the issue sent when no queued/sending/retry rows remain."""
    open_rows = (
        await session.execute(
            select(Delivery.id)
            .where(Delivery.issue_id == issue_id, Delivery.state.in_(OPEN_STATES))
            .limit(1)
        )
    ).first()
    if open_rows is not None:
        return False
    now = utcnow()
    result = await session.execute(
        update(Issue)
        .where(Issue.id == issue_id, Issue.status == "sending")
        .values(
            status="sent", sent_at=now, web_published_at=func.coalesce(Issue.web_published_at, now)
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass
class Progress:
    issue_id: int
    slug: str
    status: str
    paused: bool
    scheduled_at: datetime | None
    totals: dict[str, int]
    sent_per_minute: float
    eta_seconds: float | None
    problems: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None  # why the worker stopped the send (it is paused then)

    @property
    def total(self) -> int:
        return sum(self.totals.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "issue_id": self.issue_id,
            "slug": self.slug,
            "status": self.status,
            "paused": self.paused,
            "scheduled_at": self.scheduled_at.isoformat() if self.scheduled_at else None,
            "total": self.total,
            "totals": self.totals,
            "sent_per_minute": round(self.sent_per_minute, 1),
            "eta_seconds": None if self.eta_seconds is None else round(self.eta_seconds),
            "problems": self.problems,
            "error": self.error,
        }


async def progress(
    session: AsyncSession, issue_id: int, *, problem_limit: int | None = 500
) -> Progress:
    """Totals by state, sent in the last minutes, ETA, and who did not get it and why."""
    issue = await _issue(session, issue_id)
    totals = {
        state: 0 for state in ("queued", "sending", "sent", "retry", "failed", "bounced", "skipped")
    }
    for state, count in await session.execute(
        select(Delivery.state, func.count())
        .where(Delivery.issue_id == issue_id)
        .group_by(Delivery.state)
    ):
        totals[str(state)] = int(count)
    now = utcnow()
    window = 5
    recent = int(
        (
            await session.execute(
                select(func.count())
                .select_from(Delivery)
                .where(
                    Delivery.issue_id == issue_id,
                    Delivery.state == "sent",
                    Delivery.sent_at >= now - timedelta(minutes=window),
                )
            )
        ).scalar_one()
    )
    per_minute = recent / window
    remaining = totals["queued"] + totals["sending"] + totals["retry"]
    eta = None
    if remaining and per_minute > 0:
        eta = remaining / per_minute * 60
    elif not remaining:
        eta = 0.0
    query = (
        select(
            Delivery.id, Delivery.state, Delivery.last_reply, Delivery.attempts, Subscriber.email
        )
        .outerjoin(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.issue_id == issue_id, Delivery.state.in_(("failed", "bounced", "skipped")))
        .order_by(Delivery.id)
    )
    if problem_limit is not None:
        query = query.limit(problem_limit)
    problems = [
        {
            "delivery_id": int(row[0]),
            "state": str(row[1]),
            "reason": str(row[2] or ""),
            "attempts": int(row[3]),
            "email": str(row[4]) if row[4] else "(raderad)",
        }
        for row in await session.execute(query)
    ]
    return Progress(
        issue_id=issue.id,
        slug=issue.slug,
        status=issue.status,
        paused=issue.paused,
        scheduled_at=issue.scheduled_at,
        totals=totals,
        sent_per_minute=per_minute,
        eta_seconds=eta,
        problems=problems,
        error=issue.send_error,
    )
