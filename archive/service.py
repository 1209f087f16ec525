"""Archive rules: which issues are public, search, the cached web version, publish/withdraw.

An issue is in the archive when ``web_published_at`` is set (the delivery pipeline sets
it when a send starts; an editor may publish web-only, never an empty issue) and
``archive_withdrawn`` is false. Rendered web versions and feeds are cached in
``kv_cache``, keyed by what they depend on, so a request reads one row instead of
rendering MJML.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, extract, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import lazyload
from sqlalchemy.orm.attributes import set_committed_value

from service.core import audit
from service.core.models import KeyValue
from service.db import is_row_id, utcnow
from service.errors import Conflict, NotFound
from service.issues.content import ensure_content
from service.issues.messages import EMPTY_ISSUE_WEB
from service.issues.models import Issue
from service.settings import Settings

PER_PAGE = 20
MAX_QUERY = 200
_TAGS = re.compile(r"<[^>]+>")
# Listing and page lookups never need the blocks (the web version is cached).
NO_BLOCKS = (lazyload(Issue.blocks), lazyload(Issue.list_links))


@dataclass(frozen=True)
class ArchivePage:
    issues: list[Issue]
    page: int
    pages: int
    total: int
    query: str
    year: int | None
    years: list[int]


@dataclass(frozen=True)
class WebVersion:
    issue: Issue
    html: str
    etag: str
    last_modified: datetime


def published_clause() -> ColumnElement[bool]:
    """Public in the archive: published, not withdrawn, not a deleted draft."""
    return and_(
        Issue.web_published_at.is_not(None),
        Issue.archive_withdrawn.is_(False),
        Issue.deleted_at.is_(None),
    )


def escape_like(term: str) -> str:
    """``term`` as literal text inside a LIKE pattern (escape character ``\\``)."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def compute_search_text(issue: Issue) -> str:
    """Title, preheader and the readable text of every block (markup removed)."""
    parts = [issue.title, issue.preheader]
    for block in issue.blocks:
        data: dict[str, Any] = block.data or {}
        for key in ("heading", "text", "body", "button_label"):
            value = data.get(key)
            if value:
                parts.append(str(value))
        image = data.get("image")
        if isinstance(image, dict):
            parts.extend(str(image.get(k) or "") for k in ("alt", "caption"))
    text = "\n".join(p for p in parts if p)
    return _TAGS.sub(" ", text)


async def _store_search_text(session: AsyncSession, issue: Issue, text: str) -> None:
    """Save ``search_text`` without touching ``updated_at`` (it is derived, not an edit)."""
    await session.execute(
        update(Issue)
        .where(Issue.id == issue.id)
        .values(search_text=text, updated_at=Issue.updated_at)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(issue, "search_text", text)


async def refresh_search_text(session: AsyncSession) -> int:
    """Fill ``search_text`` of published issues where it is missing (lazy, cheap when done)."""
    rows = (
        await session.scalars(
            select(Issue).options(*NO_BLOCKS).where(published_clause(), Issue.search_text == "")
        )
    ).all()
    for issue in rows:
        await session.refresh(issue, ["blocks"])
        await _store_search_text(session, issue, compute_search_text(issue) or " ")
    return len(rows)


async def archive_years(session: AsyncSession) -> list[int]:
    year = extract("year", Issue.issue_date)
    rows = (
        await session.scalars(
            select(year).where(published_clause()).group_by(year).order_by(year.desc())
        )
    ).all()
    return [int(y) for y in rows]


async def list_archive(
    session: AsyncSession,
    *,
    page: int = 1,
    query: str = "",
    year: int | None = None,
    per_page: int = PER_PAGE,
) -> ArchivePage:
    """One page of the archive, newest first; NotFound when ``page`` is past the end."""
    query = " ".join(query.split())[:MAX_QUERY]
    conditions: list[ColumnElement[bool]] = [published_clause()]
    if year is not None:
        conditions.append(extract("year", Issue.issue_date) == year)
    if query:
        await refresh_search_text(session)
        for word in query.split():
            # SQLite's lower() folds only ASCII, so also try the word as typed and
            # capitalised (finds "Östersund" for "östersund" on both backends).
            variants = {word.lower(), word, word.capitalize()}
            matches: list[ColumnElement[bool]] = []
            for variant in sorted(variants):
                pattern = f"%{escape_like(variant)}%"
                matches.append(func.lower(Issue.title).like(pattern.lower(), escape="\\"))
                matches.append(Issue.title.like(pattern, escape="\\"))
                matches.append(func.lower(Issue.search_text).like(pattern.lower(), escape="\\"))
                matches.append(Issue.search_text.like(pattern, escape="\\"))
            conditions.append(or_(*matches))
    total = int(await session.scalar(select(func.count(Issue.id)).where(*conditions)) or 0)
    pages = max(1, -(-total // per_page))
    if page < 1 or page > pages:
        raise NotFound("Den sidan finns inte i arkivet.")
    issues = (
        await session.scalars(
            select(Issue)
            .options(*NO_BLOCKS)
            .where(*conditions)
            .order_by(Issue.issue_date.desc(), Issue.web_published_at.desc(), Issue.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    ).all()
    return ArchivePage(
        issues=list(issues),
        page=page,
        pages=pages,
        total=total,
        query=query,
        year=year,
        years=await archive_years(session),
    )


async def published_issue(session: AsyncSession, year: int, slug: str) -> Issue:
    issue = await session.scalar(
        select(Issue).options(*NO_BLOCKS).where(Issue.slug == slug, published_clause())
    )
    if issue is None or issue.issue_date.year != year:
        raise NotFound("Nyhetsbrevet finns inte i arkivet.")
    return issue


def issue_stamp(issue: Issue) -> str:
    """What the web version depends on: id, version and last change."""
    return f"{issue.id}:{issue.version}:{issue.updated_at.timestamp():.6f}"


@dataclass(frozen=True)
class CachedBody:
    body: bytes
    etag: str
    last_modified: datetime
    regenerated: bool


async def cached_body(
    session: AsyncSession, key: str, fingerprint: str, build: Callable[[], Awaitable[bytes]]
) -> CachedBody:
    """The body stored under ``key``, rebuilt by ``build`` only when ``fingerprint`` changed."""
    row = await cache_get(session, key)
    regenerated = False
    if row is None or row.note != fingerprint:
        row = await cache_put(session, key, await build(), fingerprint)
        regenerated = True
    return CachedBody(
        body=row.value,
        etag=row.etag or '"0"',
        last_modified=row.updated_at,
        regenerated=regenerated,
    )


async def cache_get(session: AsyncSession, key: str) -> KeyValue | None:
    return await session.get(KeyValue, key)


async def cache_put(session: AsyncSession, key: str, value: bytes, note: str) -> KeyValue:
    etag = '"' + hashlib.sha256(value).hexdigest()[:32] + '"'
    row = await session.get(KeyValue, key)
    if row is None:
        row = KeyValue(key=key, value=value, etag=etag, note=note, updated_at=utcnow())
        try:
            async with session.begin_nested():
                session.add(row)
        except IntegrityError:
            # Another request stored the same entry first; serve ours, keep theirs.
            return KeyValue(key=key, value=value, etag=etag, note=note, updated_at=utcnow())
        return row
    row.value, row.etag, row.note, row.updated_at = value, etag, note, utcnow()
    await session.flush()
    return row


async def web_version(session: AsyncSession, settings: Settings, issue: Issue) -> WebVersion:
    """The issue's ``web_html``, rendered once per change and then read from ``kv_cache``."""
    key = f"archive:web:{issue.id}"
    stamp = issue_stamp(issue)
    row = await cache_get(session, key)
    if row is None or row.note != stamp:
        from service.issues.render import render_issue

        await session.refresh(issue, ["blocks", "list_links"])
        rendered = await render_issue(session, settings, issue.id)
        # The issue changed since the last render: its search text may be stale too.
        text = compute_search_text(issue)
        if text != issue.search_text:
            await _store_search_text(session, issue, text)
        row = await cache_put(session, key, rendered.web_html.encode(), stamp)
    return WebVersion(
        issue=issue,
        html=row.value.decode(),
        etag=row.etag or '"0"',
        last_modified=max(issue.updated_at, issue.web_published_at or issue.updated_at),
    )


def fingerprint_select() -> Select[int, datetime, datetime | None, int]:
    """Count, latest change, latest publication and version sum of the public issues."""
    return select(
        func.count(Issue.id),
        func.max(Issue.updated_at),
        func.max(Issue.web_published_at),
        func.sum(Issue.version),
    ).where(published_clause())


def fingerprint_text(row: Sequence[Any]) -> str:
    """The fingerprint string of a :func:`fingerprint_select` row."""
    count, updated, published, versions = row
    return f"{count}:{updated}:{published}:{versions}"


async def archive_fingerprint(session: AsyncSession) -> str:
    """Changes whenever an issue is published, edited or withdrawn (one cheap query)."""
    return fingerprint_text((await session.execute(fingerprint_select())).one())


async def _issue(session: AsyncSession, issue_id: int) -> Issue:
    issue = await session.get(Issue, issue_id) if is_row_id(issue_id) else None
    if issue is None or issue.deleted_at is not None:
        raise NotFound("Nyhetsbrevet finns inte.")
    return issue


async def publish_web(session: AsyncSession, issue_id: int, actor: str) -> Issue:
    """Publish ``issue_id`` in the archive (web only, or again after a withdrawal)."""
    issue = await _issue(session, issue_id)
    if issue.status == "cancelled":
        raise Conflict("Ett avbrutet nyhetsbrev kan inte publiceras i arkivet.")
    await ensure_content(session, issue, message=EMPTY_ISSUE_WEB)
    now = utcnow()
    if issue.web_published_at is None:
        issue.web_published_at = now
    issue.archive_withdrawn = False
    await session.refresh(issue, ["blocks"])
    issue.search_text = compute_search_text(issue)
    issue.updated_at = now
    audit.record(session, actor, "archive.publish", "issue", issue.id, slug=issue.slug)
    await session.flush()
    return issue


async def withdraw(session: AsyncSession, issue_id: int, actor: str) -> Issue:
    """Take ``issue_id`` out of the archive and the feeds (its URL then answers 404)."""
    issue = await _issue(session, issue_id)
    issue.archive_withdrawn = True
    issue.updated_at = utcnow()
    audit.record(session, actor, "archive.withdraw", "issue", issue.id, slug=issue.slug)
    await session.flush()
    return issue


async def editor_overview(session: AsyncSession) -> list[Issue]:
    """Every issue, newest first, for the editor's archive page."""
    return list(
        (
            await session.scalars(
                select(Issue)
                .options(*NO_BLOCKS)
                .where(Issue.deleted_at.is_(None))
                .order_by(Issue.issue_date.desc(), Issue.id.desc())
                .limit(500)
            )
        ).all()
    )


def is_public(issue: Issue) -> bool:
    return (
        issue.web_published_at is not None
        and not issue.archive_withdrawn
        and issue.deleted_at is None
    )


def state_label(issue: Issue) -> str:
    """The issue's archive state in Swedish (CLI and editor page)."""
    if is_public(issue):
        return "publicerat"
    return "tillbakadraget" if issue.archive_withdrawn else "ej publicerat"
