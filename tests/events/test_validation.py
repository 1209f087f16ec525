"""Bad input is refused with Swedish field errors and nothing is stored half-way."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.calendar import service as calendar
from service.db import utcnow
from service.errors import Gone, NotFound, RateLimited, ValidationFailed
from service.events import service as events
from service.events.forms import Question, RegistrationSettings
from service.events.models import Registration
from service.mail.models import QueuedMail
from service.settings import Settings
from tests.conftest import make_settings
from tests.events.helpers import IP, form, make_event


async def nothing_stored(session: AsyncSession) -> None:
    await session.rollback()
    assert await session.scalar(select(func.count()).select_from(Registration)) == 0
    assert await session.scalar(select(func.count()).select_from(QueuedMail)) == 0


async def test_bad_fields_each_get_a_swedish_error(
    settings: Settings, session: AsyncSession
) -> None:
    event, _item = await make_event(
        session,
        settings,
        questions=[
            Question(label="Workshop", kind="one", options=["A", "B"], required=True, key="ws"),
            Question(label="Dagar", kind="many", options=["1", "2"], key="dagar"),
            Question(label="Övrigt", kind="text", key="ovrigt"),
        ],
    )
    bad = form(
        "inte-en-adress",
        name="Anna\u202eAndersson",
        organisation="x" * 201,
        needs="Vegetarisk\u2028mat",
        answers={"ws": "C", "dagar": ["1", "3"], "ovrigt": "y" * 501},
        consent=False,
    )
    with pytest.raises(ValidationFailed) as caught:
        await events.register(session, settings, event.id, bad, client_ip=IP)
    fields = caught.value.fields
    assert set(fields) == {
        "email",
        "name",
        "organisation",
        "needs",
        "answers.ws",
        "answers.dagar",
        "answers.ovrigt",
        "consent",
    }
    assert fields["organisation"] == "Högst 200 tecken."
    assert fields["answers.ws"] == "Välj ett av de alternativ som finns."
    assert "styrtecken" in fields["name"]
    missing = form("anna@example.se", answers={})
    with pytest.raises(ValidationFailed) as caught:
        await events.register(session, settings, event.id, missing, client_ip=IP)
    assert caught.value.fields == {"answers.ws": "Fyll i fältet."}
    await nothing_stored(session)


async def test_closed_not_open_full_cancelled_and_deleted(
    settings: Settings, session: AsyncSession
) -> None:
    now = utcnow()
    later, _ = await make_event(session, settings, opens_at=now + timedelta(days=1))
    passed, _ = await make_event(session, settings, deadline=(now - timedelta(days=1)).date())
    full, _ = await make_event(session, settings, capacity=1, waitlist=False)
    await events._take_seat(session, full.id)
    cancelled, _ = await make_event(session, settings)
    await events.cancel_event(session, settings, cancelled.id, actor="test")
    deleted, deleted_item = await make_event(session, settings)
    await calendar.delete_item(session, deleted_item.id, actor="test")
    await session.commit()
    expected = {
        later.id: "Anmälan har inte öppnat än",
        passed.id: "Anmälan är stängd",
        full.id: "Fullbokat",
        cancelled.id: "Evenemanget är inställt",
        deleted.id: "Evenemanget finns inte längre",
    }
    for event_id, message in expected.items():
        with pytest.raises(ValidationFailed) as caught:
            await events.register(session, settings, event_id, form("a@example.se"), client_ip=IP)
        assert caught.value.fields["event"].startswith(message), caught.value.fields
    with pytest.raises(NotFound):
        await events.register(session, settings, 99_999, form("a@example.se"), client_ip=IP)
    assert await session.scalar(select(func.count()).select_from(Registration)) == 0


async def test_the_item_deadline_is_the_closing_time(
    settings: Settings, session: AsyncSession
) -> None:
    deadline = (utcnow() + timedelta(days=3)).date()
    event, item = await make_event(session, settings, deadline=deadline)
    closes = events.closing_time(event, item)
    assert closes.astimezone(events.STOCKHOLM).date() == deadline + timedelta(days=1)
    state = events.availability(event, item, closes + timedelta(seconds=1))
    assert not state.open and state.reason.startswith("Anmälan är stängd")


async def test_editor_settings_are_checked(settings: Settings, session: AsyncSession) -> None:
    _event, item = await make_event(session, settings)
    bad = RegistrationSettings(
        capacity=0,
        retention_days=0,
        questions=[
            Question(label="", kind="one", options=["bara en"]),
            Question(label="Fri", kind="text", options=["nej"]),
            Question(label="Typ", kind="dropdown"),
        ]
        + [Question(label=f"F{n}") for n in range(4)],
        fields=["skonummer"],
    )
    with pytest.raises(ValidationFailed) as caught:
        await events.configure(session, settings, item.id, bad, actor="test")
    fields = caught.value.fields
    assert {
        "capacity",
        "retention_days",
        "questions",
        "questions.1.label",
        "questions.1.options",
        "questions.2.options",
        "questions.3.kind",
        "fields",
    } <= set(fields)


async def test_a_new_consent_text_is_a_new_version(
    settings: Settings, session: AsyncSession
) -> None:
    event, item = await make_event(session, settings, consent_text="Version ett.")
    await events.register(session, settings, event.id, form("a@example.se"), client_ip=IP)
    await events.configure(
        session, settings, item.id, RegistrationSettings(consent_text="Version två."), actor="t"
    )
    await session.commit()
    versions = await events.consent_versions(session, event.id)
    assert [(v.version, v.body) for v in versions] == [(2, "Version två."), (1, "Version ett.")]
    registration = await session.scalar(select(Registration))
    assert registration is not None and registration.consent_text_id == versions[1].id


async def test_rate_limits_per_ip_and_in_total(
    tmp_path: object, db_url: str, session: AsyncSession
) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    settings = make_settings(
        tmp_path,
        db_url,
        INNAN_REGISTRATION_IP_PER_HOUR="2",
        INNAN_REGISTRATION_GLOBAL_PER_HOUR="4",  # a refused one counts too
    )
    event, _item = await make_event(session, settings)
    for n in range(2):
        await events.register(session, settings, event.id, form(f"a{n}@example.se"), client_ip=IP)
    with pytest.raises(RateLimited):
        await events.register(session, settings, event.id, form("a3@example.se"), client_ip=IP)
    await events.register(
        session, settings, event.id, form("b@example.se"), client_ip="198.51.100.1"
    )
    with pytest.raises(RateLimited):
        await events.register(
            session, settings, event.id, form("c@example.se"), client_ip="198.51.100.2"
        )


async def test_bad_and_expired_links(settings: Settings, session: AsyncSession) -> None:
    event, _item = await make_event(session, settings)
    with pytest.raises(NotFound):
        await events.confirm(session, settings, "finns-inte")
    with pytest.raises(NotFound):
        await events.view(session, settings, "förfalskad.länk")
    from service.security.signing import hash_token

    session.add(
        Registration(
            event_id=event.id,
            email="sen@example.se",
            name="Sen",
            status="pending",
            confirm_token_hash=hash_token("gammal"),
            confirm_expires_at=utcnow() - timedelta(minutes=1),
        )
    )
    await session.commit()
    with pytest.raises(Gone):
        await events.confirm(session, settings, "gammal")
