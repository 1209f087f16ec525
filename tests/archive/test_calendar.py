"""FINSAM-kalendern: page, past items, iCalendar (strict line check + icalendar), RSS."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import feedparser
import pytest
from icalendar import Calendar
from sqlalchemy.ext.asyncio import AsyncSession

from archive.calendar import today
from service.calendar.models import CalendarItem
from service.core.dates import MONTHS, STOCKHOLM
from tests.pages import Client

LONG_PLACE = "Stadsbiblioteket i Halmstad, hörsal Ärlan, våning två – ingång från Österbrogatan 4"


def _items(base: date) -> list[CalendarItem]:
    ahead = base + timedelta(days=40)
    start = datetime.combine(ahead, time(10, 0), tzinfo=STOCKHOLM)
    return [
        CalendarItem(
            uid="tid-1@test",
            title="Öppen konferensplanering för FINSAM 2020 – välkommen att påverka innehållet",
            all_day=False,
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            start_date=ahead,
            place=LONG_PLACE,
            link="https://example.se/anmalan",
            registration_deadline=ahead - timedelta(days=7),
            organiser="Samordningsförbundet i Halland",
            description="Vi går igenom förslag på teman. Fika ingår; ta gärna med åsikter!",
            sequence=2,
        ),
        CalendarItem(
            uid="heldag-1@test",
            title="Arbetsplatsambassadörsdag – språkinlärning",
            all_day=True,
            start_date=ahead + timedelta(days=3),
            end_date=ahead + timedelta(days=4),
            place="Folkets Hus Varberg",
            organiser="Arbetsförmedlingen",
        ),
        CalendarItem(
            uid="forr-1@test",
            title="Grundutbildning i försäkringsmedicin",
            all_day=True,
            start_date=base - timedelta(days=30),
            place="Halmstad",
        ),
    ]


@pytest.fixture
async def items(session: AsyncSession) -> list[CalendarItem]:
    rows = _items(today())
    session.add_all(rows)
    await session.commit()
    return rows


async def test_calendar_page_groups_upcoming_by_month(
    items: list[CalendarItem], client: Client
) -> None:
    response = await client.get("/kalender")
    assert response.status_code == 200
    html = response.text
    month = MONTHS[items[0].start_date.month - 1]
    assert month.capitalize() in html
    assert "Öppen konferensplanering" in html
    assert "Sista anmälningsdag" in html
    assert f'href="/kalender/{items[0].id}.ics"' in html
    assert "Lägg till i kalender" in html
    assert "kl. 10.00–12.00" in html
    assert "Grundutbildning i försäkringsmedicin" not in html  # past
    past = await client.get("/kalender/tidigare")
    assert past.status_code == 200 and "Grundutbildning i försäkringsmedicin" in past.text
    assert "Öppen konferensplanering" not in past.text


@pytest.mark.parametrize(
    "path",
    [
        "/kalender/abc.ics",
        "/kalender/999999.ics",
        "/kalender/999999",  # /kalender/<id> is an item's page; this item does not exist
        "/kalender/1x",
        "/kalender/tidigare?sida=x",
        "/kalender/tidigare?sida=50",
    ],
)
async def test_bad_calendar_paths_give_swedish_404(
    items: list[CalendarItem], client: Client, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert "Sidan hittades inte" in response.text


def strict_lines(body: bytes) -> list[str]:
    """RFC 5545 line rules checked by hand; returns the unfolded content lines."""
    assert body.endswith(b"\r\n")
    raw_lines = body.split(b"\r\n")[:-1]
    for line in raw_lines:
        assert b"\n" not in line and b"\r" not in line, line
        assert len(line) <= 75, (len(line), line)
        line.decode("utf-8")  # never split inside a UTF-8 character
    unfolded: list[str] = []
    for line in raw_lines:
        if line.startswith((b" ", b"\t")):
            unfolded[-1] += line[1:].decode("utf-8")
        else:
            unfolded.append(line.decode("utf-8"))
    return unfolded


async def test_ics_feed_is_valid_and_round_trips_swedish(
    items: list[CalendarItem], client: Client
) -> None:
    response = await client.get("/kalender.ics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    lines = strict_lines(response.content)
    assert lines[0] == "BEGIN:VCALENDAR"
    assert "VERSION:2.0" in lines
    assert any(line.startswith("PRODID:") for line in lines)
    assert "X-WR-CALNAME:FINSAM-kalendern" in lines
    assert "BEGIN:VTIMEZONE" in lines and "TZID:Europe/Stockholm" in lines
    assert any(line.startswith("DTSTART;TZID=Europe/Stockholm:") for line in lines)
    assert any(line.startswith("DTSTART;VALUE=DATE:") for line in lines)
    assert any(line.startswith("LOCATION:Stadsbiblioteket i Halmstad") for line in lines)
    # Some line had to be folded (long Swedish text), and unfolding restored it.
    assert any(len(line.encode()) > 75 for line in lines)

    cal = Calendar.from_ical(response.content)
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    assert set(events) == {"tid-1@test", "heldag-1@test", "forr-1@test"}
    timed = events["tid-1@test"]
    assert str(timed["SUMMARY"]) == items[0].title
    assert str(timed["LOCATION"]) == LONG_PLACE
    description = str(timed["DESCRIPTION"])
    assert "Fika ingår; ta gärna med åsikter!" in description
    assert "Sista anmälningsdag" in description and "Samordningsförbundet i Halland" in description
    assert str(timed["URL"]) == "https://example.se/anmalan"
    assert int(timed["SEQUENCE"]) == 2
    assert "DTSTAMP" in timed
    start = timed.decoded("DTSTART")
    assert start.tzinfo is not None and start.astimezone(STOCKHOLM).hour == 10
    assert timed["DTSTART"].params["TZID"] == "Europe/Stockholm"
    all_day = events["heldag-1@test"]
    assert all_day["DTSTART"].params.get("VALUE") == "DATE"
    assert all_day.decoded("DTEND") == items[1].start_date + timedelta(days=2)  # exclusive
    assert str(all_day["SUMMARY"]) == "Arbetsplatsambassadörsdag – språkinlärning"

    etag = response.headers["etag"]
    assert (await client.get("/kalender.ics", headers={"If-None-Match": etag})).status_code == 304
    assert (await client.get("/kalender.ics")).headers["etag"] == etag  # cached, same body


async def test_single_item_ics_is_an_attachment(items: list[CalendarItem], client: Client) -> None:
    response = await client.get(f"/kalender/{items[1].id}.ics")
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert ".ics" in response.headers["content-disposition"]
    strict_lines(response.content)
    events = Calendar.from_ical(response.content).walk("VEVENT")
    assert [str(e["UID"]) for e in events] == ["heldag-1@test"]


async def test_calendar_rss_of_upcoming_items(items: list[CalendarItem], client: Client) -> None:
    response = await client.get("/kalender/rss.xml")
    assert response.status_code == 200
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    titles = [e.title for e in parsed.entries]
    assert titles[0].startswith("Öppen konferensplanering")
    assert "Grundutbildning i försäkringsmedicin" not in titles
    self_links = [link.href for link in parsed.feed.links if link.rel == "self"]
    assert self_links == ["http://testserver.local/kalender/rss.xml"]
