"""The preference centre's changes: lists, details, and an address change (confirmed from
the new address before it takes effect).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from service.core import ratelimit
from service.core.addresses import normalise_address
from service.db import utcnow
from service.errors import Conflict, ValidationFailed
from service.mail import queue as mailqueue
from service.mail import texts
from service.settings import Settings
from subscribers import ledger, suppression
from subscribers.consent_texts import current_text
from subscribers.fields import check_text
from subscribers.lists import activate, active_list_ids, choosable_lists
from subscribers.messages import MESSAGES
from subscribers.models import ActionToken, Subscriber
from subscribers.people import find_by_address
from subscribers.tokens import new_action_token
from subscribers.unsubscribe import unsubscribe

ADDRESS_CHANGES_PER_HOUR = 5
ADDRESS_CHANGE_WINDOW_SECONDS = 3600
"""Address changes one subscriber may request per hour. Each mails a link to an address
typed into the form, so without a limit a stolen preference link (or a script) could
mail strangers through us; five leaves room for typos."""


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
    allowed = {lst.id: lst for lst in await choosable_lists(session, subscriber)}
    mine = active_list_ids(subscriber)
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
        for list_id in joining:
            activate(subscriber, list_id, now)
            # The signed link proves the address, so the request is confirmed at once.
            ledger.record(
                session,
                subscriber.id,
                allowed[list_id],
                "requested",
                "confirmed",
                source="preference-centre",
                occurred_at=now,
                requested_at=now,
                consent_text_id=consent.id,
                privacy_notice_id=privacy.id,
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
        "name": check_text(name, "name", errors),
        "organisation": check_text(organisation, "organisation", errors),
        "role": check_text(role, "role", errors),
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
    """Mail a confirmation link to the new address; the address changes only when it is used.

    At most :data:`ADDRESS_CHANGES_PER_HOUR` requests per subscriber and hour, whether
    the typed address is valid or not (ValidationFailed on ``new_email`` beyond that).
    """
    now = now or utcnow()
    key = f"change-email:{subscriber.id}"
    if not await ratelimit.hit(
        session, key, ADDRESS_CHANGES_PER_HOUR, ADDRESS_CHANGE_WINDOW_SECONDS, now=now.timestamp()
    ):
        raise ValidationFailed(
            MESSAGES["change_rate"], fields={"new_email": MESSAGES["change_rate"]}
        )
    new_email = normalise_address(raw_address, field="new_email")
    if new_email == subscriber.email:
        raise ValidationFailed(
            MESSAGES["same_address"], fields={"new_email": MESSAGES["same_address"]}
        )
    raw = await new_action_token(
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


async def change_address(
    session: AsyncSession,
    settings: Settings,
    subscriber: Subscriber,
    token: ActionToken,
    *,
    now: datetime,
) -> None:
    """The new address was confirmed: it replaces the old one (unless another subscription
    uses it) and every link mailed before stops working (``token_version``)."""
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
