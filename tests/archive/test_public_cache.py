"""Public pages kept in process memory: never stale after a change, HEAD, byte budget.

The app answers repeated public GETs from memory while the published content's
fingerprint is unchanged. These tests change content the way another web instance or
the CLI would — through their own database session, not through the app under test —
and check that the very next request shows the change on both backends.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta

import feedparser
import pytest
from icalendar import Calendar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from archive import service as archive
from archive.cache import Cached, Fingerprint, PublicCache
from service.app import create_app
from service.calendar import service as calendar_service
from service.calendar.models import CalendarItem
from service.demo import load_all
from service.issues.models import Issue
from service.settings import Settings
from tests.pages import Client

AUGUST = "/arkiv/2019/nyhetsbrev-augusti-2019"
ARCHIVE_URLS = ("/arkiv", AUGUST, "/arkiv/rss.xml", "/arkiv/atom.xml")


@pytest.fixture
async def demo(session: AsyncSession, settings: Settings) -> AsyncSession:
    await load_all(session, settings)
    await session.commit()
    return session


async def _august(session: AsyncSession) -> Issue:
    issue = await session.scalar(select(Issue).where(Issue.slug == "nyhetsbrev-augusti-2019"))
    assert issue is not None
    return issue


async def test_an_edit_elsewhere_shows_on_the_next_request(
    demo: AsyncSession, client: Client
) -> None:
    before = {url: await client.get(url) for url in ARCHIVE_URLS}
    for url, response in before.items():
        assert response.status_code == 200, url
        assert (await client.get(url)).headers["etag"] == response.headers["etag"], url

    issue = await _august(demo)
    issue.title = "Nyhetsbrev augusti 2019 – rättad utgåva"
    issue.version += 1
    issue.updated_at = datetime.now(UTC)
    await demo.commit()

    for url, response in before.items():
        after = await client.get(url, headers={"If-None-Match": response.headers["etag"]})
        assert after.status_code == 200, url  # the old copy is no longer current
        assert after.headers["etag"] != response.headers["etag"], url
        assert "rättad utgåva" in after.text, url


async def test_a_withdrawal_elsewhere_is_seen_by_every_instance(
    demo: AsyncSession, settings: Settings, client: Client
) -> None:
    other = create_app(settings)  # a second web instance on the same database
    async with AsyncTestClient(app=other) as second:
        for c in (client, second):
            assert (await c.get(AUGUST)).status_code == 200
            assert "augusti 2019" in (await c.get("/arkiv")).text.lower()
        await archive.withdraw(demo, (await _august(demo)).id, "cli")
        await demo.commit()
        for c in (client, second):
            gone = await c.get(AUGUST)
            assert gone.status_code == 404
            assert "finns inte" in gone.text
            assert "nyhetsbrev-augusti-2019" not in (await c.get("/arkiv")).text
            assert feedparser.parse((await c.get("/arkiv/rss.xml")).content).entries == []


async def test_a_calendar_edit_elsewhere_shows_on_the_next_request(
    session: AsyncSession, client: Client
) -> None:
    day = date.today() + timedelta(days=20)
    item = CalendarItem(
        uid="cache-1@test",
        title="Nätverksträff i Halmstad",
        all_day=False,
        starts_at=datetime.combine(day, time(9, 0), tzinfo=UTC),
        ends_at=datetime.combine(day, time(11, 0), tzinfo=UTC),
        start_date=day,
        place="Halmstad",
    )
    session.add(item)
    await session.commit()
    urls = ("/kalender", "/kalender.ics", f"/kalender/{item.id}.ics", "/kalender/rss.xml")
    before = {url: await client.get(url) for url in urls}
    assert all(r.status_code == 200 and "Nätverksträff" in r.text for r in before.values())

    await calendar_service.update_item(
        session,
        item.id,
        calendar_service.ItemFields(
            title="Nätverksträff i Varberg",
            start_date=day.isoformat(),
            start_time="09:00",
            end_time="11:00",
            place="Varberg",
        ),
        actor="cli",
    )
    await session.commit()
    for url, response in before.items():
        after = await client.get(url)
        assert after.headers["etag"] != response.headers["etag"], url
        assert "Varberg" in after.text, url
    ics = Calendar.from_ical((await client.get(f"/kalender/{item.id}.ics")).content)
    assert str(ics.walk("VEVENT")[0]["SUMMARY"]) == "Nätverksträff i Varberg"


async def test_a_search_is_never_answered_from_the_cache(
    demo: AsyncSession, client: Client
) -> None:
    first = await client.get("/arkiv", params={"q": "zebrafink"})
    assert first.status_code == 200
    assert "nyhetsbrev-augusti-2019" not in first.text
    issue = await _august(demo)
    # search_text is derived data: changing it does not touch the fingerprint.
    issue.search_text = issue.search_text + " zebrafink"
    await demo.commit()
    found = await client.get("/arkiv", params={"q": "zebrafink"})
    assert "nyhetsbrev-augusti-2019" in found.text


async def test_index_answers_if_modified_since(demo: AsyncSession, client: Client) -> None:
    response = await client.get("/arkiv")
    modified = response.headers["last-modified"]
    assert (await client.get("/arkiv", headers={"If-Modified-Since": modified})).status_code == 304
    issue = await _august(demo)
    issue.version += 1
    issue.updated_at = datetime.now(UTC) + timedelta(seconds=2)
    await demo.commit()
    later = await client.get("/arkiv", headers={"If-Modified-Since": modified})
    assert later.status_code == 200


@pytest.mark.parametrize(
    "url", [*ARCHIVE_URLS, "/kalender", "/kalender/tidigare", "/kalender.ics", "/kalender/rss.xml"]
)
async def test_public_urls_answer_head(demo: AsyncSession, client: Client, url: str) -> None:
    got = await client.get(url)
    head = await client.head(url)
    assert head.status_code == 200
    assert head.content == b""
    for name in ("etag", "last-modified", "content-type", "cache-control"):
        assert head.headers[name] == got.headers[name], name
    assert (await client.head("/arkiv/2019/finns-inte")).status_code == 404


def _cached(size: int) -> Cached:
    return Cached(b"x" * size, "text/html", datetime(2026, 1, 1, tzinfo=UTC))


def test_cache_keeps_within_its_byte_budget_least_recently_used_first() -> None:
    cache = PublicCache(budget_bytes=1000)
    fp = Fingerprint("a", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
    cache.put("one", fp, _cached(240))
    cache.put("two", fp, _cached(240))
    cache.put("three", fp, _cached(240))
    assert cache.get("one", fp) is not None  # "two" is now the least recently used
    cache.put("four", fp, _cached(240))
    cache.put("five", fp, _cached(240))
    assert cache.size_bytes <= 1000
    assert cache.get("two", fp) is None
    assert cache.get("one", fp) is not None
    cache.put("huge", fp, _cached(600))  # over a quarter of the budget: not kept at all
    assert cache.get("huge", fp) is None
    assert cache.get("one", fp) is not None
    newer = Fingerprint("b", fp.archive_modified, fp.calendar_modified)
    assert cache.get("one", newer) is None  # filed under another fingerprint


async def test_a_fingerprint_read_never_predates_the_request(
    session: AsyncSession, settings: Settings
) -> None:
    """A caller that arrives while a read is running waits for a fresh one."""
    from service.db import create_engine

    engine = create_engine(settings.database_url)
    cache = PublicCache()
    try:
        for n in range(15):
            early = asyncio.create_task(cache.fingerprint(engine))
            await asyncio.sleep(0)  # let the early read start
            session.add(
                CalendarItem(uid=f"wave-{n}@test", title=f"Träff {n}", start_date=date.today())
            )
            await session.commit()
            late = await cache.fingerprint(engine)
            assert late.value.split("|")[1].startswith(f"{n + 1}:"), (n, late.value)
            await early
    finally:
        await cache.close()
        await engine.dispose()
