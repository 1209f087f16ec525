"""Archive pages, feeds and conditional GET, through the real app on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime

import feedparser
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from archive import service as archive
from service.core.models import AuditEntry, KeyValue
from service.demo import load_all
from service.issues.models import Block, Issue
from service.settings import Settings
from tests.pages import Client

AUGUST = "/arkiv/2019/nyhetsbrev-augusti-2019"
PERSONAL = ("installningar", "avregistrera", "%%INNAN", "token")


def _issue(slug: str, title: str, day: date, body: str, *, published: bool = True) -> Issue:
    return Issue(
        slug=slug,
        title=title,
        subject=title,
        preheader=f"Ingress till {title}",
        issue_date=day,
        status="sent" if published else "draft",
        web_published_at=datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
        if published
        else None,
        blocks=[Block(position=0, kind="article", data={"heading": "Rubrik", "body": body})],
    )


async def _cached_at(session: AsyncSession, key: str) -> datetime | None:
    """When the cached body under ``key`` was last (re)built."""
    await session.commit()  # end the snapshot so the app's writes are visible
    return await session.scalar(select(KeyValue.updated_at).where(KeyValue.key == key))


@pytest.fixture
async def demo(session: AsyncSession, settings: Settings) -> AsyncSession:
    await load_all(session, settings)
    await session.commit()
    return session


async def test_index_lists_published_issues_with_feed_links(
    demo: AsyncSession, client: Client
) -> None:
    demo.add(_issue("utkast-1", "Hemligt utkast", date(2020, 1, 1), "x", published=False))
    await demo.commit()
    response = await client.get("/arkiv")
    assert response.status_code == 200
    html = response.text
    assert '<html lang="sv">' in html
    assert "Nyhetsbrev augusti 2019" in html
    assert "Hemligt utkast" not in html
    assert 'type="application/rss+xml"' in html and "http://testserver.local/arkiv/rss.xml" in html
    assert 'type="application/atom+xml"' in html
    assert response.headers["etag"]
    again = await client.get("/arkiv", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


async def test_issue_page_has_web_version_and_open_graph(
    demo: AsyncSession, client: Client
) -> None:
    response = await client.get(AUGUST)
    assert response.status_code == 200
    html = response.text
    assert "Nyhetsbrev augusti 2019" in html
    assert '<meta property="og:url" content="http://testserver.local' + AUGUST + '">' in html
    assert 'property="og:type" content="article"' in html
    assert 'property="og:locale" content="sv_SE"' in html
    assert 'property="og:description"' in html
    for marker in PERSONAL:
        assert marker not in html.lower()
    assert "public" in response.headers["cache-control"]
    assert "set-cookie" not in response.headers  # no session, no cookie for readers
    etag, modified = response.headers["etag"], response.headers["last-modified"]
    assert (await client.get(AUGUST, headers={"If-None-Match": etag})).status_code == 304
    assert (await client.get(AUGUST, headers={"If-Modified-Since": modified})).status_code == 304
    stale = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert (await client.get(AUGUST, headers={"If-Modified-Since": stale})).status_code == 200


async def test_web_version_is_cached_until_the_issue_changes(
    demo: AsyncSession, client: Client, settings: Settings
) -> None:
    await client.get(AUGUST)
    issue = await demo.scalar(select(Issue).where(Issue.slug == "nyhetsbrev-augusti-2019"))
    assert issue is not None
    first = await _cached_at(demo, f"archive:web:{issue.id}")
    assert first is not None
    await client.get(AUGUST)
    assert await _cached_at(demo, f"archive:web:{issue.id}") == first


@pytest.mark.parametrize(
    "path",
    [
        "/arkiv/2018/nyhetsbrev-augusti-2019",
        "/arkiv/2019/finns-inte",
        "/arkiv/abcd/nyhetsbrev-augusti-2019",
        "/arkiv?sida=99",
        "/arkiv?sida=abc",
        "/arkiv?sida=-1",
        "/arkiv?sida=0",
        "/arkiv?ar=tjugo",
    ],
)
async def test_bad_archive_paths_give_swedish_404(
    demo: AsyncSession, client: Client, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert "Sidan hittades inte" in response.text
    assert '<html lang="sv">' in response.text


async def test_withdrawn_issue_is_gone_and_republished(demo: AsyncSession, client: Client) -> None:
    issue = await demo.scalar(select(Issue).where(Issue.slug == "nyhetsbrev-augusti-2019"))
    assert issue is not None
    await archive.withdraw(demo, issue.id, "editor:1")
    await demo.commit()
    assert (await client.get(AUGUST)).status_code == 404
    assert "augusti 2019" not in (await client.get("/arkiv")).text
    await archive.publish_web(demo, issue.id, "editor:1")
    await demo.commit()
    assert (await client.get(AUGUST)).status_code == 200
    actions = (await demo.scalars(select(AuditEntry.action))).all()
    assert "archive.withdraw" in actions and "archive.publish" in actions


async def test_web_only_publish_fills_search_text(demo: AsyncSession, client: Client) -> None:
    draft = _issue("webb-2021", "Webbnummer", date(2021, 3, 1), "Om **samverkan**", published=False)
    demo.add(draft)
    await demo.commit()
    assert (await client.get("/arkiv/2021/webb-2021")).status_code == 404
    await archive.publish_web(demo, draft.id, "editor:1")
    await demo.commit()
    assert (await client.get("/arkiv/2021/webb-2021")).status_code == 200
    found = await client.get("/arkiv", params={"q": "samverkan"})
    assert "Webbnummer" in found.text


async def test_search_treats_markup_and_wildcards_as_text(
    demo: AsyncSession, client: Client
) -> None:
    demo.add(_issue("procent", "Hundra procent", date(2020, 5, 1), "Målet är 100% och a_b"))
    demo.add(_issue("annat", "Annat nummer", date(2020, 6, 1), "Inget särskilt"))
    await demo.commit()
    hits = await client.get("/arkiv", params={"q": "100%"})
    assert "Hundra procent" in hits.text and "Annat nummer" not in hits.text
    # "%" and "_" alone match only literal characters, not everything.
    assert "Annat nummer" not in (await client.get("/arkiv", params={"q": "%"})).text
    assert "Annat nummer" not in (await client.get("/arkiv", params={"q": "_"})).text
    assert "Hundra procent" in (await client.get("/arkiv", params={"q": "a_b"})).text
    evil = await client.get("/arkiv", params={"q": "<script>alert(1)</script>'"})
    assert evil.status_code == 200
    assert "<script>alert(1)" not in evil.text
    assert "&lt;script&gt;" in evil.text
    assert "Inga nyhetsbrev hittades" in evil.text


async def test_year_filter_and_pagination(session: AsyncSession, client: Client) -> None:
    for n in range(25):
        session.add(_issue(f"nr-{n}", f"Nummer {n}", date(2020 + n % 2, 1 + n % 12, 1), "text"))
    await session.commit()
    first = await client.get("/arkiv")
    assert "Sida 1 av 2" in first.text and "sida=2" in first.text
    second = await client.get("/arkiv?sida=2")
    assert second.status_code == 200 and "Sida 2 av 2" in second.text
    only_2020 = await client.get("/arkiv?ar=2020")
    assert "Nummer 0<" in only_2020.text and "Nummer 1<" not in only_2020.text
    assert (await client.get("/arkiv?ar=1999")).status_code == 200


async def test_feeds_parse_and_are_stable(demo: AsyncSession, client: Client) -> None:
    for kind, path in (("rss", "/arkiv/rss.xml"), ("atom", "/arkiv/atom.xml")):
        response = await client.get(path)
        assert response.status_code == 200, response.text
        parsed = feedparser.parse(response.content)
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        assert parsed.feed.language == "sv" or kind == "atom"
        self_links = [link.href for link in parsed.feed.links if link.rel == "self"]
        assert self_links == ["http://testserver.local" + path]
        entry = parsed.entries[0]
        assert entry.link == "http://testserver.local" + AUGUST
        assert entry.id == "http://testserver.local" + AUGUST
        assert entry.summary.startswith("SF Halland")
        assert "Nyhetsbrev augusti 2019" in entry.content[0].value
        text = response.text.lower()
        for marker in PERSONAL:
            assert marker not in text
        assert "xml" in response.headers["content-type"]
        etag, modified = response.headers["etag"], response.headers["last-modified"]
        assert (await client.get(path, headers={"If-None-Match": etag})).status_code == 304
        assert (await client.get(path, headers={"If-Modified-Since": modified})).status_code == 304
        again = await client.get(path)
        assert again.headers["etag"] == etag
        assert feedparser.parse(again.content).entries[0].id == entry.id


async def test_feed_regenerated_only_when_archive_changes(
    demo: AsyncSession, client: Client
) -> None:
    first = await client.get("/arkiv/rss.xml")
    built_at = await _cached_at(demo, "archive:feed:rss")
    assert built_at is not None
    second = await client.get("/arkiv/rss.xml")
    assert second.headers["etag"] == first.headers["etag"]
    assert await _cached_at(demo, "archive:feed:rss") == built_at  # not recomputed

    # An edit changes the feed.
    issue = await demo.scalar(select(Issue).where(Issue.slug == "nyhetsbrev-augusti-2019"))
    assert issue is not None
    issue.title = "Nyhetsbrev augusti 2019 (rättad)"
    issue.version += 1
    await demo.commit()
    edited = await client.get("/arkiv/rss.xml")
    assert edited.headers["etag"] != first.headers["etag"]
    assert "(rättad)" in edited.text
    assert feedparser.parse(edited.content).entries[0].id == "http://testserver.local" + AUGUST

    # A withdrawal removes the entry.
    await archive.withdraw(demo, issue.id, "editor:1")
    await demo.commit()
    withdrawn = await client.get("/arkiv/rss.xml")
    assert withdrawn.headers["etag"] != edited.headers["etag"]
    assert feedparser.parse(withdrawn.content).entries == []
    # A stale ETag no longer gives 304.
    stale = await client.get("/arkiv/rss.xml", headers={"If-None-Match": first.headers["etag"]})
    assert stale.status_code == 200


async def test_feed_keeps_last_50_newest_first(session: AsyncSession, client: Client) -> None:
    for n in range(55):
        session.add(_issue(f"f-{n}", f"Flöde {n}", date(2000 + n // 12, 1 + n % 12, 1), "x"))
    await session.commit()
    parsed = feedparser.parse((await client.get("/arkiv/atom.xml")).content)
    assert parsed.bozo == 0
    assert len(parsed.entries) == 50
    assert parsed.entries[0].title == "Flöde 54"
    assert parsed.entries[-1].title == "Flöde 5"


async def test_search_finds_swedish_words_and_edited_text(
    demo: AsyncSession, client: Client
) -> None:
    demo.add(_issue("ostersund", "Besök i Östersund", date(2020, 9, 1), "Vi åkte till Åre."))
    await demo.commit()
    for term in ("östersund", "Östersund", "åre", "ÅRE"):
        assert "Besök i Östersund" in (await client.get("/arkiv", params={"q": term})).text, term
    # An edit of the body is found after the issue's page has been rendered again.
    issue = await demo.scalar(select(Issue).where(Issue.slug == "ostersund"))
    assert issue is not None
    issue.blocks[0].data = {"heading": "Rubrik", "body": "Nu om Kungsbacka i stället."}
    issue.version += 1
    await demo.commit()
    assert (await client.get("/arkiv/2020/ostersund")).status_code == 200
    assert "Besök i Östersund" in (await client.get("/arkiv", params={"q": "kungsbacka"})).text
    assert "Besök i Östersund" not in (await client.get("/arkiv", params={"q": "Åre"})).text


async def test_intro_is_on_the_page_in_the_feeds_and_found_by_search(
    session: AsyncSession, client: Client
) -> None:
    issue = _issue("ingress-2021", "Nummer med ingress", date(2021, 4, 1), "Artikelns text.")
    issue.blocks.insert(
        0,
        Block(
            position=0,
            kind="intro",
            data={"body": "Våren i Falkenberg bjuder på nya träffar.\n\nVälkommen!"},
        ),
    )
    issue.blocks[1].position = 1
    session.add(issue)
    await session.commit()
    page = await client.get("/arkiv/2021/ingress-2021")
    assert page.status_code == 200
    assert '<div class="issue-intro">' in page.text
    assert "<p>Våren i Falkenberg bjuder på nya träffar.</p>" in page.text
    assert page.text.index("Våren i Falkenberg") < page.text.index("Artikelns text.")
    for path in ("/arkiv/rss.xml", "/arkiv/atom.xml"):
        [entry] = feedparser.parse((await client.get(path)).content).entries
        content = entry.content[0].value
        assert "issue-intro" in content and "Våren i Falkenberg bjuder på nya träffar." in content
    found = await client.get("/arkiv", params={"q": "falkenberg"})
    assert "Nummer med ingress" in found.text
