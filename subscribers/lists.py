"""Mailing lists: lookups, creation, the lists a person is on, and list visibility: which
lists each form shows (public lists to everyone, a hidden list only to its members).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import Conflict, ValidationFailed
from subscribers.fields import check_text
from subscribers.models import MailingList, Subscriber, Subscription

DEFAULT_LIST_SLUG = "nyhetsbrev"  # ticked in a signup form that names no list
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


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


async def create_list(
    session: AsyncSession, slug: str, name: str, *, description: str = "", hidden: bool = False
) -> MailingList:
    errors: dict[str, str] = {}
    if not SLUG_RE.match(slug or ""):
        errors["slug"] = "Kortnamnet får bara innehålla a–z, 0–9 och bindestreck (högst 64 tecken)."
    name = check_text(name, "name", errors)
    if not name and "name" not in errors:
        errors["name"] = "Ange ett namn."
    description = check_text(description, "description", errors, limit=2000)
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


def active_list_ids(subscriber: Subscriber) -> set[int]:
    return {s.list_id for s in subscriber.subscriptions if s.status == "active"}


def activate(subscriber: Subscriber, list_id: int, now: datetime) -> None:
    """Put the person on the list (a new subscription, or an earlier one made active)."""
    sub = next((s for s in subscriber.subscriptions if s.list_id == list_id), None)
    if sub is None:
        sub = Subscription(list_id=list_id, created_at=now)
        subscriber.subscriptions.append(sub)
    sub.status = "active"
    sub.confirmed_at = now
    sub.unsubscribed_at = None


async def lists_by_ids(session: AsyncSession, ids: Iterable[Any]) -> list[MailingList]:
    """The lists with these ids, in their order; ids of lists that are gone are skipped."""
    by_id = {lst.id: lst for lst in await all_lists(session)}
    return [by_id[i] for i in ids if i in by_id]


def preselected(lists: Sequence[MailingList], slugs: str) -> list[MailingList]:
    """The lists a signup form ticks at first: those named by ``slugs`` (comma-separated,
    ``?lista=`` of the form's address), else the newsletter, else the first list."""
    wanted = set(slugs.split(",")) if slugs else {DEFAULT_LIST_SLUG}
    return [lst for lst in lists if lst.slug in wanted] or list(lists[:1])


async def choosable_lists(session: AsyncSession, subscriber: Subscriber) -> list[MailingList]:
    """The lists a person sees and may choose in the preference centre: the public ones,
    and hidden ones they are already on (hidden lists are never offered to others)."""
    mine = active_list_ids(subscriber)
    return [lst for lst in await all_lists(session) if lst.is_public or lst.id in mine]
