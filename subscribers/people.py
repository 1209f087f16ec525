"""Finding a subscriber: by address (normalised, or as typed), by id, and by the signed
link in their mails."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.core.addresses import normalise_address
from service.errors import Gone, NotFound
from service.settings import Settings
from subscribers import links
from subscribers.messages import MESSAGES
from subscribers.models import Subscriber


async def find_by_address(session: AsyncSession, normalised: str) -> Subscriber | None:
    found = await session.execute(select(Subscriber).where(Subscriber.email == normalised))
    return found.scalar_one_or_none()


async def require_by_address(session: AsyncSession, raw: str) -> Subscriber:
    """The subscriber with the address as someone typed it (an operator); NotFound if none."""
    subscriber = await find_by_address(session, normalise_address(raw))
    if subscriber is None:
        raise NotFound(MESSAGES["no_such_address"])
    return subscriber


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
