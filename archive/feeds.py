"""RSS 2.0 and Atom feeds of the archive (feedgen), cached in ``kv_cache``.

A feed is rebuilt only when :func:`archive.service.archive_fingerprint` changes (an issue
sent, published, edited or withdrawn); otherwise the stored body and its ETag are served.
Entries carry only public content: the web version has no personal links or tokens.
"""

from __future__ import annotations

from datetime import UTC, datetime

from feedgen.feed import FeedGenerator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from archive.service import (
    NO_BLOCKS,
    CachedBody,
    archive_fingerprint,
    cached_body,
    published_clause,
    web_version,
)
from service.issues.models import Issue
from service.issues.urls import archive_url
from service.settings import Settings

FEED_LIMIT = 50
FEED_KINDS = ("rss", "atom")
FEED_PATHS = {"rss": "/arkiv/rss.xml", "atom": "/arkiv/atom.xml"}
FEED_TITLE = "Innanförskapet – nyhetsbrev"


def issue_guid(settings: Settings, issue: Issue) -> str:
    """The permanent archive URL: stable for the life of the issue."""
    return archive_url(settings, issue.issue_date, issue.slug)


async def _build(session: AsyncSession, settings: Settings, kind: str) -> tuple[bytes, datetime]:
    issues = (
        await session.scalars(
            select(Issue)
            .options(*NO_BLOCKS)
            .where(published_clause())
            .order_by(Issue.web_published_at.desc(), Issue.issue_date.desc(), Issue.id.desc())
            .limit(FEED_LIMIT)
        )
    ).all()
    self_url = settings.url(FEED_PATHS[kind])
    fg = FeedGenerator()
    fg.load_extension("dc")
    fg.id(self_url if kind == "atom" else settings.url("/arkiv"))
    fg.title(FEED_TITLE)
    fg.subtitle(f"Nyhetsbrev från {settings.org_name}")
    fg.author({"name": settings.org_name})
    fg.link(href=self_url, rel="self")
    fg.link(href=settings.url("/arkiv"), rel="alternate")
    fg.language("sv")
    fg.generator("Innanförskapet")
    updated = datetime(2000, 1, 1, tzinfo=UTC)
    for issue in issues:
        published = issue.web_published_at or issue.updated_at
        changed = max(issue.updated_at, published)
        updated = max(updated, changed)
        url = issue_guid(settings, issue)
        version = await web_version(session, settings, issue)
        entry = fg.add_entry(order="append")
        entry.id(url)
        entry.guid(url, permalink=True)
        entry.title(issue.title)
        entry.link(href=url, rel="alternate")
        summary = issue.preheader or issue.title
        entry.published(published)
        entry.updated(changed)
        entry.author({"name": settings.org_name})
        if kind == "rss":
            entry.description(summary)
            entry.content(version.html, type="CDATA")
        else:
            entry.summary(summary)
            entry.content(version.html, type="html")
    fg.updated(updated)
    if kind == "rss":
        fg.lastBuildDate(updated)
        body: bytes = fg.rss_str(pretty=False)
    else:
        body = fg.atom_str(pretty=False)
    return body, updated


async def feed(session: AsyncSession, settings: Settings, kind: str) -> CachedBody:
    """The feed body (``rss`` or ``atom``), rebuilt only when the archive changed."""

    async def build() -> bytes:
        return (await _build(session, settings, kind))[0]

    return await cached_body(
        session, f"archive:feed:{kind}", await archive_fingerprint(session), build
    )
