"""Registration end to end on both backends: register, the worker composes the
confirmation link, confirm (seat or waitlist), the mails arrive at a real SMTP server
with an .ics that parses, cancelling passes the seat on."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.events import service as events
from service.events.links import CONFIRM_PATH, MANAGE_PATH
from service.events.models import Registration
from tests.conftest import drain_mail_queue, make_settings
from tests.events.helpers import IP, calendar_of, form, make_event, queued, token_in
from tests.mails import text_of
from tests.smtp import SmtpServer


async def test_register_confirm_waitlist_cancel_and_promote(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer, session: AsyncSession
) -> None:
    settings = make_settings(tmp_path, db_url, INNAN_SMTP_URL=smtp_server.url)
    event, item = await make_event(session, settings, capacity=1)
    await events.register(session, settings, event.id, form("anna@example.se"), client_ip=IP)
    await events.register(
        session, settings, event.id, form("bo@example.se", name="Bo Berg"), client_ip=IP
    )
    await session.commit()
    rows = await queued(session)
    assert [(r.kind, r.message) for r in rows] == [("registration-confirm", None)] * 2
    assert rows[0].reference == f"event:{event.id}:reg:1"
    await drain_mail_queue(settings)
    got = {m.rcpt_tos[0]: m.message for m in smtp_server.received}
    assert set(got) == {"anna@example.se", "bo@example.se"}
    assert got["anna@example.se"]["Subject"] == "Bekräfta din anmälan: Finsamkonferens"
    anna = token_in(text_of(got["anna@example.se"]), CONFIRM_PATH)
    bo = token_in(text_of(got["bo@example.se"]), CONFIRM_PATH)

    # The link's page changes nothing; the POST decides the seat.
    shown = await events.pending(session, anna)
    assert shown.status == "pending"
    first = await events.confirm(session, settings, anna)
    second = await events.confirm(session, settings, bo)
    await session.commit()
    assert (first.status, second.status, second.position) == ("confirmed", "waitlisted", 1)
    again = await events.confirm(session, settings, anna)
    assert again.already and again.status == "confirmed"

    smtp_server.handler.received.clear()
    await drain_mail_queue(settings)
    got = {m.rcpt_tos[0]: m.message for m in smtp_server.received}
    confirmed = got["anna@example.se"]
    assert confirmed["Subject"] == "Välkommen! Din plats är bokad: Finsamkonferens"
    assert confirmed.get_content_type() == "multipart/mixed"
    ics = calendar_of(confirmed)
    assert ics is not None and str(ics["METHOD"]) == "PUBLISH"
    [vevent] = ics.walk("VEVENT")
    assert str(vevent["UID"]) == item.uid
    assert int(vevent["SEQUENCE"]) == item.sequence
    assert str(vevent["LOCATION"]) == "Halmstad Arena"
    assert got["bo@example.se"]["Subject"] == "Du står på reservlistan: Finsamkonferens"
    assert calendar_of(got["bo@example.se"]) is None

    # Anna cancels by her personal link: Bo gets the seat at once (no offer deadline).
    manage = token_in(text_of(confirmed), MANAGE_PATH)
    assert (await events.view(session, settings, manage)).status == "confirmed"
    await events.cancel_own(session, settings, manage)
    await session.commit()
    smtp_server.handler.received.clear()
    await drain_mail_queue(settings)
    got = {m.rcpt_tos[0]: m.message for m in smtp_server.received}
    cancel = calendar_of(got["anna@example.se"])
    assert cancel is not None and str(cancel["METHOD"]) == "CANCEL"
    [vevent] = cancel.walk("VEVENT")
    assert str(vevent["STATUS"]) == "CANCELLED" and str(vevent["UID"]) == item.uid
    assert got["bo@example.se"]["Subject"] == "Välkommen! Din plats är bokad: Finsamkonferens"
    found = await session.execute(select(Registration.email, Registration.status))
    statuses = {str(address): str(status) for address, status in found.all()}
    assert statuses == {"anna@example.se": "cancelled", "bo@example.se": "confirmed"}
    await session.refresh(event)
    assert event.seats_taken == 1


async def test_the_same_answer_whatever_the_address(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer, session: AsyncSession
) -> None:
    """A second registration of a registered address writes the same rows as a new one;
    the worker then mails the existing registration's personal link instead."""
    settings = make_settings(tmp_path, db_url, INNAN_SMTP_URL=smtp_server.url)
    event, _item = await make_event(session, settings)
    await events.register(session, settings, event.id, form("kim@example.se"), client_ip=IP)
    await session.commit()
    await drain_mail_queue(settings)
    raw = token_in(text_of(smtp_server.received[0].message), CONFIRM_PATH)
    await events.confirm(session, settings, raw)
    await session.commit()
    before = len(await queued(session))
    await events.register(session, settings, event.id, form("kim@example.se"), client_ip=IP)
    await events.register(session, settings, event.id, form("ny@example.se"), client_ip=IP)
    await session.commit()
    new_rows = (await queued(session))[before:]
    assert [(r.kind, r.recipient) for r in new_rows] == [
        ("registration-confirm", "kim@example.se"),
        ("registration-confirm", "ny@example.se"),
    ]
    smtp_server.handler.received.clear()
    await drain_mail_queue(settings)
    got = {m.rcpt_tos[0]: m.message for m in smtp_server.received}
    assert got["kim@example.se"]["Subject"] == "Du är redan anmäld: Finsamkonferens"
    assert MANAGE_PATH in text_of(got["kim@example.se"])
    assert got["ny@example.se"]["Subject"] == "Bekräfta din anmälan: Finsamkonferens"
    count = await session.scalar(
        select(func.count()).select_from(Registration).where(Registration.email == "kim@example.se")
    )
    assert count == 1


async def test_the_newsletter_box_is_its_own_signup(
    tmp_path: Path, db_url: str, session: AsyncSession
) -> None:
    settings = make_settings(tmp_path, db_url)
    event, _item = await make_event(session, settings)
    await events.register(
        session, settings, event.id, form("nyfiken@example.se", newsletter=True), client_ip=IP
    )
    await events.register(session, settings, event.id, form("inte@example.se"), client_ip=IP)
    await session.commit()
    kinds = [(r.kind, r.recipient) for r in await queued(session)]
    assert kinds == [
        ("registration-confirm", "nyfiken@example.se"),
        ("confirm", "nyfiken@example.se"),  # the newsletter's own double opt-in
        ("registration-confirm", "inte@example.se"),
    ]
