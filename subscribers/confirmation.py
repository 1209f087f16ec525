"""Using a mailed confirmation link: a signup (double opt-in) or an address change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from service.db import utcnow
from service.errors import NotFound
from service.settings import Settings
from subscribers.lists import lists_by_ids
from subscribers.messages import MESSAGES
from subscribers.models import MailingList, Subscriber
from subscribers.people import get_subscriber
from subscribers.preferences import change_address
from subscribers.signup import confirm_signup
from subscribers.tokens import load_action_token


@dataclass
class Pending:
    """What a mailed confirmation link is about to confirm."""

    purpose: str  # "confirm" (a signup) or "change-email"
    lists: list[MailingList]  # a signup's lists
    new_email: str  # an address change's new address


async def pending(session: AsyncSession, raw: str) -> Pending:
    """For the link's page, which only shows a button (mail scanners follow links, so a
    GET changes nothing): NotFound for an unknown link, Gone for a used or expired one."""
    token = await load_action_token(session, raw)
    return Pending(
        purpose=token.purpose,
        lists=await lists_by_ids(session, token.payload.get("list_ids", [])),
        new_email=token.payload.get("email", ""),
    )


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
        await change_address(session, settings, subscriber, token, now=now)
        return Confirmed(subscriber=subscriber, purpose="change-email", lists=[])
    if token.purpose != "confirm":
        raise NotFound(MESSAGES["link_unknown"])
    chosen = await confirm_signup(session, settings, subscriber, token, now=now)
    return Confirmed(subscriber=subscriber, purpose="confirm", lists=chosen)
