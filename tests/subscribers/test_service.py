"""The service functions other domains call: unsubscribe, erase, find_by_address,
run_retention; and the demo data."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import Base, utcnow
from service.delivery.models import BounceEvent, Delivery
from service.issues.models import Issue
from service.settings import Settings
from subscribers import demo, links, service
from subscribers.lists import active_list_ids
from subscribers.models import (
    ActionToken,
    ConsentEvent,
    MailingList,
    Subscriber,
    Suppression,
)
from subscribers.privacy import export_data
from subscribers.suppression import is_suppressed
from tests.pages import Client
from tests.subscribers.helpers import signup, subscribe_confirmed


async def _count(session: AsyncSession, model: type) -> int:
    return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def _two_lists(session: AsyncSession) -> list[MailingList]:
    nyhetsbrev = await service.list_by_slug(session, "nyhetsbrev")
    assert nyhetsbrev is not None
    kalendarium = await service.create_list(session, "kalendarium", "Kalendarium")
    return [nyhetsbrev, kalendarium]


async def test_unsubscribe_some_then_all_is_idempotent(
    session: AsyncSession, settings: Settings
) -> None:
    lists = await _two_lists(session)
    sub = await service.add_confirmed(session, email="u@example.se", lists=lists)
    await service.unsubscribe(session, settings, sub.id, channel="editor", list_ids=[lists[1].id])
    assert sub.status == "active"
    assert active_list_ids(sub) == {lists[0].id}
    await service.unsubscribe(session, settings, sub.id, channel="bounce")
    await service.unsubscribe(session, settings, sub.id, channel="bounce")
    await session.commit()
    assert sub.status == "unsubscribed" and sub.unsubscribed_at is not None
    withdrawn = (
        (await session.execute(select(ConsentEvent).where(ConsentEvent.event == "withdrawn")))
        .scalars()
        .all()
    )
    assert sorted((e.list_slug, e.channel) for e in withdrawn) == [
        ("kalendarium", "editor"),
        ("nyhetsbrev", "bounce"),
    ]
    # Unknown subscribers: nothing happens, no error.
    await service.unsubscribe(session, settings, 999_999, channel="one-click")


async def test_find_by_address_and_erase(session: AsyncSession, settings: Settings) -> None:
    lists = await _two_lists(session)
    sub = await service.add_confirmed(
        session, email="e@example.se", lists=lists, name="Eva", organisation="Region Halland"
    )
    await session.commit()
    assert await service.find_by_address(session, "e@example.se") is sub
    assert await service.find_by_address(session, "annan@example.se") is None
    await service.erase(session, settings, sub.id, actor="editor:1")
    await service.erase(session, settings, sub.id, actor="editor:1")  # idempotent
    await session.commit()
    session.expire_all()
    assert await service.find_by_address(session, "e@example.se") is None
    assert await _count(session, ConsentEvent) == 0
    assert await is_suppressed(session, settings, "e@example.se")
    reasons = (await session.execute(select(Suppression.reason))).scalars().all()
    assert reasons == ["erased"]


async def test_retention(client: Client, session: AsyncSession, settings: Settings) -> None:
    lists = await _two_lists(session)
    now = utcnow()
    await session.commit()
    # A fresh and an old unconfirmed signup.
    await signup(client, "ny@example.se")
    await signup(client, "gammal@example.se")
    old = await service.find_by_address(session, "gammal@example.se")
    assert old is not None
    old.created_at = now - timedelta(days=settings.unconfirmed_days, minutes=1)
    # Unsubscribed long ago, and recently.
    long_gone = await service.add_confirmed(session, email="borta@example.se", lists=lists)
    await service.unsubscribe(session, settings, long_gone.id, channel="one-click")
    long_gone.unsubscribed_at = now - timedelta(days=settings.unsubscribed_days + 1)
    recent = await service.add_confirmed(session, email="nyss@example.se", lists=lists)
    await service.unsubscribe(session, settings, recent.id, channel="one-click")
    # Bounced long ago.
    bounced = await service.add_confirmed(session, email="studs@example.se", lists=lists)
    bounced.status = "bounced"
    bounced.bounced_at = now - timedelta(days=settings.bounced_days + 1)
    # An active subscriber is never touched.
    await service.add_confirmed(session, email="kvar@example.se", lists=lists)
    await session.commit()

    counts = await service.run_retention(session, settings, now=now)
    await session.commit()
    assert counts["unconfirmed"] == 1
    assert counts["unsubscribed"] == 1
    assert counts["bounced"] == 1
    session.expire_all()
    remaining = sorted((await session.execute(select(Subscriber.email))).scalars())
    assert remaining == ["kvar@example.se", "ny@example.se", "nyss@example.se"]
    assert await is_suppressed(session, settings, "borta@example.se")
    assert await is_suppressed(session, settings, "studs@example.se")
    assert not await is_suppressed(session, settings, "gammal@example.se")
    # Nothing of the purged people is left in the ledger or tokens.
    ids = set((await session.execute(select(Subscriber.id))).scalars())
    ledger_ids = set((await session.execute(select(ConsentEvent.subscriber_id))).scalars())
    token_ids = set((await session.execute(select(ActionToken.subscriber_id))).scalars())
    assert ledger_ids <= ids and token_ids <= ids
    # Running it again removes nothing more.
    again = await service.run_retention(session, settings, now=now)
    assert again == {"unconfirmed": 0, "unsubscribed": 0, "bounced": 0, "tokens": 0}


async def test_resubscribing_after_retention_needs_double_opt_in(
    client: Client, session: AsyncSession, settings: Settings
) -> None:
    prefs = await subscribe_confirmed(client, settings, "tillbaka@example.se")
    assert prefs
    sub = await service.find_by_address(session, "tillbaka@example.se")
    assert sub is not None
    await service.unsubscribe(session, settings, sub.id, channel="one-click")
    sub.unsubscribed_at = utcnow() - timedelta(days=settings.unsubscribed_days + 1)
    await session.commit()
    await service.run_retention(session, settings)
    await session.commit()
    assert await is_suppressed(session, settings, "tillbaka@example.se")
    await subscribe_confirmed(client, settings, "tillbaka@example.se")
    session.expire_all()
    assert not await is_suppressed(session, settings, "tillbaka@example.se")


async def test_demo_load_is_idempotent(session: AsyncSession, settings: Settings) -> None:
    first = await demo.load(session, settings)
    await session.commit()
    assert first
    second = await demo.load(session, settings)
    await session.commit()
    assert second == []
    lists = {lst.slug: lst for lst in await service.all_lists(session)}
    assert lists["kalendarium"].is_public
    assert not lists["ledningsgrupper"].is_public
    subscribers = (await session.execute(select(Subscriber))).scalars().all()
    assert len(subscribers) >= 5
    assert all(s.status == "active" for s in subscribers)
    assert all(s.email.endswith(".example") for s in subscribers)
    events = (await session.execute(select(ConsentEvent))).scalars().all()
    assert events and all(e.source == "import" and e.lawful_basis for e in events)


async def test_export_and_erase_cover_deliveries_and_bounces(
    session: AsyncSession, settings: Settings
) -> None:
    address = "levererad@example.se"
    lists = await _two_lists(session)
    sub = await service.add_confirmed(session, email=address, lists=lists)
    issue = Issue(slug="augusti-2019", title="Augusti 2019", issue_date=date(2019, 8, 30))
    session.add(issue)
    await session.flush()
    delivery = Delivery(
        issue_id=issue.id,
        subscriber_id=sub.id,
        state="bounced",
        message_id="<m1@innanforskapet.test>",
        last_reply=f"550 5.1.1 <{address}>: mailbox unavailable",
    )
    session.add(delivery)
    session.add(
        BounceEvent(subscriber_id=sub.id, kind="hard", detail=f"Final-Recipient: {address}")
    )
    await session.commit()

    data = await export_data(session, sub)
    assert data["deliveries"][0]["state"] == "bounced"
    assert data["bounces"][0]["kind"] == "hard"

    await service.erase(session, settings, sub.id, actor="editor:1")
    await session.commit()
    session.expire_all()
    for table in Base.metadata.sorted_tables:
        rows = (await session.execute(select(table))).all()
        assert not any(address in str(tuple(r)) for r in rows), table.name
    kept = (await session.execute(select(Delivery))).scalar_one()
    assert kept.subscriber_id is None and kept.state == "bounced"


async def test_unsubscribe_by_mailto_token(session: AsyncSession, settings: Settings) -> None:
    lists = await _two_lists(session)
    sub = await service.add_confirmed(session, email="mailto@example.se", lists=lists)
    await session.commit()
    mailto = links.unsubscribe_mailto(settings, sub.id, sub.token_version)
    token = mailto.rsplit("%20", 1)[1]
    assert not await service.unsubscribe_by_token(session, settings, token + "x", channel="mailto")
    assert sub.status == "active"
    assert await service.unsubscribe_by_token(session, settings, token, channel="mailto")
    assert await service.unsubscribe_by_token(session, settings, token, channel="mailto")
    await session.commit()
    assert sub.status == "unsubscribed"
    channels = (
        await session.execute(select(ConsentEvent.channel).where(ConsentEvent.event == "withdrawn"))
    ).scalars()
    assert set(channels) == {"mailto"}
