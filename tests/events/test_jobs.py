"""The scheduler jobs, called directly with a chosen ``now``: reminders, offers that
run out, changed and deleted items, cancelled events, retention; information mails,
the attendee CSV and the name list."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.calendar import service as calendar
from service.core.models import AuditEntry
from service.events import jobs, links
from service.events import service as events
from service.events.models import Registration
from service.mail.models import QueuedMail
from service.settings import Settings
from tests.events.helpers import add_registration, calendar_of, make_event, message_of, queued
from tests.mails import text_of


async def test_one_reminder_per_registration_when_due(
    settings: Settings, session: AsyncSession
) -> None:
    event, item = await make_event(session, settings, days_ahead=5, reminder_days=2)
    await add_registration(session, event, "anna@example.se")
    await add_registration(session, event, "bo@example.se", status="waitlisted")
    await session.commit()
    start = events.starts_at(item)
    assert await jobs.send_reminders(session, settings, now=start - timedelta(days=3)) == 0
    due = start - timedelta(days=1)
    assert await jobs.send_reminders(session, settings, now=due) == 1
    await session.commit()
    assert await jobs.send_reminders(session, settings, now=due + timedelta(hours=1)) == 0
    [row] = await queued(session, "registration-reminder")
    assert row.recipient == "anna@example.se"
    assert message_of(row)["Subject"] == "Påminnelse: Finsamkonferens"
    assert calendar_of(message_of(row)) is not None


async def test_an_offer_runs_out_and_goes_to_the_next(
    settings: Settings, session: AsyncSession
) -> None:
    event, _item = await make_event(session, settings, capacity=1, offer_hours=24)
    anna = await add_registration(session, event, "anna@example.se")
    await add_registration(session, event, "bo@example.se", status="waitlisted")
    cecilia = await add_registration(session, event, "cecilia@example.se", status="waitlisted")
    await session.commit()
    await events.cancel_registration(session, settings, anna.id, actor="redaktör")
    await session.commit()
    statuses = dict((await session.execute(select(Registration.email, Registration.status))).all())
    assert statuses["bo@example.se"] == "offered"
    [offer] = await queued(session, "registration-offer")
    assert "Tacka ja" in text_of(message_of(offer))
    later = offer.created_at + timedelta(hours=25)
    assert await jobs.expire_offers(session, settings, now=later) == 1
    await session.commit()
    assert await jobs.expire_offers(session, settings, now=later) == 0
    await session.refresh(cecilia)
    assert cecilia.status == "offered"
    token = links.manage_token(settings, cecilia.id, cecilia.manage_version)
    outcome = await events.accept_offer(session, settings, token, now=later)
    await session.commit()
    assert outcome.status == "confirmed"
    await session.refresh(event)
    assert event.seats_taken == 1
    kinds = [(r.kind, r.recipient) for r in await queued(session)]
    assert kinds == [
        ("registration-cancelled", "anna@example.se"),
        ("registration-offer", "bo@example.se"),
        ("registration-cancelled", "bo@example.se"),  # the offer ran out
        ("registration-offer", "cecilia@example.se"),
        ("registration-confirmed", "cecilia@example.se"),
    ]


async def test_a_changed_time_or_place_is_mailed_once(
    settings: Settings, session: AsyncSession
) -> None:
    event, item = await make_event(session, settings)
    await add_registration(session, event, "anna@example.se")
    await add_registration(session, event, "bo@example.se", status="waitlisted")
    await add_registration(session, event, "borta@example.se", status="cancelled")
    await session.commit()
    fields = calendar.ItemFields(
        title=item.title,
        start_date=item.start_date,
        start_time="09:00",
        end_time="16:00",
        place="Halmstad Arena",
        description="Ny beskrivning",
    )
    await calendar.update_item(session, item.id, fields, actor="test")
    await session.commit()
    assert await jobs.notify_changes(session, settings) == 0  # only the description changed
    fields.place = "Scandic Hallandia, Halmstad"
    await calendar.update_item(session, item.id, fields, actor="test")
    await session.commit()
    assert await jobs.notify_changes(session, settings) == 2
    await session.commit()
    assert await jobs.notify_changes(session, settings) == 0
    rows = await queued(session, "registration-update")
    assert sorted(r.recipient for r in rows) == ["anna@example.se", "bo@example.se"]
    msg = message_of(rows[0])
    assert msg["Subject"] == "Ändrat plats: Finsamkonferens"
    ics = calendar_of(msg)
    assert ics is not None
    [vevent] = ics.walk("VEVENT")
    assert int(vevent["SEQUENCE"]) == 2
    assert str(vevent["LOCATION"]) == "Scandic Hallandia, Halmstad"


async def test_a_cancelled_or_deleted_event_sends_method_cancel(
    settings: Settings, session: AsyncSession
) -> None:
    event, item = await make_event(session, settings)
    await add_registration(session, event, "anna@example.se")
    await add_registration(session, event, "bo@example.se", status="waitlisted")
    other, other_item = await make_event(session, settings)
    await add_registration(session, other, "cecilia@example.se")
    await session.commit()
    assert await events.cancel_event(session, settings, event.id, actor="redaktör") == 2
    assert await events.cancel_event(session, settings, event.id, actor="redaktör") == 0
    await calendar.delete_item(session, other_item.id, actor="redaktör")
    await session.commit()
    session.expunge_all()
    assert await jobs.notify_changes(session, settings) == 1
    await session.commit()
    assert await jobs.notify_changes(session, settings) == 0
    rows = await queued(session, "registration-cancelled")
    assert [r.recipient for r in rows] == [
        "anna@example.se",
        "bo@example.se",
        "cecilia@example.se",
    ]
    for row, uid in zip(rows, (item.uid, item.uid, other_item.uid), strict=True):
        msg = message_of(row)
        assert msg["Subject"] == "Inställt: Finsamkonferens"
        ics = calendar_of(msg)
        assert ics is not None and str(ics["METHOD"]) == "CANCEL"
        [vevent] = ics.walk("VEVENT")
        assert str(vevent["UID"]) == uid and str(vevent["STATUS"]) == "CANCELLED"
        assert int(vevent["SEQUENCE"]) >= 1


async def test_retention_keeps_only_anonymous_counts(
    settings: Settings, session: AsyncSession
) -> None:
    event, item = await make_event(session, settings, days_ahead=1, retention_days=30)
    anna = await add_registration(session, event, "anna@example.se", organisation="Region Halland")
    await add_registration(session, event, "bo@example.se", organisation="Region Halland")
    await add_registration(session, event, "cia@example.se", organisation="Försäkringskassan")
    await add_registration(session, event, "borta@example.se", status="cancelled")
    await events.mark_attended(session, anna.id, actor="redaktör")
    await events.send_info(session, settings, event.id, "Parkering", "Parkera vid P2.", actor="r")
    await session.commit()
    end = events.ends_at(item)
    assert (await jobs.erase_expired(session, settings, now=end + timedelta(days=29)))[
        "events"
    ] == 0
    done = await jobs.erase_expired(session, settings, now=end + timedelta(days=31))
    await session.commit()
    assert done == {"events": 1, "registrations": 4, "unconfirmed": 0}
    assert await session.scalar(select(func.count()).select_from(Registration)) == 0
    assert await session.scalar(select(func.count()).select_from(QueuedMail)) == 0
    await session.refresh(event)
    assert event.erased_at is not None
    assert event.stats == {
        "registered": 4,
        "confirmed": 3,
        "waitlisted": 0,
        "cancelled": 1,
        "attended": 1,
        "per_organisation": {"Region Halland": 2, "Försäkringskassan": 1},
    }
    actions = (await session.execute(select(AuditEntry.action))).scalars().all()
    assert "event.erased" in actions
    again = await jobs.erase_expired(session, settings, now=end + timedelta(days=40))
    assert again == {"events": 0, "registrations": 0, "unconfirmed": 0}


async def test_info_mail_ledger_csv_and_name_list(
    settings: Settings, session: AsyncSession
) -> None:
    event, _item = await make_event(session, settings)
    await add_registration(
        session,
        event,
        "evil@example.se",
        name='=HYPERLINK("http://x")',
        organisation="-Region",
        answers={"workshop": "B", "dagar": ["Dag 1", "Dag 2"]},
    )
    await add_registration(session, event, "anna@example.se", name="Anna Ö", role="Handläggare")
    await add_registration(session, event, "vantar@example.se", status="waitlisted")
    await session.commit()
    info = await events.send_info(
        session, settings, event.id, "Program", "Programmet är klart.", actor="redaktör"
    )
    await session.commit()
    assert info.queued == 2
    rows = await queued(session, "event-info")
    assert {r.reference for r in rows} == {info.reference}
    assert await events.info_ledger(session, info.reference) == {"queued": 2}
    assert "Programmet är klart." in text_of(message_of(rows[0]))
    table = list(csv.reader(io.StringIO(await events.attendees_csv(session, event.id))))
    assert table[0] == [
        "Namn",
        "E-post",
        "Organisation",
        "Befattning",
        "Specialkost eller tillgänglighet",
        "Vilken workshop?",
        "Vilka dagar?",
        "Status",
        "Anmäld",
        "Närvarande",
    ]
    assert table[1][:3] == ['\'=HYPERLINK("http://x")', "evil@example.se", "'-Region"]
    assert table[1][5:8] == ["B", "Dag 1; Dag 2", "Bekräftad"]
    assert table[3][7] == "Reservlista"
    names = await events.name_list(session, event.id)
    assert [row.name for row in names.rows] == ['=HYPERLINK("http://x")', "Anna Ö"]
    assert names.title == "Finsamkonferens" and names.place == "Halmstad Arena"
