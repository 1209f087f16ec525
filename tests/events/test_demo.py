"""``demo load`` opens registration for the Finsam conference, idempotently."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from service.demo import load_all
from service.events import demo
from service.events import service as events
from service.settings import Settings


async def test_demo_registrations_load_once(settings: Settings, session: AsyncSession) -> None:
    await load_all(session, settings)
    await session.commit()
    again = await load_all(session, settings)
    await session.commit()
    assert "Anmälningarnas demodata finns redan." in again
    listed = await events.list_events(session)
    assert len(listed) == 2
    conference = next(e for e, item in listed if item and item.uid == demo.CONFERENCE_UID)
    counts = await events.counts(session, conference.id)
    assert (counts.confirmed, counts.pending, counts.cancelled) == (3, 1, 1)
    assert counts.seats_left == 117
    form = await events.public_form(session, conference.id)
    assert form.availability.open
    assert [q["kind"] for q in form.questions] == ["many", "one"]
    meeting = next(e for e, item in listed if item and item.uid == demo.MEETING_UID)
    small = await events.counts(session, meeting.id)
    assert (small.confirmed, small.waitlisted, small.seats_left) == (2, 1, 0)
