"""Withdrawing consent: from some lists or all, by any channel (one-click, mailto, the
preference centre, an editor, a bounce); idempotent.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from service.db import utcnow
from service.errors import NotFound
from service.settings import Settings
from subscribers import links
from subscribers.ledger import purpose_of
from subscribers.lists import all_lists
from subscribers.models import ConsentEvent
from subscribers.people import get_subscriber

CHANNELS = ("one-click", "preference-centre", "mailto", "editor", "bounce", "cli")


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
                purpose=purpose_of(lst) if lst is not None else "",
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
