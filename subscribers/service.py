"""Business rules of subscriptions: lists, consent texts, double opt-in, preferences,
unsubscribe, export, erasure and retention.

Functions other domains call (stable names and signatures):

* ``await unsubscribe(session, settings, subscriber_id, *, channel, list_ids=None)`` —
  withdraw from the given lists (all when ``None``); idempotent; one ``withdrawn``
  ledger row per list actually left. ``channel``: "one-click", "preference-centre",
  "mailto", "editor", "bounce".
* ``await erase(session, settings, subscriber_id, *, actor)`` — Art. 17: deletes the
  person, their subscriptions, ledger rows and tokens; only HMAC-SHA256 of the address
  stays in ``suppressions`` (reason "erased"); an audit entry without the address.
* ``await unsubscribe_by_token(session, settings, token, *, channel) -> bool`` — the
  same from the token in a List-Unsubscribe link (the ``mailto:`` handler uses it with
  channel "mailto"); False for a forged token.
* ``await find_by_address(session, normalised) -> Subscriber | None``.
* ``await run_retention(session, settings, now=None) -> dict[str, int]`` — daily purge:
  unconfirmed signups older than ``INNAN_UNCONFIRMED_DAYS`` are deleted; unsubscribed
  (``INNAN_UNSUBSCRIBED_DAYS``) and bounced (``INNAN_BOUNCED_DAYS``) people are deleted
  with their ledger, and their address is kept only as a suppression HMAC so that an
  import or an editor cannot mail them again by accident.

Everything here takes an ``AsyncSession`` (the caller commits) and raises
:mod:`service.errors` exceptions with Swedish messages.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.core import audit
from service.core.addresses import normalise_address
from service.core.text import has_control_chars
from service.db import AfterCommit, after_commit, checkpoint_sqlite, utcnow
from service.delivery.models import BounceEvent, Delivery
from service.errors import Conflict, Gone, NotFound, ValidationFailed
from service.mail import queue as mailqueue
from service.mail import texts
from service.mail.compose import ListHeaders
from service.mail.transport import forget_in_outbox
from service.security.signing import hash_token, new_token
from service.settings import Settings
from subscribers import links, suppression
from subscribers.messages import MESSAGES
from subscribers.models import (
    ActionToken,
    ConsentEvent,
    ConsentText,
    MailingList,
    Subscriber,
    Subscription,
)

MAX_TEXT = 200
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
SOURCES = ("form", "embed", "import", "api", "editor", "preference-centre")
CHANNELS = ("one-click", "preference-centre", "mailto", "editor", "bounce", "cli")
CONFIRMATION_INTERVAL = timedelta(hours=24)
CONFIRM_KIND = "confirm"  # the mail queue's kind of a signup's confirmation mail
TEXT_KINDS = ("consent", "privacy")

# Member organisations offered in the signup form (free text is allowed too).
MEMBER_ORGANISATIONS = (
    "Region Halland",
    "Försäkringskassan",
    "Arbetsförmedlingen",
    "Falkenbergs kommun",
    "Halmstads kommun",
    "Hylte kommun",
    "Kungsbacka kommun",
    "Laholms kommun",
    "Varbergs kommun",
    "Annan",
)


# --------------------------------------------------------------------------- lists


async def all_lists(session: AsyncSession) -> list[MailingList]:
    rows = await session.execute(
        select(MailingList).order_by(MailingList.sort_order, MailingList.id)
    )
    return list(rows.scalars())


async def public_lists(session: AsyncSession) -> list[MailingList]:
    return [lst for lst in await all_lists(session) if lst.is_public]


async def count_active(session: AsyncSession, list_id: int) -> int:
    found = await session.execute(
        select(func.count())
        .select_from(Subscription)
        .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
        .where(
            Subscription.list_id == list_id,
            Subscription.status == "active",
            Subscriber.status == "active",
        )
    )
    return int(found.scalar_one())


async def list_by_slug(session: AsyncSession, slug: str) -> MailingList | None:
    found = await session.execute(select(MailingList).where(MailingList.slug == slug))
    return found.scalar_one_or_none()


def _check_text(value: str | None, fld: str, errors: dict[str, str], limit: int = MAX_TEXT) -> str:
    text = (value or "").strip()
    if has_control_chars(text):
        errors[fld] = MESSAGES["control_chars"]
    elif len(text) > limit:
        errors[fld] = MESSAGES["too_long"].format(max=limit)
    return text


async def create_list(
    session: AsyncSession, slug: str, name: str, *, description: str = "", hidden: bool = False
) -> MailingList:
    errors: dict[str, str] = {}
    if not SLUG_RE.match(slug or ""):
        errors["slug"] = "Kortnamnet får bara innehålla a–z, 0–9 och bindestreck (högst 64 tecken)."
    name = _check_text(name, "name", errors)
    if not name and "name" not in errors:
        errors["name"] = "Ange ett namn."
    description = _check_text(description, "description", errors, limit=2000)
    if errors:
        raise ValidationFailed("Listan kunde inte skapas.", fields=errors)
    if await list_by_slug(session, slug) is not None:
        raise Conflict(f"Det finns redan en lista med kortnamnet {slug}.")
    order = (await session.execute(select(func.max(MailingList.sort_order)))).scalar()
    lst = MailingList(
        slug=slug,
        name=name,
        description=description,
        is_public=not hidden,
        sort_order=(order or 0) + 1,
    )
    session.add(lst)
    await session.flush()
    return lst


# ------------------------------------------------------------------- consent texts


async def current_text(session: AsyncSession, kind: str, language: str = "sv") -> ConsentText:
    found = await session.execute(
        select(ConsentText)
        .where(ConsentText.kind == kind, ConsentText.language == language)
        .order_by(ConsentText.version.desc())
        .limit(1)
    )
    text = found.scalar_one_or_none()
    if text is None:
        raise NotFound("Texten finns inte.")
    return text


async def text_versions(
    session: AsyncSession, kind: str, language: str = "sv"
) -> list[ConsentText]:
    found = await session.execute(
        select(ConsentText)
        .where(ConsentText.kind == kind, ConsentText.language == language)
        .order_by(ConsentText.version.desc())
    )
    return list(found.scalars())


async def text_version(
    session: AsyncSession, kind: str, version: int, language: str = "sv"
) -> ConsentText:
    found = await session.execute(
        select(ConsentText).where(
            ConsentText.kind == kind,
            ConsentText.version == version,
            ConsentText.language == language,
        )
    )
    text = found.scalar_one_or_none()
    if text is None:
        raise NotFound("Den versionen av texten finns inte.")
    return text


async def publish_text(
    session: AsyncSession, kind: str, body: str, *, title: str = "", language: str = "sv"
) -> ConsentText:
    """Publish a new version (old versions are never edited)."""
    errors: dict[str, str] = {}
    if kind not in TEXT_KINDS:
        errors["kind"] = "Typen måste vara consent eller privacy."
    body = (body or "").strip()
    if not body:
        errors["body"] = "Texten är tom."
    elif has_control_chars(body, multiline=True):
        errors["body"] = "Texten innehåller otillåtna tecken."
    title = _check_text(title, "title", errors)
    if errors:
        raise ValidationFailed("Texten kunde inte publiceras.", fields=errors)
    latest = (
        await session.execute(
            select(func.max(ConsentText.version)).where(
                ConsentText.kind == kind, ConsentText.language == language
            )
        )
    ).scalar()
    if not title:
        title = "Samtycke" if kind == "consent" else "Behandling av personuppgifter"
    text = ConsentText(
        kind=kind, version=(latest or 0) + 1, language=language, title=title, body=body
    )
    session.add(text)
    await session.flush()
    return text


# --------------------------------------------------------------------- lookups


async def find_by_address(session: AsyncSession, normalised: str) -> Subscriber | None:
    found = await session.execute(select(Subscriber).where(Subscriber.email == normalised))
    return found.scalar_one_or_none()


async def get_subscriber(session: AsyncSession, subscriber_id: int) -> Subscriber | None:
    return await session.get(Subscriber, subscriber_id)


async def subscriber_from_link(
    session: AsyncSession, settings: Settings, purpose: str, token: str
) -> Subscriber:
    """The subscriber a signed preference link belongs to (404 forged/gone, 410 outdated)."""
    subscriber_id, version = links.read_token(settings, purpose, token)
    subscriber = await get_subscriber(session, subscriber_id)
    if subscriber is None:
        raise NotFound(MESSAGES["not_subscriber"])
    if subscriber.token_version != version:
        raise Gone(MESSAGES["link_outdated"])
    return subscriber


def active_list_ids(subscriber: Subscriber) -> set[int]:
    return {s.list_id for s in subscriber.subscriptions if s.status == "active"}


# ------------------------------------------------------------------- signup


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


async def _shown_text(session: AsyncSession, kind: str, raw_id: str) -> ConsentText:
    """The text version the form showed (falls back to the current one)."""
    if raw_id.isdigit():
        text = await session.get(ConsentText, int(raw_id))
        if text is not None and text.kind == kind:
            return text
    return await current_text(session, kind)


async def validate_signup(session: AsyncSession, form: SignupForm, source: str) -> SignupRequest:
    """Check every field; raises ValidationFailed with a message per bad field."""
    errors: dict[str, str] = {}
    email = ""
    try:
        email = normalise_address(form.email, field="email")
    except ValidationFailed as exc:
        errors.update(exc.fields)
    name = _check_text(form.name, "name", errors)
    organisation = _check_text(form.organisation, "organisation", errors)
    role = _check_text(form.role, "role", errors)
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
        consent_text=await _shown_text(session, "consent", form.consent_text_id),
        privacy_notice=await _shown_text(session, "privacy", form.privacy_notice_id),
        source=source if source in SOURCES else "form",
    )


def _purpose(lst: MailingList) -> str:
    return f"Att få utskicket ”{lst.name}” med e-post"[:MAX_TEXT]


async def _new_action_token(
    session: AsyncSession,
    subscriber_id: int,
    purpose: str,
    payload: dict[str, Any],
    ttl: timedelta,
    now: datetime,
) -> str:
    raw = new_token()
    session.add(
        ActionToken(
            token_hash=hash_token(raw),
            purpose=purpose,
            subscriber_id=subscriber_id,
            payload=payload,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    await session.flush()
    return raw


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
        session.add(
            ConsentEvent(
                subscriber_id=subscriber.id,
                list_id=lst.id,
                list_slug=lst.slug,
                event="requested",
                purpose=_purpose(lst),
                lawful_basis="consent",
                source=source,
                consent_text_id=consent_text.id,
                privacy_notice_id=privacy_notice.id,
                language="sv",
                occurred_at=requested_at,
                requested_at=requested_at,
            )
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
    raw = await _new_action_token(
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
    name = _check_text(name, "name", errors)
    organisation = _check_text(organisation, "organisation", errors)
    role = _check_text(role, "role", errors)
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
        for event in ("requested", "confirmed"):
            session.add(
                ConsentEvent(
                    subscriber_id=subscriber.id,
                    list_id=lst.id,
                    list_slug=lst.slug,
                    event=event,
                    purpose=_purpose(lst),
                    lawful_basis=lawful_basis,
                    source=source,
                    consent_text_id=consent.id,
                    privacy_notice_id=privacy.id,
                    language="sv",
                    occurred_at=now,
                    requested_at=now,
                    detail=detail or {},
                )
            )
    await session.flush()
    return subscriber


# ------------------------------------------------------------- action tokens


async def load_action_token(
    session: AsyncSession, raw: str, *, now: datetime | None = None
) -> ActionToken:
    """A usable mailed token: NotFound if unknown, Gone if used or expired."""
    now = now or utcnow()
    if not raw or len(raw) > 200:
        raise NotFound(MESSAGES["link_unknown"])
    found = await session.execute(
        select(ActionToken).where(ActionToken.token_hash == hash_token(raw))
    )
    token = found.scalar_one_or_none()
    if token is None:
        raise NotFound(MESSAGES["link_unknown"])
    if token.used_at is not None:
        raise Gone(MESSAGES["link_used"])
    if token.expires_at <= now:
        raise Gone(MESSAGES["link_expired"])
    return token


@dataclass
class Confirmed:
    subscriber: Subscriber
    purpose: str
    lists: list[MailingList]


async def confirm(
    session: AsyncSession,
    settings: Settings,
    raw: str,
    *,
    now: datetime | None = None,
) -> Confirmed:
    """Use a mailed confirmation token (signup or address change)."""
    now = now or utcnow()
    token = await load_action_token(session, raw, now=now)
    subscriber = await get_subscriber(session, token.subscriber_id)
    if subscriber is None:
        raise NotFound(MESSAGES["not_subscriber"])
    if token.purpose == "change-email":
        new_email = str(token.payload.get("email", ""))
        other = await find_by_address(session, new_email)
        if other is not None and other.id != subscriber.id:
            raise Conflict(MESSAGES["address_in_use"])
        token.used_at = now
        await suppression.lift(session, settings, new_email)
        subscriber.email = new_email
        subscriber.token_version += 1
        subscriber.updated_at = now
        await session.flush()
        return Confirmed(subscriber=subscriber, purpose="change-email", lists=[])
    if token.purpose != "confirm":
        raise NotFound(MESSAGES["link_unknown"])
    token.used_at = now
    payload = token.payload
    lists_by_id = {lst.id: lst for lst in await all_lists(session)}
    chosen = [lists_by_id[i] for i in payload.get("list_ids", []) if i in lists_by_id]
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
    existing = {s.list_id: s for s in subscriber.subscriptions}
    for lst in chosen:
        sub = existing.get(lst.id)
        if sub is None:
            sub = Subscription(list_id=lst.id, created_at=now)
            subscriber.subscriptions.append(sub)
        sub.status = "active"
        sub.confirmed_at = now
        sub.unsubscribed_at = None
        session.add(
            ConsentEvent(
                subscriber_id=subscriber.id,
                list_id=lst.id,
                list_slug=lst.slug,
                event="confirmed",
                purpose=_purpose(lst),
                lawful_basis="consent",
                source=str(payload.get("source") or "form"),
                consent_text_id=payload.get("consent_text_id"),
                privacy_notice_id=payload.get("privacy_notice_id"),
                language="sv",
                occurred_at=now,
                requested_at=token.created_at,
            )
        )
    # A pending signup's other (unconfirmed) lists stay pending until retention.
    await suppression.lift(session, settings, subscriber.email)
    await session.flush()
    queue_welcome(session, settings, subscriber, chosen)
    return Confirmed(subscriber=subscriber, purpose="confirm", lists=chosen)


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


# ------------------------------------------------------------ preference centre


async def set_lists(
    session: AsyncSession,
    settings: Settings,
    subscriber: Subscriber,
    list_values: Sequence[str],
    *,
    now: datetime | None = None,
) -> None:
    """The preference centre's list choice. Public lists, and hidden lists the person is
    already on, may be chosen; anything else is a tampered form."""
    now = now or utcnow()
    allowed = {lst.id: lst for lst in await all_lists(session)}
    mine = active_list_ids(subscriber)
    allowed = {i: lst for i, lst in allowed.items() if lst.is_public or i in mine}
    wanted: set[int] = set()
    for value in list_values:
        if not value.isdigit() or int(value) not in allowed:
            raise ValidationFailed(MESSAGES["form_invalid"], fields={"lists": MESSAGES["bad_list"]})
        wanted.add(int(value))
    leaving = sorted(mine - wanted)
    if leaving:
        await unsubscribe(
            session, settings, subscriber.id, channel="preference-centre", list_ids=leaving
        )
    joining = sorted(wanted - mine)
    if joining:
        consent = await current_text(session, "consent")
        privacy = await current_text(session, "privacy")
        existing = {s.list_id: s for s in subscriber.subscriptions}
        for list_id in joining:
            lst = allowed[list_id]
            sub = existing.get(list_id)
            if sub is None:
                sub = Subscription(list_id=list_id, created_at=now)
                subscriber.subscriptions.append(sub)
            sub.status = "active"
            sub.confirmed_at = now
            sub.unsubscribed_at = None
            # The signed link proves the address, so the request is confirmed at once.
            for event in ("requested", "confirmed"):
                session.add(
                    ConsentEvent(
                        subscriber_id=subscriber.id,
                        list_id=list_id,
                        list_slug=lst.slug,
                        event=event,
                        purpose=_purpose(lst),
                        lawful_basis="consent",
                        source="preference-centre",
                        consent_text_id=consent.id,
                        privacy_notice_id=privacy.id,
                        language="sv",
                        occurred_at=now,
                        requested_at=now,
                    )
                )
        subscriber.status = "active"
        subscriber.unsubscribed_at = None
        subscriber.updated_at = now
    await session.flush()


async def update_details(
    session: AsyncSession, subscriber: Subscriber, *, name: str, organisation: str, role: str
) -> None:
    errors: dict[str, str] = {}
    clean = {
        "name": _check_text(name, "name", errors),
        "organisation": _check_text(organisation, "organisation", errors),
        "role": _check_text(role, "role", errors),
    }
    if errors:
        raise ValidationFailed(MESSAGES["form_invalid"], fields=errors)
    for key, value in clean.items():
        setattr(subscriber, key, value)
    subscriber.updated_at = utcnow()
    await session.flush()


async def request_address_change(
    session: AsyncSession,
    settings: Settings,
    subscriber: Subscriber,
    raw_address: str,
    *,
    now: datetime | None = None,
) -> None:
    """Mail a confirmation link to the new address; the address changes only when it is used."""
    now = now or utcnow()
    new_email = normalise_address(raw_address, field="new_email")
    if new_email == subscriber.email:
        raise ValidationFailed(
            MESSAGES["same_address"], fields={"new_email": MESSAGES["same_address"]}
        )
    raw = await _new_action_token(
        session,
        subscriber.id,
        "change-email",
        {"email": new_email},
        timedelta(days=settings.unconfirmed_days),
        now,
    )
    message = texts.build(
        settings,
        to=new_email,
        template="subscribers/change_email",
        context={
            "confirm_url": settings.url(f"/bekrafta/{raw}"),
            "days": settings.unconfirmed_days,
        },
    )
    mailqueue.enqueue(session, message, kind="change-email", subscriber_id=subscriber.id)


# ------------------------------------------------------------------ unsubscribe


async def unsubscribe(
    session: AsyncSession,
    settings: Settings,
    subscriber_id: int,
    *,
    channel: str,
    list_ids: list[int] | None = None,
) -> None:
    """Withdraw consent for ``list_ids`` (all lists when None). Idempotent."""
    subscriber = await get_subscriber(session, subscriber_id)
    if subscriber is None:
        return
    now = utcnow()
    lists_by_id = {lst.id: lst for lst in await all_lists(session)}
    for sub in subscriber.subscriptions:
        if list_ids is not None and sub.list_id not in list_ids:
            continue
        if sub.status == "unsubscribed":
            continue
        sub.status = "unsubscribed"
        sub.unsubscribed_at = now
        lst = lists_by_id.get(sub.list_id)
        session.add(
            ConsentEvent(
                subscriber_id=subscriber.id,
                list_id=sub.list_id,
                list_slug=lst.slug if lst is not None else str(sub.list_id),
                event="withdrawn",
                purpose=_purpose(lst) if lst is not None else "",
                lawful_basis="consent",
                source=channel,
                channel=channel,
                language="sv",
                occurred_at=now,
            )
        )
    if subscriber.status in ("active", "pending") and all(
        s.status == "unsubscribed" for s in subscriber.subscriptions
    ):
        subscriber.status = "unsubscribed"
        subscriber.unsubscribed_at = now
    subscriber.updated_at = now
    await session.flush()


async def unsubscribe_by_token(
    session: AsyncSession, settings: Settings, token: str, *, channel: str
) -> bool:
    """Unsubscribe from all lists by the token of a List-Unsubscribe link (e.g. the
    ``mailto:`` target's subject). False when the token is forged; True otherwise, also
    when the person is already gone (idempotent)."""
    try:
        subscriber_id, _version = links.read_token(settings, links.UNSUBSCRIBE_PURPOSE, token)
    except NotFound:
        return False
    await unsubscribe(session, settings, subscriber_id, channel=channel)
    return True


# ---------------------------------------------------------------------- export


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def export_data(session: AsyncSession, subscriber: Subscriber) -> dict[str, Any]:
    """Everything held about one person (Art. 15/20), with the exact consent texts."""
    lists_by_id = {lst.id: lst for lst in await all_lists(session)}
    events = (
        await session.execute(
            select(ConsentEvent)
            .where(ConsentEvent.subscriber_id == subscriber.id)
            .order_by(ConsentEvent.occurred_at, ConsentEvent.id)
        )
    ).scalars()
    text_ids: set[int] = set()
    history = []
    for ev in events:
        for ref in (ev.consent_text_id, ev.privacy_notice_id):
            if ref is not None:
                text_ids.add(ref)
        history.append(
            {
                "event": ev.event,
                "list": ev.list_slug,
                "purpose": ev.purpose,
                "lawful_basis": ev.lawful_basis,
                "source": ev.source,
                "channel": ev.channel,
                "language": ev.language,
                "occurred_at": _iso(ev.occurred_at),
                "requested_at": _iso(ev.requested_at),
                "consent_text_id": ev.consent_text_id,
                "privacy_notice_id": ev.privacy_notice_id,
            }
        )
    texts = {}
    if text_ids:
        for text in (
            await session.execute(select(ConsentText).where(ConsentText.id.in_(text_ids)))
        ).scalars():
            texts[str(text.id)] = {
                "kind": text.kind,
                "version": text.version,
                "language": text.language,
                "title": text.title,
                "body": text.body,
                "published_at": _iso(text.published_at),
            }
    pending = (
        await session.execute(
            select(ActionToken).where(
                ActionToken.subscriber_id == subscriber.id, ActionToken.used_at.is_(None)
            )
        )
    ).scalars()
    deliveries = (
        await session.execute(
            select(Delivery).where(Delivery.subscriber_id == subscriber.id).order_by(Delivery.id)
        )
    ).scalars()
    bounces = (
        await session.execute(
            select(BounceEvent)
            .where(BounceEvent.subscriber_id == subscriber.id)
            .order_by(BounceEvent.id)
        )
    ).scalars()
    return {
        "subscriber": {
            "email": subscriber.email,
            "name": subscriber.name,
            "organisation": subscriber.organisation,
            "role": subscriber.role,
            "language": subscriber.language,
            "status": subscriber.status,
            "created_at": _iso(subscriber.created_at),
            "confirmed_at": _iso(subscriber.confirmed_at),
            "unsubscribed_at": _iso(subscriber.unsubscribed_at),
            "bounced_at": _iso(subscriber.bounced_at),
            "soft_bounces": subscriber.soft_bounces,
            "hard_bounces": subscriber.hard_bounces,
        },
        "subscriptions": [
            {
                "list": lists_by_id[s.list_id].slug if s.list_id in lists_by_id else s.list_id,
                "list_name": lists_by_id[s.list_id].name if s.list_id in lists_by_id else "",
                "status": s.status,
                "created_at": _iso(s.created_at),
                "confirmed_at": _iso(s.confirmed_at),
                "unsubscribed_at": _iso(s.unsubscribed_at),
            }
            for s in subscriber.subscriptions
        ],
        "consent_history": history,
        "consent_texts": texts,
        "deliveries": [
            {
                "issue_id": d.issue_id,
                "state": d.state,
                "attempts": d.attempts,
                "sent_at": _iso(d.sent_at),
                "last_reply": d.last_reply,
            }
            for d in deliveries
        ],
        "bounces": [
            {"kind": b.kind, "received_at": _iso(b.received_at), "detail": b.detail}
            for b in bounces
        ],
        "pending_confirmations": [
            {
                "purpose": t.purpose,
                "created_at": _iso(t.created_at),
                "expires_at": _iso(t.expires_at),
            }
            for t in pending
        ],
    }


async def export_all(session: AsyncSession) -> list[dict[str, Any]]:
    """One row per subscriber: status, lists and consent times (for operators/editors)."""
    lists_by_id = {lst.id: lst for lst in await all_lists(session)}
    rows = []
    subscribers = (await session.execute(select(Subscriber).order_by(Subscriber.id))).scalars()
    for sub in subscribers:
        active = sorted(
            lists_by_id[s.list_id].slug
            for s in sub.subscriptions
            if s.status == "active" and s.list_id in lists_by_id
        )
        rows.append(
            {
                "email": sub.email,
                "name": sub.name,
                "organisation": sub.organisation,
                "role": sub.role,
                "status": sub.status,
                "lists": active,
                "created_at": _iso(sub.created_at),
                "confirmed_at": _iso(sub.confirmed_at),
                "unsubscribed_at": _iso(sub.unsubscribed_at),
            }
        )
    return rows


# ----------------------------------------------------------------------- erasure


async def _delete_person(session: AsyncSession, subscriber_id: int) -> None:
    """Delete a person and everything that names them. Delivery rows stay for the issue's
    statistics (their subscriber_id becomes NULL) but lose the SMTP reply text, and bounce
    reports are deleted, because both may quote the address."""
    subscriber = await session.get(Subscriber, subscriber_id)
    if subscriber is not None:
        session.expunge(subscriber)
    await session.execute(
        update(Delivery).where(Delivery.subscriber_id == subscriber_id).values(last_reply=None)
    )
    await session.execute(delete(BounceEvent).where(BounceEvent.subscriber_id == subscriber_id))
    await session.execute(delete(ConsentEvent).where(ConsentEvent.subscriber_id == subscriber_id))
    await session.execute(delete(ActionToken).where(ActionToken.subscriber_id == subscriber_id))
    await session.execute(delete(Subscription).where(Subscription.subscriber_id == subscriber_id))
    await session.execute(delete(Subscriber).where(Subscriber.id == subscriber_id))
    if subscriber is not None:  # queued and logged mails to the person, composed or not
        await mailqueue.forget(session, subscriber_id, subscriber.email)


async def erase(
    session: AsyncSession, settings: Settings, subscriber_id: int, *, actor: str
) -> None:
    """Art. 17 erasure; idempotent (an unknown id does nothing)."""
    subscriber = await get_subscriber(session, subscriber_id)
    if subscriber is None:
        return
    await suppression.suppress(session, settings, subscriber.email, "erased")
    await _delete_person(session, subscriber_id)
    audit.record(session, actor, "subscriber.erased", "subscriber", subscriber_id)
    await session.flush()
    after_commit(session, _scrub(settings, subscriber.email))


def _scrub(settings: Settings, address: str) -> AfterCommit:
    """After an erasure is committed: no copy of the person's data left in the SQLite
    WAL, nor in the outbox transport's files."""

    async def scrub(session: AsyncSession) -> None:
        await checkpoint_sqlite(session)
        if settings.smtp_url is None:
            await asyncio.to_thread(forget_in_outbox, settings.outbox_dir, address)

    return scrub


# --------------------------------------------------------------------- retention


async def _ids(session: AsyncSession, *conditions: Any) -> list[tuple[int, str]]:
    found = await session.execute(select(Subscriber.id, Subscriber.email).where(*conditions))
    return [(int(row[0]), str(row[1])) for row in found]


async def run_retention(
    session: AsyncSession, settings: Settings, now: datetime | None = None
) -> dict[str, int]:
    """Purge what we may no longer keep; returns counts per category."""
    now = now or utcnow()
    result = {"unconfirmed": 0, "unsubscribed": 0, "bounced": 0, "tokens": 0}
    unconfirmed = await _ids(
        session,
        Subscriber.status == "pending",
        Subscriber.created_at < now - timedelta(days=settings.unconfirmed_days),
    )
    for subscriber_id, _email in unconfirmed:
        await _delete_person(session, subscriber_id)
    result["unconfirmed"] = len(unconfirmed)
    for status, days, stamp in (
        ("unsubscribed", settings.unsubscribed_days, Subscriber.unsubscribed_at),
        ("bounced", settings.bounced_days, Subscriber.bounced_at),
    ):
        gone = await _ids(session, Subscriber.status == status, stamp < now - timedelta(days=days))
        for subscriber_id, email in gone:
            await suppression.suppress(session, settings, email, status)
            await _delete_person(session, subscriber_id)
        result[status] = len(gone)
    tokens = await session.execute(
        delete(ActionToken).where(ActionToken.expires_at < now - timedelta(days=1))
    )
    result["tokens"] = int(tokens.rowcount or 0)  # type: ignore[attr-defined]
    if any(result.values()):
        audit.record(session, "system", "retention.run", "subscribers", None, **result)
        after_commit(session, checkpoint_sqlite)
    await session.flush()
    return result
