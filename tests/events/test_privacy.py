"""A subscriber's export shows their event registrations (matched by address) and an
erasure removes them, with their queued mails, and gives the seat back."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.events import jobs
from service.events.models import Event, Registration
from service.mail.models import QueuedMail
from service.settings import Settings
from subscribers import service as subscribers
from subscribers.lists import all_lists
from subscribers.privacy import export_data, load_holders
from tests.events.helpers import add_registration, make_event, queued


async def test_export_and_erasure_cover_registrations(
    settings: Settings, session: AsyncSession
) -> None:
    assert any(type(h).__name__ == "EventRecords" for h in load_holders())
    event, _item = await make_event(session, settings, capacity=1, waitlist=True)
    person = await subscribers.add_confirmed(
        session, email="anna@example.se", lists=(await all_lists(session))[:1]
    )
    await add_registration(
        session, event, "anna@example.se", needs="Glutenfri kost", answers={"workshop": "A"}
    )
    await add_registration(session, event, "bo@example.se", status="waitlisted")
    await session.commit()
    from service.events import service as events

    await events.send_info(session, settings, event.id, "Info", "Hej.", actor="r")
    await session.commit()
    exported = await export_data(session, person)
    [registration] = exported["event_registrations"]
    assert registration["event"] == "Finsamkonferens"
    assert registration["needs"] == "Glutenfri kost"
    assert registration["answers"] == {"workshop": "A"}
    await subscribers.erase(session, settings, person.id, actor="test")
    await session.commit()
    emails = (await session.execute(select(Registration.email))).scalars().all()
    assert emails == ["bo@example.se"]
    assert (
        await session.scalar(
            select(func.count())
            .select_from(QueuedMail)
            .where(QueuedMail.recipient == "anna@example.se")
        )
        == 0
    )
    seats = await session.scalar(select(Event.seats_taken).where(Event.id == event.id))
    assert seats == 0
    # The seat given back goes to the waitlist on the next run of the events job.
    await jobs.expire_offers(session, settings)
    await session.commit()
    [row] = await queued(session, "registration-confirmed")
    assert row.recipient == "bo@example.se"
