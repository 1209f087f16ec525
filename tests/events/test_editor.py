"""The editors' registration pages and the JSON API on both backends: login required,
configure through the form, the attendee list, check-in, promote and cancel, the CSV
(formula-safe, an attachment), the name list, information mail, cancelling the event."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.calendar import service as calendar
from service.events import service as events
from service.events.models import Event, Registration
from service.settings import Settings
from tests.editor.helpers import login, make_editor, make_token
from tests.events.helpers import add_registration, make_event, queued
from tests.pages import Client, csrf, visible


async def test_anonymous_visitors_are_sent_to_login_and_the_api_wants_a_key(
    client: Client, settings: Settings, session: AsyncSession
) -> None:
    event, item = await make_event(session, settings)
    for path in (
        "/redaktion/evenemang",
        f"/redaktion/evenemang/{event.id}",
        f"/redaktion/evenemang/kalender/{item.id}",
        f"/redaktion/evenemang/{event.id}/incheckning",
        f"/redaktion/evenemang/{event.id}/deltagare.csv",
    ):
        response = await client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/redaktion/logga-in?next="), path
    for path in ("/api/v1/events", f"/api/v1/events/{event.id}"):
        response = await client.get(path)
        assert response.status_code == 401 and response.json()["status"] == 401
    response = await client.put(f"/api/v1/events/item/{item.id}", json={})
    assert response.status_code == 401


async def test_configure_through_the_form(
    client: Client, settings: Settings, session: AsyncSession
) -> None:
    item = await calendar.create_item(
        session,
        settings,
        calendar.ItemFields(title="Nätverksträff", start_date="2099-05-04", start_time="13:00"),
        actor="test",
    )
    await session.commit()
    await make_editor(session)
    await login(client)
    listing = await client.get("/redaktion/kalender")
    assert f'href="/redaktion/evenemang/kalender/{item.id}"' in listing.text
    assert 'href="/redaktion/evenemang"' in listing.text  # in the navigation
    page = await client.get(f"/redaktion/evenemang/kalender/{item.id}")
    assert page.status_code == 200 and "Slå på anmälan" in page.text
    token = csrf(page.text)
    bad = await client.post(
        f"/redaktion/evenemang/kalender/{item.id}",
        data={
            "_csrf_token": token,
            "capacity": "tio",
            "q1_label": "Lunch?",
            "q1_kind": "one",
            "q1_options": "Ja",
            "retention_days": "30",
        },
    )
    assert bad.status_code == 422 and "Ange ett heltal." in bad.text
    assert 'aria-describedby="capacity-tips capacity-fel"' in bad.text
    bad = await client.post(
        f"/redaktion/evenemang/kalender/{item.id}",
        data={
            "_csrf_token": token,
            "capacity": "10",
            "q1_label": "Lunch?",
            "q1_kind": "one",
            "q1_options": "Ja",
            "retention_days": "30",
        },
    )
    assert bad.status_code == 422 and "Ange mellan 2 och 20 olika alternativ." in bad.text
    assert 'value="Lunch?"' in bad.text  # kept
    assert (await session.scalar(select(Event.id))) is None
    saved = await client.post(
        f"/redaktion/evenemang/kalender/{item.id}",
        data={
            "_csrf_token": token,
            "capacity": "10",
            "waitlist": "1",
            "fields": ["organisation", "phone"],
            "opens_at": "2099-04-01T08:00",
            "q1_label": "Lunch?",
            "q1_kind": "one",
            "q1_options": "Ja\nNej\n",
            "q1_required": "1",
            "consent_text": "Vi sparar uppgifterna i 10 dagar.",
            "retention_days": "10",
            "reminder_days": "1",
            "offer_hours": "24",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    await session.commit()
    event = (await session.execute(select(Event))).scalar_one()
    assert saved.headers["location"] == f"/redaktion/evenemang/{event.id}"
    assert (event.capacity, event.waitlist, event.fields) == (10, True, ["organisation", "phone"])
    assert event.questions[0]["options"] == ["Ja", "Nej"] and event.questions[0]["required"]
    assert (event.retention_days, event.reminder_days, event.offer_hours) == (10, 1, 24)
    assert event.opens_at is not None and event.opens_at.hour == 6  # 08:00 CEST in UTC
    consent = await events.current_consent_text(session, event.id)
    assert consent.body == "Vi sparar uppgifterna i 10 dagar."
    again = await client.get(f"/redaktion/evenemang/kalender/{item.id}")
    assert 'value="10"' in again.text and "Ja\nNej</textarea>" in again.text
    public = await client.get(f"/kalender/{item.id}/anmalan")
    assert "Anmälan har inte öppnat än." in public.text


async def test_list_check_in_promote_cancel_csv_names_info_and_cancel_event(
    client: Client, settings: Settings, session: AsyncSession
) -> None:
    event, _item = await make_event(session, settings, capacity=2)
    anna = await add_registration(session, event, "anna@example.se", name="Anna Andersson")
    evil = await add_registration(
        session, event, "x@example.se", name='=HYPERLINK("http://x")', organisation="+1"
    )
    bo = await add_registration(session, event, "bo@example.se", status="waitlisted")
    await session.commit()
    await make_editor(session)
    await login(client)

    listing = await client.get("/redaktion/evenemang")
    assert "Finsamkonferens" in listing.text and "2 av 2" in visible(listing.text)
    page = await client.get(f"/redaktion/evenemang/{event.id}")
    text = visible(page.text)
    assert "Bekräftade 2 av 2 platser" in text and "Reservlista 1" in text

    check_in = await client.get(f"/redaktion/evenemang/{event.id}/incheckning")
    assert check_in.status_code == 200 and "0 av 2 bekräftade har checkat in" in check_in.text
    assert check_in.text.count('class="check-in"') == 1
    done = await client.post(
        f"/redaktion/evenemang/anmalan/{anna.id}/incheckning",
        data={"_csrf_token": csrf(check_in.text), "attended": "1"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"].endswith(f"/incheckning#person-{anna.id}")
    after = await client.get(f"/redaktion/evenemang/{event.id}/incheckning")
    assert "1 av 2 bekräftade har checkat in" in after.text and 'aria-pressed="true"' in after.text

    exported = await client.get(f"/redaktion/evenemang/{event.id}/deltagare.csv")
    assert exported.status_code == 200
    assert exported.headers["content-disposition"].startswith("attachment;")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["Namn", "E-post"]
    names = {row[0]: row for row in rows[1:]}
    assert '\'=HYPERLINK("http://x")' in names and names["Anna Andersson"][-1] == "ja"
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)

    printable = await client.get(f"/redaktion/evenemang/{event.id}/namnlista")
    assert printable.status_code == 200 and "Anna Andersson" in printable.text
    assert 'href="/static/events.css"' in printable.text
    css = await client.get("/static/events.css")
    assert "@media print" in css.text

    token = csrf(page.text)
    full = await client.post(
        f"/redaktion/evenemang/anmalan/{bo.id}/flytta-upp", data={"_csrf_token": token}
    )
    assert full.status_code == 409  # no seat free: the capacity is never exceeded
    # "Avboka" in the list asks first, and says what will happen; going back changes nothing.
    assert f'href="/redaktion/evenemang/anmalan/{evil.id}/avboka"' in page.text
    ask = await client.get(f"/redaktion/evenemang/anmalan/{evil.id}/avboka")
    assert ask.status_code == 200
    assert "får ett mejl om att anmälan är avbokad" in visible(ask.text)
    assert "Platsen går till nästa person på reservlistan" in visible(ask.text)
    assert f'href="/redaktion/evenemang/{event.id}#anmalan-{evil.id}"' in ask.text
    cancelled = await client.post(
        f"/redaktion/evenemang/anmalan/{evil.id}/avboka",
        data={"_csrf_token": csrf(ask.text)},
        follow_redirects=False,
    )
    assert cancelled.status_code == 303
    again = await client.get(f"/redaktion/evenemang/anmalan/{evil.id}/avboka")
    assert "Anmälan är redan avbokad" in visible(again.text)
    assert "Ja, avboka" not in again.text
    await session.commit()
    found = await session.execute(select(Registration.email, Registration.status))
    statuses = {str(a): str(b) for a, b in found.all()}
    # The freed seat went to the waitlist at once (no offer hours).
    assert statuses == {
        "anna@example.se": "confirmed",
        "x@example.se": "cancelled",
        "bo@example.se": "confirmed",
    }

    info = await client.get(f"/redaktion/evenemang/{event.id}/utskick")
    empty = await client.post(
        f"/redaktion/evenemang/{event.id}/utskick",
        data={"_csrf_token": csrf(info.text), "subject": "", "body": "Hej"},
    )
    assert empty.status_code == 422 and "Ange en ämnesrad." in empty.text
    sent = await client.post(
        f"/redaktion/evenemang/{event.id}/utskick",
        data={"_csrf_token": csrf(info.text), "subject": "Program", "body": "Välkomna!"},
    )
    assert sent.status_code == 200 and "Brevet är köat till 2 mottagare." in sent.text
    assert "Nr 1" in sent.text
    info_rows = await queued(session, "event-info")
    assert {r.recipient for r in info_rows} == {"anna@example.se", "bo@example.se"}
    assert {r.reference for r in info_rows} == {f"event:{event.id}:info:1"}

    ask = await client.get(f"/redaktion/evenemang/{event.id}/stall-in")
    assert "Ja, ställ in evenemanget" in ask.text
    await session.refresh(event)
    assert event.cancelled_at is None  # the GET only asks
    gone = await client.post(
        f"/redaktion/evenemang/{event.id}/stall-in", data={"_csrf_token": csrf(ask.text)}
    )
    assert gone.status_code == 200 and "Evenemanget är inställt" in gone.text
    await session.refresh(event)
    assert event.cancelled_at is not None


async def test_the_api_with_a_bearer_token(
    client: Client, settings: Settings, session: AsyncSession
) -> None:
    event, item = await make_event(session, settings, capacity=1)
    anna = await add_registration(session, event, "anna@example.se")
    bo = await add_registration(session, event, "bo@example.se", status="waitlisted")
    await session.commit()
    await make_editor(session)
    headers = {"Authorization": f"Bearer {await make_token(session)}"}

    listed = await client.get("/api/v1/events", headers=headers)
    assert listed.status_code == 200
    [one] = listed.json()
    assert one["id"] == event.id and one["counts"]["confirmed"] == 1
    got = await client.get(f"/api/v1/events/{event.id}", headers=headers)
    assert got.json()["counts"]["waitlisted"] == 1 and got.json()["title"] == "Finsamkonferens"
    assert (await client.get("/api/v1/events/99999", headers=headers)).status_code == 404

    body = {"capacity": 2, "waitlist": True, "fields": ["organisation"], "retention_days": 20}
    configured = await client.put(f"/api/v1/events/item/{item.id}", json=body, headers=headers)
    assert configured.status_code == 200, configured.text
    assert configured.json()["capacity"] == 2
    assert configured.json()["counts"]["confirmed"] == 2  # the new seat went to Bo
    bad = await client.put(
        f"/api/v1/events/item/{item.id}",
        json={"capacity": 0, "questions": [{"label": "", "kind": "x"}]},
        headers=headers,
    )
    assert bad.status_code == 422
    assert {"capacity", "questions.1.label", "questions.1.kind"} <= set(bad.json()["fields"])

    registrations = await client.get(f"/api/v1/events/{event.id}/registrations", headers=headers)
    assert [r["status"] for r in registrations.json()] == ["confirmed", "confirmed"]
    checked = await client.post(
        f"/api/v1/events/registrations/{anna.id}/check-in", json={"attended": True}, headers=headers
    )
    assert checked.status_code == 200 and checked.json()["attended_at"] is not None
    exported = await client.get(f"/api/v1/events/{event.id}/attendees.csv", headers=headers)
    assert exported.status_code == 200
    assert exported.headers["content-disposition"] == (
        f'attachment; filename="deltagare-{event.id}.csv"'
    )
    cancelled = await client.post(f"/api/v1/events/registrations/{bo.id}/cancel", headers=headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = await client.post(f"/api/v1/events/registrations/{bo.id}/cancel", headers=headers)
    assert again.status_code == 409
    promote = await client.post(f"/api/v1/events/registrations/{bo.id}/promote", headers=headers)
    assert promote.status_code == 409
