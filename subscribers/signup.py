"""Signing up: the form's rate limits, honeypot and checks, the queued request, the
double opt-in confirmation mail (composed by the delivery worker), confirming it, the
welcome mail; and subscribers whose consent was obtained elsewhere (import, demo, editor).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.core import ratelimit
from service.core.addresses import normalise_address
from service.db import utcnow
from service.errors import RateLimited, ValidationFailed
from service.mail import queue as mailqueue
from service.mail import texts
from service.mail.compose import ListHeaders
from service.settings import Settings
from subscribers import ledger, links, suppression
from subscribers.consent_texts import current_text, shown_text
from subscribers.fields import check_text
from subscribers.lists import activate, all_lists, lists_by_ids, public_lists
from subscribers.messages import MESSAGES
from subscribers.models import (
    ActionToken,
    ConsentText,
    MailingList,
    Subscriber,
    Subscription,
)
from subscribers.people import find_by_address
from subscribers.tokens import new_action_token

SOURCES = ("form", "embed", "import", "api", "editor", "preference-centre")
CONFIRMATION_INTERVAL = timedelta(hours=24)  # at most one confirmation mail per address
CONFIRM_KIND = "confirm"  # the mail queue's kind of a signup's confirmation mail
SIGNUP_WINDOW_SECONDS = 3600
"""The window of both signup rate limits (the settings count signups per hour)."""


@dataclass
class SignupRequest:
    email: str
    name: str
    organisation: str
    role: str
    lists: list[MailingList]
    consent_text: ConsentText
    privacy_notice: ConsentText
    source: str = "form"


@dataclass
class SignupForm:
    """What the signup form posted (raw strings), kept to re-show it on errors."""

    email: str = ""
    name: str = ""
    organisation: str = ""
    role: str = ""
    list_values: list[str] = field(default_factory=list)
    consent_text_id: str = ""
    privacy_notice_id: str = ""
    honeypot: str = ""  # a field hidden from people: only a bot fills it in


async def validate_signup(session: AsyncSession, form: SignupForm, source: str) -> SignupRequest:
    """Check every field; raises ValidationFailed with a message per bad field."""
    errors: dict[str, str] = {}
    email = ""
    try:
        email = normalise_address(form.email, field="email")
    except ValidationFailed as exc:
        errors.update(exc.fields)
    name = check_text(form.name, "name", errors)
    organisation = check_text(form.organisation, "organisation", errors)
    role = check_text(form.role, "role", errors)
    public = {lst.id: lst for lst in await public_lists(session)}
    chosen: list[MailingList] = []
    if not form.list_values:
        errors["lists"] = MESSAGES["no_list"]
    for value in form.list_values:
        if not value.isdigit() or int(value) not in public:
            errors["lists"] = MESSAGES["bad_list"]
            break
        if public[int(value)] not in chosen:
            chosen.append(public[int(value)])
    if errors:
        raise ValidationFailed(MESSAGES["form_invalid"], fields=errors)
    return SignupRequest(
        email=email,
        name=name,
        organisation=organisation,
        role=role,
        lists=chosen,
        consent_text=await shown_text(session, "consent", form.consent_text_id),
        privacy_notice=await shown_text(session, "privacy", form.privacy_notice_id),
        source=source if source in SOURCES else "form",
    )


async def submit_signup(
    session: AsyncSession, settings: Settings, form: SignupForm, *, source: str, client_ip: str
) -> None:
    """A signup form was posted. It counts against the rate limits, per client IP
    (``INNAN_SIGNUP_IP_PER_HOUR``) and in total (``INNAN_SIGNUP_GLOBAL_PER_HOUR``), both
    counted every time: RateLimited beyond either (retry after
    :data:`SIGNUP_WINDOW_SECONDS`). A filled-in honeypot is a bot: it gets the answer a
    person gets, and nothing is recorded or sent. Otherwise every field is checked
    (ValidationFailed) and the request queued (:func:`request_signup`).

    The counts must be committed also when this raises (the request's session is, when
    the handler answers with a page of its own).
    """
    ip_ok = await ratelimit.hit(
        session, f"signup-ip:{client_ip}", settings.signup_ip_per_hour, SIGNUP_WINDOW_SECONDS
    )
    global_ok = await ratelimit.hit(
        session, "signup-global", settings.signup_global_per_hour, SIGNUP_WINDOW_SECONDS
    )
    if not (ip_ok and global_ok):
        raise RateLimited(MESSAGES["rate_limited"], retry_after=SIGNUP_WINDOW_SECONDS)
    if form.honeypot.strip():
        return
    request_signup(session, await validate_signup(session, form, source))


def request_signup(
    session: AsyncSession, request: SignupRequest, *, now: datetime | None = None
) -> None:
    """Queue a signup request; the delivery worker processes it (:func:`process_signup`).

    The web request does the same small amount of work whatever the address (one row
    written), so neither its answer nor its timing tells whether the address is known.
    """
    now = now or utcnow()
    mailqueue.enqueue_composed(
        session,
        kind=CONFIRM_KIND,
        recipient=request.email,
        payload={
            "email": request.email,
            "name": request.name,
            "organisation": request.organisation,
            "role": request.role,
            "list_ids": [lst.id for lst in request.lists],
            "consent_text_id": request.consent_text.id,
            "privacy_notice_id": request.privacy_notice.id,
            "source": request.source,
            "requested_at": now.isoformat(),
        },
        now=now,
    )


async def process_signup(
    session: AsyncSession, settings: Settings, payload: dict[str, Any]
) -> mailqueue.Composed | mailqueue.Skipped:
    """Record a queued signup request and compose its confirmation mail (double opt-in).

    Runs in the worker, in one transaction with the queue row. At most one confirmation
    mail per address per 24 hours: one that was sent, or still waits, counts; one that
    failed does not. Suppressed addresses get the same treatment: the suppression is
    lifted only when the new confirmation link is used.
    """
    now = utcnow()
    requested_at = datetime.fromisoformat(str(payload["requested_at"]))
    email = str(payload["email"])
    wanted = [int(i) for i in payload.get("list_ids", [])]
    lists = [lst for lst in await all_lists(session) if lst.id in wanted]
    consent_text = await session.get(ConsentText, int(payload["consent_text_id"]))
    privacy_notice = await session.get(ConsentText, int(payload["privacy_notice_id"]))
    if not lists or consent_text is None or privacy_notice is None:
        return mailqueue.Skipped(MESSAGES["signup_lists_gone"])
    subscriber = await find_by_address(session, email)
    if subscriber is None:
        subscriber = Subscriber(
            email=email,
            name=str(payload.get("name") or ""),
            organisation=str(payload.get("organisation") or ""),
            role=str(payload.get("role") or ""),
            language="sv",
            status="pending",
            created_at=requested_at,
            token_version=1,
            subscriptions=[],
        )
        session.add(subscriber)
        await session.flush()
    elif await mailqueue.sent_or_pending(
        session,
        kind=CONFIRM_KIND,
        subscriber_id=subscriber.id,
        since=now - CONFIRMATION_INTERVAL,
    ):
        return mailqueue.Skipped(MESSAGES["confirmation_throttled"])
    if subscriber.status == "pending":
        # Nobody has proven this address yet: the latest request decides the details.
        subscriber.name = str(payload.get("name") or "")
        subscriber.organisation = str(payload.get("organisation") or "")
        subscriber.role = str(payload.get("role") or "")
    existing = {s.list_id: s for s in subscriber.subscriptions}
    source = str(payload.get("source") or "form")
    for lst in lists:
        if lst.id not in existing:
            subscriber.subscriptions.append(
                Subscription(list_id=lst.id, status="pending", created_at=requested_at)
            )
        ledger.record(
            session,
            subscriber.id,
            lst,
            "requested",
            source=source,
            occurred_at=requested_at,
            requested_at=requested_at,
            consent_text_id=consent_text.id,
            privacy_notice_id=privacy_notice.id,
        )
    token_payload = {
        "list_ids": [lst.id for lst in lists],
        "name": str(payload.get("name") or ""),
        "organisation": str(payload.get("organisation") or ""),
        "role": str(payload.get("role") or ""),
        "consent_text_id": consent_text.id,
        "privacy_notice_id": privacy_notice.id,
        "source": source,
    }
    raw = await new_action_token(
        session,
        subscriber.id,
        "confirm",
        token_payload,
        timedelta(days=settings.unconfirmed_days),
        requested_at,
    )
    message = texts.build(
        settings,
        to=subscriber.email,
        template="subscribers/confirm",
        context={
            "confirm_url": settings.url(f"/bekrafta/{raw}"),
            "lists": lists,
            "days": settings.unconfirmed_days,
        },
    )
    return mailqueue.Composed(message=message, subscriber_id=subscriber.id)


async def add_confirmed(
    session: AsyncSession,
    *,
    email: str,
    lists: Sequence[MailingList],
    name: str = "",
    organisation: str = "",
    role: str = "",
    source: str = "import",
    lawful_basis: str = "consent",
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Subscriber:
    """A subscriber whose consent was obtained elsewhere (import, demo, editor).

    Records ``requested`` and ``confirmed`` ledger rows with ``source`` and
    ``lawful_basis``. The caller checks suppression and duplicates first.
    """
    now = now or utcnow()
    errors: dict[str, str] = {}
    name = check_text(name, "name", errors)
    organisation = check_text(organisation, "organisation", errors)
    role = check_text(role, "role", errors)
    if errors:
        raise ValidationFailed(MESSAGES["form_invalid"], fields=errors)
    consent = await current_text(session, "consent")
    privacy = await current_text(session, "privacy")
    subscriber = Subscriber(
        email=normalise_address(email),
        name=name,
        organisation=organisation,
        role=role,
        language="sv",
        status="active",
        created_at=now,
        confirmed_at=now,
        token_version=1,
        subscriptions=[
            Subscription(list_id=lst.id, status="active", created_at=now, confirmed_at=now)
            for lst in lists
        ],
    )
    session.add(subscriber)
    await session.flush()
    for lst in lists:
        ledger.record(
            session,
            subscriber.id,
            lst,
            "requested",
            "confirmed",
            source=source,
            occurred_at=now,
            requested_at=now,
            consent_text_id=consent.id,
            privacy_notice_id=privacy.id,
            lawful_basis=lawful_basis,
            detail=detail,
        )
    await session.flush()
    return subscriber


async def confirm_signup(
    session: AsyncSession,
    settings: Settings,
    subscriber: Subscriber,
    token: ActionToken,
    *,
    now: datetime,
) -> list[MailingList]:
    """Double opt-in: the person used the link in the confirmation mail. Their lists become
    active, the suppression of the address (if any) is lifted, a welcome mail is queued;
    returns the lists confirmed."""
    token.used_at = now
    payload = token.payload
    chosen = await lists_by_ids(session, payload.get("list_ids", []))
    for key in ("name", "organisation", "role"):
        value = str(payload.get(key) or "")
        if value:
            setattr(subscriber, key, value)
    if subscriber.status != "active" or subscriber.confirmed_at is None:
        subscriber.confirmed_at = now  # an active person adding lists keeps the first date
    subscriber.status = "active"
    subscriber.unsubscribed_at = None
    subscriber.bounced_at = None
    subscriber.soft_bounces = 0
    subscriber.hard_bounces = 0
    subscriber.updated_at = now
    for lst in chosen:
        activate(subscriber, lst.id, now)
        ledger.record(
            session,
            subscriber.id,
            lst,
            "confirmed",
            source=str(payload.get("source") or "form"),
            occurred_at=now,
            requested_at=token.created_at,
            consent_text_id=payload.get("consent_text_id"),
            privacy_notice_id=payload.get("privacy_notice_id"),
        )
    # A pending signup's other (unconfirmed) lists stay pending until retention.
    await suppression.lift(session, settings, subscriber.email)
    await session.flush()
    queue_welcome(session, settings, subscriber, chosen)
    return chosen


def list_headers_for(
    settings: Settings, subscriber: Subscriber, lst: MailingList | None
) -> ListHeaders:
    slug = lst.slug if lst is not None else "prenumeration"
    return ListHeaders(
        list_id=f"{slug}.{settings.mail_domain}",
        list_name=lst.name if lst is not None else settings.org_name,
        unsubscribe_url=links.unsubscribe_url(settings, subscriber.id, subscriber.token_version),
        unsubscribe_mailto=links.unsubscribe_mailto(
            settings, subscriber.id, subscriber.token_version
        ),
    )


def queue_welcome(
    session: AsyncSession, settings: Settings, subscriber: Subscriber, lists: list[MailingList]
) -> None:
    message = texts.build(
        settings,
        to=subscriber.email,
        template="subscribers/welcome",
        context={"subscriber": subscriber, "lists": lists, **links.links_for(settings, subscriber)},
        list_headers=list_headers_for(settings, subscriber, lists[0] if lists else None),
    )
    mailqueue.enqueue(session, message, kind="welcome", subscriber_id=subscriber.id)
