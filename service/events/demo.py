"""Demo registrations: the Finsam conference from the seeds ("Finsamkonferens", two
days, 60 days from today) open for registration, with a workshop question (one choice)
and a "which days" question (several choices), and a few registrations in different
states; and the demo network meeting, small and full, with a waitlist. Idempotent (by
the calendar items' UIDs)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.calendar.demo import KALENDARIUM, ORGANISER
from service.calendar.models import CalendarItem
from service.core.dates import STOCKHOLM
from service.db import utcnow
from service.events import service as events
from service.events.forms import Question, RegistrationSettings
from service.events.models import Registration
from service.settings import Settings

CONFERENCE_UID = "demo-finsamkonferens-anmalan@innanforskapet"
MEETING_UID = "demo-upcoming-natverkstraff@innanforskapet"  # from service.calendar.demo

CONFERENCE_QUESTIONS = [
    Question(
        label="Vilka dagar deltar du?",
        kind="many",
        options=["Dag 1: 10-årskalas (föreläsningar och mingel)", "Dag 2: Finsamkonferensen"],
        required=True,
        key="dagar",
    ),
    Question(
        label="Vilken workshop väljer du?",
        kind="one",
        options=[
            "Personlig hållbarhet och självledarskap",
            "Individsamverkansteamen i Halland",
            "Innanförskapets möjligheter i praktiken",
        ],
        key="workshop",
    ),
]

PEOPLE = [  # (name, address, organisation, role, status)
    ("Karin Lind", "karin.lind@example.se", "Region Halland", "Utvecklingsledare", "confirmed"),
    ("Omar Haddad", "omar.haddad@example.se", "Arbetsförmedlingen", "Handläggare", "confirmed"),
    ("Sara Nyberg", "sara.nyberg@example.se", "Halmstads kommun", "Socialsekreterare", "confirmed"),
    ("Per Ek", "per.ek@example.se", "Försäkringskassan", "Samordnare", "pending"),
    ("Lena Holm", "lena.holm@example.se", "Varbergs kommun", "Enhetschef", "cancelled"),
]


def _conference(today: datetime) -> CalendarItem:
    day = (today + timedelta(days=60)).date()
    return CalendarItem(
        uid=CONFERENCE_UID,
        title="Finsamkonferens: Innanförskapets möjligheter",
        all_day=True,
        start_date=day,
        end_date=day + timedelta(days=1),
        place="Halmstad Arena, Halmstad",
        link=KALENDARIUM,
        registration_deadline=day - timedelta(days=21),
        organiser=ORGANISER,
        description=(
            "Den nationella Finsamkonferensen om alla människors lika värde och möjlighet att "
            "få tillhöra och tillföra utifrån sin förmåga. Dag 1: Samordningsförbundet Halland "
            "firar 10 år med föreläsningar 13–17 och mingel 17–20."
        ),
        sequence=0,
    )


def _person(
    event_id: int, row: tuple[str, str, str, str, str], answers: dict[str, object], now: datetime
) -> Registration:
    name, address, organisation, role, status = row
    return Registration(
        event_id=event_id,
        email=address,
        name=name,
        organisation=organisation,
        role=role,
        answers=answers,
        status=status,
        created_at=now,
        confirmed_at=now if status != "pending" else None,
        waitlisted_at=now if status == "waitlisted" else None,
        cancelled_at=now if status == "cancelled" else None,
        cancelled_by="self" if status == "cancelled" else None,
    )


async def load(session: AsyncSession, settings: Settings) -> list[str]:
    now = utcnow()
    today = now.astimezone(STOCKHOLM)
    found = await session.execute(select(CalendarItem).where(CalendarItem.uid == CONFERENCE_UID))
    conference = found.scalar_one_or_none()
    if conference is None:
        conference = _conference(today)
        session.add(conference)
        await session.flush()
    if await events.event_for_item(session, conference.id) is not None:
        return ["Anmälningarnas demodata finns redan."]
    event = await events.configure(
        session,
        settings,
        conference.id,
        RegistrationSettings(
            capacity=120,
            waitlist=True,
            fields=["organisation", "role", "phone", "needs"],
            questions=CONFERENCE_QUESTIONS,
            offer_hours=48,
        ),
        actor="demo",
    )
    days = CONFERENCE_QUESTIONS[0].options
    workshops = CONFERENCE_QUESTIONS[1].options
    for n, row in enumerate(PEOPLE):
        answers: dict[str, object] = {
            "dagar": days if n % 2 == 0 else days[1:],
            "workshop": workshops[n % 3],
        }
        registration = _person(event.id, row, answers, now)
        if row[4] == "confirmed":
            await events._take_seat(session, event.id)
        session.add(registration)
    lines = [f"Anmälan: {conference.title} med {len(PEOPLE)} anmälningar."]
    meeting = (
        await session.execute(select(CalendarItem).where(CalendarItem.uid == MEETING_UID))
    ).scalar_one_or_none()
    if meeting is not None and await events.event_for_item(session, meeting.id) is None:
        small = await events.configure(
            session,
            settings,
            meeting.id,
            RegistrationSettings(capacity=2, waitlist=True, fields=["organisation"]),
            actor="demo",
        )
        for n, (name, address) in enumerate(
            (
                ("Eva Strand", "eva.strand@example.se"),
                ("Ali Karimi", "ali.karimi@example.se"),
                ("Maja Berg", "maja.berg@example.se"),
            )
        ):
            status = "confirmed" if n < 2 else "waitlisted"
            row = (name, address, "Kungsbacka kommun", "", status)
            if status == "confirmed":
                await events._take_seat(session, small.id)
            session.add(_person(small.id, row, {}, now + timedelta(seconds=n)))
        lines.append(f"Anmälan: {meeting.title} (fullbokad, en på reservlistan).")
    await session.flush()
    return lines
