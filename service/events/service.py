"""Event registration: the business rules the web layer, the CLI and the jobs call.

Every function takes the caller's session and never commits: the caller owns the
transaction (the request's database dependency, ``session_scope`` in jobs and the
CLI). Mails are queued in that same transaction (:mod:`service.events.mails`).

Seats: ``Event.seats_taken`` counts confirmed and offered registrations and is only
changed by :func:`_take_seat` / :func:`_release_seat`, conditional UPDATEs of the event
row. On PostgreSQL a second UPDATE of the row waits for the first transaction and then
re-evaluates ``seats_taken < capacity``; on SQLite writers are serialised. So the
capacity is never exceeded, however many confirmations race for the last seat.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from service.calendar.models import CalendarItem
from service.core import audit, csvsafe, ratelimit
from service.core.dates import STOCKHOLM, format_datetime, format_when
from service.db import is_row_id, utcnow
from service.errors import Conflict, Gone, NotFound, RateLimited, ValidationFailed
from service.events import links, mails
from service.events.forms import (
    DEFAULT_CONSENT,
    OPTIONAL_FIELDS,
    RegistrationForm,
    RegistrationSettings,
    check_form,
    check_info,
    check_settings,
)
from service.events.messages import MESSAGES
from service.events.models import ACTIVE, HOLDS_SEAT, Event, EventConsentText, Registration
from service.security.signing import hash_token
from service.settings import Settings

REGISTRATION_WINDOW_SECONDS = 3600
STATUS_NAMES = {
    "pending": "Ej bekräftad",
    "confirmed": "Bekräftad",
    "offered": "Erbjuden plats",
    "waitlisted": "Reservlista",
    "full": "Fullbokat",
    "cancelled": "Avbokad",
}
FIELD_NAMES = {
    "organisation": "Organisation",
    "role": "Befattning",
    "phone": "Telefon",
    "needs": "Specialkost eller tillgänglighet",
}


# ---------------------------------------------------------------------- times


def starts_at(item: CalendarItem) -> datetime:
    """When the item starts (an all-day item: midnight, Stockholm time), in UTC."""
    if item.starts_at is not None and not item.all_day:
        return item.starts_at
    return datetime.combine(item.start_date, time(0), tzinfo=STOCKHOLM).astimezone(UTC)


def ends_at(item: CalendarItem) -> datetime:
    """When the item is over (an all-day item: the end of its last day), in UTC."""
    if item.starts_at is not None and not item.all_day:
        return item.ends_at or item.starts_at
    last = item.end_date or item.start_date
    return datetime.combine(last + timedelta(days=1), time(0), tzinfo=STOCKHOLM).astimezone(UTC)


def closing_time(event: Event, item: CalendarItem) -> datetime:
    """When registration closes: the editor's time, else the end of the item's
    registration deadline day (Stockholm), else the start of the event."""
    if event.closes_at is not None:
        return event.closes_at
    if item.registration_deadline is not None:
        end = datetime.combine(item.registration_deadline + timedelta(days=1), time(0))
        return end.replace(tzinfo=STOCKHOLM).astimezone(UTC)
    return starts_at(item)


# ---------------------------------------------------------------------- reading


async def get_event(session: AsyncSession, event_id: int) -> Event:
    event = await session.get(Event, event_id) if is_row_id(event_id) else None
    if event is None:
        raise NotFound(MESSAGES["no_event"])
    return event


async def event_for_item(session: AsyncSession, item_id: int) -> Event | None:
    """The registration settings of a calendar item, if registration was turned on."""
    if not is_row_id(item_id):
        return None
    found = await session.execute(select(Event).where(Event.calendar_item_id == item_id))
    return found.scalar_one_or_none()


async def list_events(session: AsyncSession) -> list[tuple[Event, CalendarItem | None]]:
    """Every event with its item (None once deleted and never announced), newest first."""
    events = (await session.execute(select(Event).order_by(Event.id.desc()))).scalars()
    return [(event, await mails.item_of(session, event)) for event in events]


async def current_consent_text(session: AsyncSession, event_id: int) -> EventConsentText:
    found = await session.execute(
        select(EventConsentText)
        .where(EventConsentText.event_id == event_id)
        .order_by(EventConsentText.version.desc())
        .limit(1)
    )
    text = found.scalar_one_or_none()
    if text is None:
        raise NotFound(MESSAGES["no_event"])
    return text


async def consent_versions(session: AsyncSession, event_id: int) -> list[EventConsentText]:
    found = await session.execute(
        select(EventConsentText)
        .where(EventConsentText.event_id == event_id)
        .order_by(EventConsentText.version.desc())
    )
    return list(found.scalars())


@dataclass(frozen=True)
class Availability:
    """What the public form shows: whether one can register now, and why not."""

    open: bool
    reason: str  # Swedish, empty when open
    seats_left: int | None  # None: unlimited
    waitlist: bool
    closes_at: datetime | None
    # open, waitlist (open, no seat left), not_open (opens later), closed (passed its
    # closing time or started), full (no seat, no waitlist), cancelled, deleted
    state: str = "open"
    opens_at: datetime | None = None


@dataclass(frozen=True)
class PublicForm:
    event: Event
    item: CalendarItem
    consent_text: EventConsentText
    availability: Availability
    fields: list[str]  # the optional fields asked, in form order
    questions: list[dict[str, Any]]


def availability(event: Event, item: CalendarItem | None, now: datetime) -> Availability:
    left = None if event.capacity is None else max(0, event.capacity - event.seats_taken)
    closes = closing_time(event, item) if item is not None else None

    def shut(reason: str, state: str) -> Availability:
        return Availability(False, reason, left, event.waitlist, closes, state, event.opens_at)

    if item is None or event.calendar_item_id is None or mails.is_gone(item):
        return shut(MESSAGES["deleted"], "deleted")
    if event.cancelled_at is not None:
        return shut(MESSAGES["cancelled"], "cancelled")
    if event.opens_at is not None and now < event.opens_at:
        return shut(MESSAGES["not_open"].format(when=format_datetime(event.opens_at)), "not_open")
    if now >= starts_at(item):
        return shut(MESSAGES["started"], "closed")
    if closes is not None and now >= closes:
        return shut(MESSAGES["closed"], "closed")
    if left == 0 and not event.waitlist:
        return shut(MESSAGES["full"], "full")
    state = "waitlist" if left == 0 else "open"
    return Availability(True, "", left, event.waitlist, closes, state, event.opens_at)


async def public_form(
    session: AsyncSession, event_id: int, *, now: datetime | None = None
) -> PublicForm:
    """What the registration page shows (it changes nothing)."""
    event = await get_event(session, event_id)
    item = await mails.item_of(session, event)
    if item is None or event.calendar_item_id is None or mails.is_gone(item):
        raise NotFound(MESSAGES["deleted"])
    return PublicForm(
        event=event,
        item=item,
        consent_text=await current_consent_text(session, event.id),
        availability=availability(event, item, now or utcnow()),
        fields=[f for f in OPTIONAL_FIELDS if f in event.fields],
        questions=list(event.questions),
    )


# ---------------------------------------------------------------------- editors


async def configure(
    session: AsyncSession,
    settings: Settings,
    item_id: int,
    cfg: RegistrationSettings,
    *,
    actor: str,
    now: datetime | None = None,
) -> Event:
    """Turn on registration for a calendar item, or change its settings.

    A changed consent text is published as a new version (old versions stay, as
    registrations name the one they were shown). A raised capacity gives the new seats
    to the waitlist at once. ValidationFailed for bad settings.
    """
    now = now or utcnow()
    item = await session.get(CalendarItem, item_id) if is_row_id(item_id) else None
    if item is None:
        raise NotFound("Kalenderpunkten finns inte.")
    event = await event_for_item(session, item_id)
    questions = check_settings(cfg, seats_taken=event.seats_taken if event else 0)
    body = (cfg.consent_text or "").strip() or DEFAULT_CONSENT.format(days=cfg.retention_days)
    created = event is None
    if event is None:
        event = Event(
            calendar_item_id=item.id,
            announced=mails.snapshot(item),
            notified_sequence=item.sequence,
            seats_taken=0,
            info_mails=0,
            stats={},
            created_at=now,
        )
        session.add(event)
    event.capacity = cfg.capacity
    event.opens_at = cfg.opens_at
    event.closes_at = cfg.closes_at
    event.waitlist = bool(cfg.waitlist)
    event.fields = [f for f in OPTIONAL_FIELDS if f in cfg.fields]
    event.questions = questions
    event.retention_days = cfg.retention_days
    event.reminder_days = cfg.reminder_days
    event.offer_hours = cfg.offer_hours
    event.updated_at = now
    await session.flush()
    latest = None if created else await current_consent_text(session, event.id)
    if latest is None or latest.body != body:
        session.add(
            EventConsentText(
                event_id=event.id,
                version=(latest.version if latest else 0) + 1,
                body=body,
                published_at=now,
            )
        )
    audit.record(
        session,
        actor,
        "event.configure" if not created else "event.create",
        "event",
        event.id,
        calendar_item_id=item.id,
        capacity=event.capacity,
    )
    await session.flush()
    await fill_seats(session, settings, event, now=now)
    return event


# ---------------------------------------------------------------------- seats


def _sync_seats(session: AsyncSession, event_id: int, seats: int | None) -> None:
    """Tell a loaded Event object the counter the database now holds (the UPDATEs
    below bypass the ORM, and an async session cannot lazy-load a stale attribute)."""
    event = session.identity_map.get(identity_key(Event, event_id))
    if event is not None and seats is not None:
        set_committed_value(event, "seats_taken", seats)


async def _take_seat(session: AsyncSession, event_id: int) -> bool:
    """Take one seat if one is left (a conditional UPDATE of the event row)."""
    result = await session.execute(
        update(Event)
        .where(
            Event.id == event_id,
            (Event.capacity.is_(None)) | (Event.seats_taken < Event.capacity),
        )
        .values(seats_taken=Event.seats_taken + 1)
        .returning(Event.seats_taken)
        .execution_options(synchronize_session=False)
    )
    seats = result.scalar_one_or_none()
    _sync_seats(session, event_id, seats)
    return seats is not None


async def _release_seat(session: AsyncSession, event_id: int) -> None:
    result = await session.execute(
        update(Event)
        .where(Event.id == event_id, Event.seats_taken > 0)
        .values(seats_taken=Event.seats_taken - 1)
        .returning(Event.seats_taken)
        .execution_options(synchronize_session=False)
    )
    _sync_seats(session, event_id, result.scalar_one_or_none())


async def _move(
    session: AsyncSession, registration: Registration, from_states: tuple[str, ...], **values: Any
) -> bool:
    """Change a registration only if it is still in one of ``from_states`` (a concurrent
    change of the same row makes this one do nothing); the object is updated too."""
    result = await session.execute(
        update(Registration)
        .where(Registration.id == registration.id, Registration.status.in_(from_states))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        await session.refresh(registration)
        return False
    for key, value in values.items():
        setattr(registration, key, value)
    return True


async def _next_waitlisted(session: AsyncSession, event_id: int) -> Registration | None:
    found = await session.execute(
        select(Registration)
        .where(Registration.event_id == event_id, Registration.status == "waitlisted")
        .order_by(Registration.waitlisted_at, Registration.id)
        .limit(1)
    )
    return found.scalar_one_or_none()


async def fill_seats(
    session: AsyncSession, settings: Settings, event: Event, *, now: datetime | None = None
) -> list[Registration]:
    """Give free seats to the waitlist, first come first served: offered (with a
    deadline, ``offer_hours``) or confirmed at once; each is told by mail."""
    now = now or utcnow()
    promoted: list[Registration] = []
    if event.cancelled_at is not None or event.erased_at is not None:
        return promoted
    item = await mails.item_of(session, event)
    if item is None:
        return promoted
    while (candidate := await _next_waitlisted(session, event.id)) is not None:
        if not await _take_seat(session, event.id):
            break
        if event.offer_hours:
            moved = await _move(
                session,
                candidate,
                ("waitlisted",),
                status="offered",
                offered_at=now,
                offer_expires_at=now + timedelta(hours=event.offer_hours),
            )
        else:
            moved = await _move(session, candidate, ("waitlisted",), status="confirmed")
        if not moved:
            await _release_seat(session, event.id)
            continue
        mails.queue_seat_mail(session, settings, event, item, candidate, now=now)
        promoted.append(candidate)
    return promoted


# ---------------------------------------------------------------------- visitors


async def register(
    session: AsyncSession,
    settings: Settings,
    event_id: int,
    form: RegistrationForm,
    *,
    client_ip: str,
    now: datetime | None = None,
) -> None:
    """A registration form was posted.

    It counts against the rate limits per client IP (``INNAN_REGISTRATION_IP_PER_HOUR``)
    and in total (``INNAN_REGISTRATION_GLOBAL_PER_HOUR``): RateLimited beyond either. A
    filled-in honeypot gets the answer a person gets, and nothing is stored. Then the
    event must be open (ValidationFailed, field ``event``) and every field valid
    (ValidationFailed per field). Then one registration row (``pending``) and one
    queued mail row are written, whatever the address: the worker composes the
    confirmation link (:func:`service.events.mails.compose_confirm`), so neither the
    answer nor its timing tells whether the address is registered already. With
    ``newsletter`` ticked, a separate newsletter signup is requested too (its own
    consent record and its own confirmation mail).

    As with signup, the rate counts should be committed also when this raises.
    """
    now = now or utcnow()
    ip_ok = await ratelimit.hit(
        session,
        f"registration-ip:{client_ip}",
        settings.registration_ip_per_hour,
        REGISTRATION_WINDOW_SECONDS,
    )
    global_ok = await ratelimit.hit(
        session,
        "registration-global",
        settings.registration_global_per_hour,
        REGISTRATION_WINDOW_SECONDS,
    )
    if not (ip_ok and global_ok):
        raise RateLimited(MESSAGES["rate_limited"], retry_after=REGISTRATION_WINDOW_SECONDS)
    event = await get_event(session, event_id)
    item = await mails.item_of(session, event)
    state = availability(event, item, now)
    if not state.open:
        raise ValidationFailed(state.reason, fields={"event": state.reason})
    if form.honeypot.strip():
        return
    clean = check_form(form, list(event.fields), list(event.questions))
    consent = await current_consent_text(session, event.id)
    if form.consent_text_id.isdigit():
        shown = await session.get(EventConsentText, int(form.consent_text_id))
        if shown is not None and shown.event_id == event.id:
            consent = shown
    registration = Registration(
        event_id=event.id,
        email=clean.email,
        name=clean.name,
        organisation=clean.organisation,
        role=clean.role,
        phone=clean.phone,
        needs=clean.needs,
        answers=clean.answers,
        consent_text_id=consent.id,
        newsletter=clean.newsletter,
        status="pending",
        manage_version=1,
        created_at=now,
    )
    session.add(registration)
    await session.flush()
    from service.mail import queue as mailqueue

    mailqueue.enqueue_composed(
        session,
        kind=mails.CONFIRM_KIND,
        recipient=clean.email,
        payload={"registration_id": registration.id},
        reference=mails.registration_reference(registration),
        now=now,
    )
    if clean.newsletter:
        await _request_newsletter(session, clean.email, clean, now)


async def _request_newsletter(session: AsyncSession, email: str, clean: Any, now: datetime) -> None:
    """The "also subscribe" box: a newsletter signup of its own (never implied)."""
    from subscribers.consent_texts import current_text
    from subscribers.lists import public_lists
    from subscribers.signup import SignupRequest, request_signup

    lists = await public_lists(session)
    if not lists:
        return
    request_signup(
        session,
        SignupRequest(
            email=email,
            name=clean.name,
            organisation=clean.organisation,
            role=clean.role,
            lists=lists[:1],
            consent_text=await current_text(session, "consent"),
            privacy_notice=await current_text(session, "privacy"),
            source="event",
        ),
        now=now,
    )


async def _by_confirm_token(session: AsyncSession, raw: str, now: datetime) -> Registration:
    if not raw or len(raw) > 200:
        raise NotFound(MESSAGES["link_unknown"])
    found = await session.execute(
        select(Registration).where(Registration.confirm_token_hash == hash_token(raw))
    )
    registration = found.scalar_one_or_none()
    if registration is None:
        raise NotFound(MESSAGES["link_unknown"])
    if (
        registration.status == "pending"
        and registration.confirm_expires_at is not None
        and registration.confirm_expires_at <= now
    ):
        raise Gone(MESSAGES["link_expired"])
    return registration


@dataclass(frozen=True)
class Outcome:
    """What a confirmation (or an action on a registration) ended in.

    ``status``: confirmed, waitlisted, offered, full (no seat, no waitlist) or
    cancelled. ``already``: the link had been used; this is the registration's state.
    """

    status: str
    registration: Registration
    event: Event
    item: CalendarItem
    already: bool = False
    position: int | None = None  # on the waitlist
    manage_url: str = ""


async def pending(session: AsyncSession, raw: str, *, now: datetime | None = None) -> Outcome:
    """For the confirmation link's page, which only shows a button (mail scanners follow
    links, so a GET changes nothing). NotFound / Gone for a bad or expired link."""
    registration = await _by_confirm_token(session, raw, now or utcnow())
    event = await get_event(session, registration.event_id)
    item = await mails.item_of(session, event)
    if item is None:
        raise Gone(MESSAGES["deleted"])
    return Outcome(registration.status, registration, event, item, already=False)


async def waitlist_position(session: AsyncSession, registration: Registration) -> int | None:
    if registration.status != "waitlisted" or registration.waitlisted_at is None:
        return None
    ahead = await session.execute(
        select(func.count())
        .select_from(Registration)
        .where(
            Registration.event_id == registration.event_id,
            Registration.status == "waitlisted",
            (Registration.waitlisted_at < registration.waitlisted_at)
            | (
                (Registration.waitlisted_at == registration.waitlisted_at)
                & (Registration.id < registration.id)
            ),
        )
    )
    return int(ahead.scalar_one()) + 1


async def _outcome(
    session: AsyncSession,
    settings: Settings,
    registration: Registration,
    event: Event,
    item: CalendarItem,
    *,
    already: bool = False,
) -> Outcome:
    return Outcome(
        status=registration.status,
        registration=registration,
        event=event,
        item=item,
        already=already,
        position=await waitlist_position(session, registration),
        manage_url=links.manage_url(settings, registration.id, registration.manage_version),
    )


async def confirm(
    session: AsyncSession, settings: Settings, raw: str, *, now: datetime | None = None
) -> Outcome:
    """The person pressed the button behind the mailed link (a POST): the address is
    confirmed and the seat decided now, confirmed if one is left, else waitlisted (if
    the event has a waitlist), else ``full``; a mail with the decision follows (with the
    .ics and the personal link). A link used before returns the registration's state
    with ``already``. NotFound / Gone for a bad or expired link, Gone when the event
    was cancelled, deleted or has started.
    """
    now = now or utcnow()
    registration = await _by_confirm_token(session, raw, now)
    event = await get_event(session, registration.event_id)
    item = await mails.item_of(session, event)
    if item is None:
        raise Gone(MESSAGES["deleted"])
    if registration.status != "pending":
        return await _outcome(session, settings, registration, event, item, already=True)
    if event.calendar_item_id is None or mails.is_gone(item):
        raise Gone(MESSAGES["deleted"])
    if event.cancelled_at is not None:
        raise Gone(MESSAGES["cancelled"])
    if now >= starts_at(item):
        raise Gone(MESSAGES["started"])
    # Claim the registration first: of two presses of the same button one does it.
    if not await _move(session, registration, ("pending",), status="confirming"):
        return await _outcome(session, settings, registration, event, item, already=True)
    if await _take_seat(session, event.id):
        status: dict[str, Any] = {"status": "confirmed"}
    elif event.waitlist:
        status = {"status": "waitlisted", "waitlisted_at": now}
    else:
        status = {"status": "full"}
    await _move(session, registration, ("confirming",), confirmed_at=now, **status)
    mails.queue_seat_mail(session, settings, event, item, registration, now=now)
    await session.flush()
    return await _outcome(session, settings, registration, event, item)


async def registration_for_link(
    session: AsyncSession, settings: Settings, token: str
) -> Registration:
    """The registration behind a personal link; NotFound if forged, revoked or erased."""
    registration_id, version = links.read_manage_token(settings, token)
    if not is_row_id(registration_id):
        raise NotFound(MESSAGES["link_unknown"])
    registration = await session.get(Registration, registration_id)
    if registration is None:
        raise NotFound(MESSAGES["link_unknown"])
    if registration.manage_version != version or registration.status == "pending":
        raise NotFound(MESSAGES["link_revoked"])
    return registration


async def view(session: AsyncSession, settings: Settings, token: str) -> Outcome:
    """What the personal link's page shows (it changes nothing)."""
    registration = await registration_for_link(session, settings, token)
    event = await get_event(session, registration.event_id)
    item = await mails.item_of(session, event)
    if item is None:
        raise Gone(MESSAGES["deleted"])
    return await _outcome(session, settings, registration, event, item)


async def change_own(
    session: AsyncSession,
    settings: Settings,
    token: str,
    form: RegistrationForm,
    *,
    now: datetime | None = None,
) -> Registration:
    """The person changes their details and answers (not the address) by their link."""
    registration = await registration_for_link(session, settings, token)
    if registration.status not in ACTIVE:
        raise Conflict(MESSAGES["not_changeable"])
    event = await get_event(session, registration.event_id)
    form.email, form.consent = registration.email, True
    clean = check_form(form, list(event.fields), list(event.questions))
    for key in ("name", "organisation", "role", "phone", "needs", "answers"):
        setattr(registration, key, getattr(clean, key))
    await session.flush()
    return registration


async def _cancel(
    session: AsyncSession,
    settings: Settings,
    registration: Registration,
    *,
    by: str,
    now: datetime,
) -> Registration:
    held = registration.status in HOLDS_SEAT
    was = registration.status
    if not await _move(
        session,
        registration,
        (*ACTIVE, "pending", "full"),
        status="cancelled",
        cancelled_at=now,
        cancelled_by=by,
    ):
        raise Conflict(MESSAGES["not_cancellable"])
    event = await get_event(session, registration.event_id)
    item = await mails.item_of(session, event)
    if item is not None and was in ACTIVE:
        mails.queue(
            session,
            settings,
            event,
            item,
            registration,
            "cancelled",
            ics="cancel" if held else None,
            reason=by,
            now=now,
        )
    if held:
        await _release_seat(session, event.id)
        await fill_seats(session, settings, event, now=now)
    await session.flush()
    return registration


async def cancel_own(
    session: AsyncSession, settings: Settings, token: str, *, now: datetime | None = None
) -> Registration:
    """The person cancels by their personal link (a POST); the seat goes to the waitlist."""
    registration = await registration_for_link(session, settings, token)
    return await _cancel(session, settings, registration, by="self", now=now or utcnow())


async def accept_offer(
    session: AsyncSession, settings: Settings, token: str, *, now: datetime | None = None
) -> Outcome:
    """The person accepts the seat offered to them before the offer runs out."""
    now = now or utcnow()
    registration = await registration_for_link(session, settings, token)
    if registration.status != "offered":
        raise Conflict(MESSAGES["not_offered"])
    if registration.offer_expires_at is not None and registration.offer_expires_at <= now:
        raise Gone(MESSAGES["offer_expired"])
    if not await _move(session, registration, ("offered",), status="confirmed"):
        raise Conflict(MESSAGES["not_offered"])
    event = await get_event(session, registration.event_id)
    item = await mails.item_of(session, event)
    assert item is not None
    mails.queue_seat_mail(session, settings, event, item, registration, now=now)
    await session.flush()
    return await _outcome(session, settings, registration, event, item)


# ---------------------------------------------------------------------- editors' actions


async def get_registration(session: AsyncSession, registration_id: int) -> Registration:
    found = await session.get(Registration, registration_id) if is_row_id(registration_id) else None
    if found is None:
        raise NotFound(MESSAGES["registration_gone"])
    return found


async def cancel_registration(
    session: AsyncSession,
    settings: Settings,
    registration_id: int,
    *,
    actor: str,
    now: datetime | None = None,
) -> Registration:
    """An editor cancels a registration; the person is told, the seat goes on."""
    registration = await get_registration(session, registration_id)
    await _cancel(session, settings, registration, by="editor", now=now or utcnow())
    audit.record(session, actor, "registration.cancel", "registration", registration.id)
    return registration


async def promote(
    session: AsyncSession,
    settings: Settings,
    registration_id: int,
    *,
    actor: str,
    now: datetime | None = None,
) -> Registration:
    """An editor gives a waitlisted person a seat now (confirmed, no offer), ahead of
    the queue; Conflict when no seat is free (the capacity is never exceeded)."""
    now = now or utcnow()
    registration = await get_registration(session, registration_id)
    if registration.status != "waitlisted":
        raise Conflict(MESSAGES["not_waitlisted"])
    event = await get_event(session, registration.event_id)
    item = await mails.item_of(session, event)
    if item is None or event.cancelled_at is not None:
        raise Conflict(MESSAGES["cancelled"])
    if not await _take_seat(session, event.id):
        raise Conflict(MESSAGES["no_seat"])
    if not await _move(session, registration, ("waitlisted",), status="confirmed"):
        await _release_seat(session, event.id)
        raise Conflict(MESSAGES["not_waitlisted"])
    mails.queue_seat_mail(session, settings, event, item, registration, now=now)
    audit.record(session, actor, "registration.promote", "registration", registration.id)
    await session.flush()
    return registration


async def mark_attended(
    session: AsyncSession,
    registration_id: int,
    attended: bool = True,
    *,
    actor: str,
    now: datetime | None = None,
) -> Registration:
    """Check-in (or undo it) of a confirmed attendee."""
    registration = await get_registration(session, registration_id)
    if registration.status != "confirmed":
        raise Conflict("Bara bekräftade deltagare kan markeras som närvarande.")
    registration.attended_at = (now or utcnow()) if attended else None
    audit.record(
        session,
        actor,
        "registration.attended" if attended else "registration.not-attended",
        "registration",
        registration.id,
    )
    await session.flush()
    return registration


async def revoke_links(session: AsyncSession, registration_id: int, *, actor: str) -> None:
    """Make every personal link of a registration handed out so far unusable."""
    registration = await get_registration(session, registration_id)
    registration.manage_version += 1
    audit.record(session, actor, "registration.revoke-links", "registration", registration.id)
    await session.flush()


async def cancel_event(
    session: AsyncSession,
    settings: Settings,
    event_id: int,
    *,
    actor: str,
    now: datetime | None = None,
) -> int:
    """The event is cancelled: every registration is cancelled and everyone who was
    confirmed, offered or waitlisted gets a cancellation mail with a METHOD:CANCEL .ics
    (SEQUENCE above the last one sent). Idempotent; returns the mails queued."""
    now = now or utcnow()
    event = await get_event(session, event_id)
    if event.cancelled_at is not None:
        return 0
    event.cancelled_at = now
    item = await mails.item_of(session, event)
    sequence = max(event.notified_sequence, item.sequence if item else 0) + 1
    event.notified_sequence = sequence
    registrations = list(
        (
            await session.execute(
                select(Registration).where(
                    Registration.event_id == event.id,
                    Registration.status.in_((*ACTIVE, "pending", "full")),
                )
            )
        ).scalars()
    )
    sent = 0
    for registration in registrations:
        told = registration.status in ACTIVE
        registration.status = "cancelled"
        registration.cancelled_at = now
        registration.cancelled_by = "event"
        if told and item is not None:
            mails.queue(
                session,
                settings,
                event,
                item,
                registration,
                "cancelled",
                ics="cancel",
                sequence=sequence,
                reason="event",
                now=now,
            )
            sent += 1
    await session.execute(
        update(Event)
        .where(Event.id == event.id)
        .values(seats_taken=0)
        .execution_options(synchronize_session=False)
    )
    _sync_seats(session, event.id, 0)
    audit.record(session, actor, "event.cancel", "event", event.id, mails=sent)
    await session.flush()
    return sent


@dataclass(frozen=True)
class InfoMail:
    """One information mail to an event's attendees. ``reference`` is its ledger: every
    queued row of it carries it (``mail_queue.reference``), so :func:`info_ledger`
    shows per recipient whether it was sent, waits or failed."""

    reference: str
    queued: int


async def send_info(
    session: AsyncSession,
    settings: Settings,
    event_id: int,
    subject: str,
    body: str,
    *,
    actor: str,
    include_waitlisted: bool = False,
    now: datetime | None = None,
) -> InfoMail:
    """Queue an information mail to every confirmed attendee (and the waitlist)."""
    now = now or utcnow()
    subject, body = check_info(subject, body)
    event = await get_event(session, event_id)
    item = await mails.item_of(session, event)
    if item is None or event.cancelled_at is not None:
        raise Conflict(MESSAGES["cancelled"])
    states = ("confirmed", "offered", "waitlisted") if include_waitlisted else ("confirmed",)
    event.info_mails = (event.info_mails or 0) + 1
    reference = mails.info_reference(event.id, event.info_mails)
    registrations = (
        await session.execute(
            select(Registration)
            .where(Registration.event_id == event.id, Registration.status.in_(states))
            .order_by(Registration.id)
        )
    ).scalars()
    count = 0
    for registration in registrations:
        mails.queue(
            session,
            settings,
            event,
            item,
            registration,
            "info",
            reference=reference,
            subject=subject,
            body=body,
            now=now,
        )
        count += 1
    audit.record(session, actor, "event.info", "event", event.id, reference=reference, count=count)
    await session.flush()
    return InfoMail(reference=reference, queued=count)


async def info_ledger(session: AsyncSession, reference: str) -> dict[str, int]:
    """How an information mail went: queue rows by state (sent, queued, retry, failed)."""
    from service.mail.models import QueuedMail

    rows = await session.execute(
        select(QueuedMail.state, func.count())
        .where(QueuedMail.reference == reference)
        .group_by(QueuedMail.state)
    )
    return {str(state): int(n) for state, n in rows.all()}


# ---------------------------------------------------------------------- lists


async def registrations(
    session: AsyncSession, event_id: int, *, statuses: tuple[str, ...] | None = None
) -> list[Registration]:
    query = select(Registration).where(Registration.event_id == event_id)
    if statuses is not None:
        query = query.where(Registration.status.in_(statuses))
    found = await session.execute(query.order_by(Registration.created_at, Registration.id))
    return list(found.scalars())


@dataclass(frozen=True)
class Counts:
    registered: int  # confirmed their address (any outcome)
    confirmed: int
    offered: int
    waitlisted: int
    cancelled: int
    attended: int
    pending: int
    seats_left: int | None
    per_organisation: dict[str, int]  # confirmed, by organisation


async def counts(session: AsyncSession, event_id: int) -> Counts:
    event = await get_event(session, event_id)
    rows = await registrations(session, event_id)
    by = Counter(r.status for r in rows)
    return Counts(
        registered=sum(n for s, n in by.items() if s != "pending"),
        confirmed=by["confirmed"],
        offered=by["offered"],
        waitlisted=by["waitlisted"],
        cancelled=by["cancelled"],
        attended=sum(1 for r in rows if r.attended_at is not None),
        pending=by["pending"],
        seats_left=None if event.capacity is None else event.capacity - event.seats_taken,
        per_organisation=dict(
            Counter(r.organisation or "Okänd" for r in rows if r.status == "confirmed")
        ),
    )


async def attendees_csv(
    session: AsyncSession,
    event_id: int,
    *,
    statuses: tuple[str, ...] = ("confirmed", "offered", "waitlisted"),
) -> str:
    """The attendee list as CSV (formula-safe: :mod:`service.core.csvsafe`)."""
    event = await get_event(session, event_id)
    asked = [f for f in OPTIONAL_FIELDS if f in event.fields]
    out = io.StringIO()
    writer = csvsafe.writer(out)
    writer.writerow(
        [
            "Namn",
            "E-post",
            *(FIELD_NAMES[f] for f in asked),
            *(q["label"] for q in event.questions),
            "Status",
            "Anmäld",
            "Närvarande",
        ]
    )
    for r in await registrations(session, event_id, statuses=statuses):
        answers = []
        for q in event.questions:
            value = r.answers.get(q["key"], "")
            answers.append("; ".join(value) if isinstance(value, list) else str(value))
        writer.writerow(
            [
                r.name,
                r.email,
                *(getattr(r, f) for f in asked),
                *answers,
                STATUS_NAMES.get(r.status, r.status),
                r.created_at.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M"),
                "ja" if r.attended_at is not None else "",
            ]
        )
    return out.getvalue()


@dataclass(frozen=True)
class NameRow:
    name: str
    organisation: str
    role: str
    attended: bool


@dataclass(frozen=True)
class NameList:
    """A printable name list (namnlista) of the confirmed attendees, sorted by name."""

    title: str
    when: str
    place: str
    rows: list[NameRow]


async def name_list(session: AsyncSession, event_id: int) -> NameList:
    event = await get_event(session, event_id)
    item = await mails.item_of(session, event)
    confirmed = await registrations(session, event_id, statuses=("confirmed",))
    rows = sorted(
        (NameRow(r.name, r.organisation, r.role, r.attended_at is not None) for r in confirmed),
        key=lambda row: (row.name.casefold(), row.organisation.casefold()),
    )
    return NameList(
        title=item.title if item else "",
        when=format_when(item) if item else "",
        place=item.place if item else "",
        rows=rows,
    )
