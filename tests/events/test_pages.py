"""The public registration pages over HTTP on both backends: the form, the answer that
is the same for every address, the confirmation link (GET changes nothing, POST
decides), the mails at a real SMTP server, the personal link; bad input gets Swedish
errors next to the fields and stores nothing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import create_app
from service.events import service as events
from service.events.links import CONFIRM_PATH, MANAGE_PATH
from service.events.models import Registration
from service.mail.models import QueuedMail
from service.settings import Settings
from tests.conftest import drain_mail_queue, make_settings
from tests.events.helpers import add_registration, calendar_of, make_event, token_in
from tests.mails import text_of
from tests.pages import csrf, visible
from tests.smtp import SmtpServer

Client = AsyncTestClient[Litestar]


@pytest.fixture
def smtp_settings(tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> Settings:
    return make_settings(tmp_path, db_url, INNAN_SMTP_URL=smtp_server.url)


@pytest.fixture
async def web(smtp_settings: Settings) -> AsyncIterator[Client]:
    async with AsyncTestClient(
        app=create_app(smtp_settings), base_url="http://testserver.local"
    ) as c:
        yield c


def answers(**values: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Anna Andersson",
        "organisation": "Region Halland",
        "svar-workshop": "A",
        "svar-dagar": ["Dag 1"],
        "consent": "1",
    }
    data.update(values)
    return data


async def post_form(client: Client, item_id: int, address: str, **values: Any) -> Any:
    page = await client.get(f"/kalender/{item_id}/anmalan")
    assert page.status_code == 200, page.text
    data = answers(email=address, **values)
    data["_csrf_token"] = csrf(page.text)
    return await client.post(f"/kalender/{item_id}/anmalan", data=data)


async def stored(session: AsyncSession) -> tuple[int, int]:
    await session.commit()
    regs = await session.scalar(select(func.count()).select_from(Registration))
    rows = await session.scalar(select(func.count()).select_from(QueuedMail))
    return int(regs or 0), int(rows or 0)


def delivered(smtp_server: SmtpServer) -> dict[str, Any]:
    got = {m.rcpt_tos[0]: m.message for m in smtp_server.received}
    smtp_server.handler.received.clear()
    return got


async def test_form_to_confirmation_to_cancel_and_promotion(
    web: Client, smtp_settings: Settings, smtp_server: SmtpServer, session: AsyncSession
) -> None:
    _event, item = await make_event(session, smtp_settings, capacity=1)

    calendar = await web.get("/kalender")
    assert f'href="/kalender/{item.id}/anmalan"' in calendar.text
    assert "Anmäl dig" in calendar.text and "Anmälan stänger" in calendar.text

    page = await web.get(f"/kalender/{item.id}/anmalan")
    assert page.status_code == 200
    text = page.text
    for field in ("email", "name", "organisation", "role", "needs", "consent", "newsletter"):
        assert re.search(rf'<label[^>]* for="{field}"', text), field
    assert "phone" not in re.findall(r'name="(\w+)"', text)  # not asked for
    assert "<legend>Vilken workshop?" in text and "<legend>Vilka dagar?" in text
    assert text.count('type="radio"') == 2 and text.count('name="svar-dagar"') == 2
    assert "Jag vill också prenumerera på nyhetsbrevet" in text
    assert not re.search(r'id="newsletter"[^>]*checked', text)
    assert 'name="hemsida"' in text and 'name="_csrf_token"' in text
    assert "1 plats kvar" in visible(text)

    first = await post_form(web, item.id, "anna@example.se")
    assert first.status_code == 200 and "Kolla din e-post" in first.text
    await drain_mail_queue(smtp_settings)
    anna = token_in(text_of(delivered(smtp_server)["anna@example.se"]), CONFIRM_PATH)

    # The link's page changes nothing; pressing the button confirms.
    shown = await web.get(CONFIRM_PATH + anna)
    assert shown.status_code == 200 and "Bekräfta anmälan" in shown.text
    assert shown.headers["cache-control"] == "no-store"
    assert (await session.scalar(select(func.count()).where(Registration.status == "pending"))) == 1
    confirmed = await web.post(CONFIRM_PATH + anna)
    assert confirmed.status_code == 200 and "Din plats är bokad" in confirmed.text
    again = await web.post(CONFIRM_PATH + anna)
    assert "Du hade redan bekräftat" in again.text
    await drain_mail_queue(smtp_settings)
    welcome = delivered(smtp_server)["anna@example.se"]
    assert welcome["Subject"] == "Välkommen! Din plats är bokad: Finsamkonferens"
    ics = calendar_of(welcome)
    assert ics is not None and str(ics["METHOD"]) == "PUBLISH"

    # A registration of a known address gets the very same answer as a new one.
    known = await post_form(web, item.id, "anna@example.se")
    unknown = await post_form(web, item.id, "bo@example.se", name="Bo Berg")
    assert (known.status_code, unknown.status_code) == (200, 200)
    assert visible(known.text) == visible(unknown.text)
    await drain_mail_queue(smtp_settings)
    got = delivered(smtp_server)
    assert got["anna@example.se"]["Subject"] == "Du är redan anmäld: Finsamkonferens"
    bo = token_in(text_of(got["bo@example.se"]), CONFIRM_PATH)
    waitlisted = await web.post(CONFIRM_PATH + bo)
    assert "Du står på reservlistan" in waitlisted.text
    assert "nummer 1 på reservlistan" in visible(waitlisted.text)

    full = await web.get(f"/kalender/{item.id}/anmalan")
    assert "Fullbokat – skriv upp dig på reservlistan" in full.text

    await drain_mail_queue(smtp_settings)
    assert delivered(smtp_server)["bo@example.se"]["Subject"] == (
        "Du står på reservlistan: Finsamkonferens"
    )

    # Anna cancels by her personal link, after a confirm step; Bo gets the seat.
    manage = MANAGE_PATH + token_in(text_of(welcome), MANAGE_PATH)
    mine = await web.get(manage)
    assert mine.status_code == 200 and "Bekräftad" in mine.text
    ask = await web.get(manage + "/avboka")
    assert ask.status_code == 200 and "Ja, avboka" in ask.text
    assert (
        await session.scalar(select(func.count()).where(Registration.status == "cancelled"))
    ) == 0
    done = await web.post(
        manage + "/avboka", data={"_csrf_token": csrf(ask.text)}, follow_redirects=False
    )
    assert done.status_code == 303
    after = await web.get(done.headers["location"])
    assert "Din anmälan är avbokad" in after.text
    await drain_mail_queue(smtp_settings)
    got = delivered(smtp_server)
    cancel = calendar_of(got["anna@example.se"])
    assert cancel is not None and str(cancel["METHOD"]) == "CANCEL"
    assert got["bo@example.se"]["Subject"] == "Välkommen! Din plats är bokad: Finsamkonferens"
    await session.commit()
    rows = await session.execute(select(Registration.email, Registration.status))
    assert {str(a): str(b) for a, b in rows.all()} == {
        "anna@example.se": "cancelled",
        "bo@example.se": "confirmed",
    }


async def test_change_by_the_personal_link(
    web: Client, smtp_settings: Settings, smtp_server: SmtpServer, session: AsyncSession
) -> None:
    _event, item = await make_event(session, smtp_settings)
    await post_form(web, item.id, "kim@example.se")
    await drain_mail_queue(smtp_settings)
    raw = token_in(text_of(delivered(smtp_server)["kim@example.se"]), CONFIRM_PATH)
    await web.post(CONFIRM_PATH + raw)
    await drain_mail_queue(smtp_settings)
    manage = MANAGE_PATH + token_in(text_of(delivered(smtp_server)["kim@example.se"]), MANAGE_PATH)
    page = await web.get(manage)
    assert 'value="Anna Andersson"' in page.text
    bad = await web.post(
        manage + "/andra",
        data={"_csrf_token": csrf(page.text), "name": "", "svar-workshop": "C"},
    )
    assert bad.status_code == 422
    assert 'aria-describedby="name-fel"' in bad.text and "Ange ditt namn." in bad.text
    assert "Välj ett av de alternativ som finns." in bad.text
    good = await web.post(
        manage + "/andra",
        data={"_csrf_token": csrf(page.text), "name": "Kim Karlsson", "svar-workshop": "B"},
        follow_redirects=False,
    )
    assert good.status_code == 303
    await session.commit()
    registration = (await session.execute(select(Registration))).scalar_one()
    await session.refresh(registration)
    assert registration.name == "Kim Karlsson" and registration.answers["workshop"] == "B"
    forged = await web.get(MANAGE_PATH + "forfalskad.lank")
    assert forged.status_code == 404 and "Länken hittades inte" in forged.text


async def test_bad_input_gets_swedish_errors_and_stores_nothing(
    web: Client, smtp_settings: Settings, session: AsyncSession
) -> None:
    _event, item = await make_event(session, smtp_settings, fields=["phone"])
    before = await stored(session)
    bad = await post_form(
        web,
        item.id,
        "inte-en-adress",
        name="x" * 201,
        phone="070\x07123",
        **{"svar-workshop": "C", "svar-dagar": ["Dag 9"]},
        consent="",
    )
    assert bad.status_code == 422
    text = bad.text
    assert "Formuläret innehåller fel" in text
    for field in ("email", "name", "phone", "consent"):
        assert f'aria-describedby="{field}-fel"' in text or f'{field}-fel"' in text, field
        assert f'id="{field}-fel"' in text, field
    assert "Högst 200 tecken." in text
    assert "Välj ett av de alternativ som finns." in text
    assert 'aria-describedby="svar-workshop-fel"' in text  # on the fieldset
    assert "Du behöver godkänna" in text
    assert f'value="{"x" * 201}"' in text  # the values are kept
    missing = await post_form(web, item.id, "ok@example.se", name="   ", consent="1")
    assert missing.status_code == 422 and "Ange ditt namn." in missing.text
    assert await stored(session) == before


async def test_closed_full_and_unknown(
    web: Client, smtp_settings: Settings, session: AsyncSession
) -> None:
    event, item = await make_event(session, smtp_settings, capacity=1, waitlist=False)
    token = csrf((await web.get(f"/kalender/{item.id}/anmalan")).text)
    await add_registration(session, event, "forst@example.se")
    await session.commit()
    before = await stored(session)
    page = await web.get(f"/kalender/{item.id}/anmalan")
    assert page.status_code == 200 and "Fullbokat. Det finns inga platser kvar" in page.text
    assert "<form" not in page.text.split("</header>", 1)[-1].replace('action="/redaktion', "")
    posted = await web.post(
        f"/kalender/{item.id}/anmalan",
        data={**answers(email="sen@example.se"), "_csrf_token": token},
    )
    assert posted.status_code == 409 and "Fullbokat" in posted.text
    assert await stored(session) == before

    await events.cancel_event(session, smtp_settings, event.id, actor="test")
    await session.commit()
    cancelled = await web.get(f"/kalender/{item.id}/anmalan")
    assert "Evenemanget är inställt." in cancelled.text
    assert "Anmäl dig" not in (await web.get("/kalender")).text

    _other, past = await make_event(session, smtp_settings, days_ahead=1)
    closed = await make_event(session, smtp_settings, deadline=past.start_date.replace(year=2020))
    shut = await web.get(f"/kalender/{closed[1].id}/anmalan")
    assert "Anmälan är stängd." in shut.text

    assert (await web.get("/kalender/999999/anmalan")).status_code == 404
    assert (await web.get(f"/kalender/{past.id + 1000}/anmalan")).status_code == 404
