""" "Anmäl dig" on the public calendar, the item page and a newsletter's calendar block:
seats left, the closing date, full with a waitlist, shut events; the public cache sees
a seat being taken (the fingerprint) and a registration opening (the entry expires)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from archive.cache import Cached, Fingerprint, PublicCache
from service.core.dates import format_date
from service.db import utcnow
from service.events import service as events
from service.issues.render import render_issue
from service.settings import Settings
from tests.events.helpers import add_registration, make_event
from tests.factories import make_issue
from tests.pages import Client, visible


def entry(page: str, item_id: int) -> str:
    """The visible text of one item on the calendar page."""
    start = page.index(f'id="item-{item_id}"')
    return visible(page[start : page.index("</li>", start)])


async def test_the_calendar_shows_anmal_dig_and_follows_the_seats(
    client: Client, settings: Settings, session: AsyncSession
) -> None:
    deadline = (utcnow() + timedelta(days=20)).date()
    event, item = await make_event(session, settings, capacity=2, deadline=deadline)
    _shut, shut_item = await make_event(session, settings, opens_at=utcnow() + timedelta(days=3))
    page = (await client.get("/kalender")).text
    assert f'href="/kalender/{item.id}/anmalan">Anmäl dig' in page
    shown = entry(page, item.id)
    assert "2 platser kvar" in shown
    assert f"Sista anmälningsdag {format_date(deadline)}" in shown
    assert "Anmälan öppnar" in entry(page, shut_item.id)
    assert f'href="/kalender/{shut_item.id}/anmalan"' not in page

    # Seats taken elsewhere (another instance, the CLI): the cached page follows.
    await add_registration(session, event, "a@example.se")
    await session.commit()
    assert "1 plats kvar" in entry((await client.get("/kalender")).text, item.id)
    await add_registration(session, event, "b@example.se")
    await session.commit()
    page = (await client.get("/kalender")).text
    assert "Fullbokat – skriv upp dig på reservlistan" in entry(page, item.id)

    # The item's own page says the same, and its .ics is still there.
    own = await client.get(f"/kalender/{item.id}")
    assert own.status_code == 200
    assert "Fullbokat – skriv upp dig på reservlistan" in visible(own.text)
    assert f'href="/kalender/{item.id}/anmalan"' in own.text
    assert (await client.get(f"/kalender/{item.id}.ics")).status_code == 200
    assert (await client.get("/kalender/99999")).status_code == 404
    assert (await client.get("/kalender/12x")).status_code == 404

    await events.cancel_event(session, settings, event.id, actor="test")
    await session.commit()
    page = (await client.get("/kalender")).text
    assert "Evenemanget är inställt." in entry(page, item.id)
    assert f'href="/kalender/{item.id}/anmalan"' not in page


def test_a_cached_page_expires_when_registration_opens_or_closes() -> None:
    cache = PublicCache()
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    fp = Fingerprint("a", moment, moment)
    cache.put("soon", fp, Cached(b"x", "text/html", moment, expires_at=utcnow() + timedelta(1)))
    cache.put("past", fp, Cached(b"y", "text/html", moment, expires_at=utcnow()))
    assert cache.get("soon", fp) is not None
    assert cache.get("past", fp) is None


async def test_the_newsletter_calendar_block_links_to_the_registration(
    settings: Settings, session: AsyncSession
) -> None:
    _event, item = await make_event(session, settings)
    _closed, closed_item = await make_event(
        session, settings, closes_at=utcnow() - timedelta(hours=1)
    )
    issue = await make_issue(
        session, [("calendar", {"mode": "selected", "item_ids": [item.id, closed_item.id]})]
    )
    rendered = await render_issue(session, settings, issue.id)
    url = f"http://testserver.local/kalender/{item.id}/anmalan"
    assert f"Anmäl dig: {url}" in rendered.text
    assert f'href="{url}"' in rendered.html
    assert f"/kalender/{closed_item.id}/anmalan" not in rendered.html + rendered.text
    assert rendered.text.count("Anmäl dig:") == 1
