"""The capacity is never exceeded: 50 confirmations race for the last 5 seats, each in
its own session (its own connection), all at once, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import create_engine, create_session_factory, session_scope, utcnow
from service.events import service as events
from service.events.models import Event, Registration
from service.mail.models import QueuedMail
from service.security.signing import hash_token
from service.settings import Settings
from tests.events.helpers import make_event

RACERS = 50


async def test_fifty_confirmations_for_the_last_five_seats(
    settings: Settings, session: AsyncSession
) -> None:
    event, _item = await make_event(session, settings, capacity=10)
    now = utcnow()
    for n in range(5):  # five seats already taken
        assert await events._take_seat(session, event.id)
        session.add(
            Registration(
                event_id=event.id,
                email=f"tidig{n}@example.se",
                name=f"Tidig {n}",
                status="confirmed",
                confirmed_at=now,
            )
        )
    for n in range(RACERS):
        session.add(
            Registration(
                event_id=event.id,
                email=f"person{n}@example.se",
                name=f"Person {n}",
                status="pending",
                confirm_token_hash=hash_token(f"token-{n}"),
                confirm_expires_at=now + timedelta(days=7),
            )
        )
    await session.commit()

    engine = create_engine(settings.database_url, pool_size=13)  # up to 26 connections
    factory = create_session_factory(engine)

    async def one(n: int) -> str:
        async with session_scope(factory) as racer:
            return (await events.confirm(racer, settings, f"token-{n}")).status

    try:
        outcomes = await asyncio.gather(*(one(n) for n in range(RACERS)))
    finally:
        await engine.dispose()
    assert Counter(outcomes) == {"confirmed": 5, "waitlisted": RACERS - 5}
    await session.commit()
    seats = await session.scalar(select(Event.seats_taken).where(Event.id == event.id))
    assert seats == 10
    found = await session.execute(
        select(Registration.status, func.count()).group_by(Registration.status)
    )
    by_status = {str(status): int(n) for status, n in found.all()}
    assert by_status == {"confirmed": 10, "waitlisted": RACERS - 5}
    mails = Counter(str(k) for k in (await session.execute(select(QueuedMail.kind))).scalars())
    assert mails == {"registration-confirmed": 5, "registration-waitlisted": RACERS - 5}
    positions = [
        (await events.waitlist_position(session, r))
        for r in (
            await session.execute(select(Registration).where(Registration.status == "waitlisted"))
        ).scalars()
    ]
    assert sorted(p for p in positions if p is not None) == list(range(1, RACERS - 4))
