"""HTTP handlers: public archive, feeds and calendar; the editor's publish/withdraw page and API.

Public pages and feeds answer conditional GETs (``ETag``/``Last-Modified`` → 304) and
carry ``Cache-Control: public``. Bad paths or parameters give the Swedish 404 page.
Editor routes are controllers on the editor domain's bases (:mod:`service.editor.guards`):
session + CSRF forms, and the bearer-token API.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from archive import calendar as cal
from archive import feeds
from archive import service as archive
from archive.cache import Cached, Fingerprint, PublicCache, public_fast_path
from archive.service import CachedBody
from service import api
from service.core import dates as fmt
from service.db import session_scope
from service.editor.guards import Actor, EditorApi, EditorPages
from service.errors import NotFound, ValidationFailed
from service.issues.urls import archive_path, archive_url
from service.public_calendar import notes_expire, notes_for
from service.settings import Settings
from service.web import (
    Contribution,
    conditional,
    discard_attempt,
    public_get,
    session_factory_of,
    settings_of,
)

Db = NamedDependency[AsyncSession]
PUBLIC_CACHE = "public, max-age=300"
INDEX_CACHE = "public, max-age=60"
FEED_CACHE = "public, max-age=300"
HTML_TYPE = "text/html"
RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
ICS_TYPE = "text/calendar"  # Litestar adds "; charset=utf-8" to text/* types


def _positive_int(raw: str | None, default: int = 1) -> int:
    """A page number from the query string; anything else is a 404, never a 500."""
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"[0-9]{1,6}", raw.strip()):
        raise NotFound("Den sidan finns inte.")
    return int(raw)


def _year(raw: str | None) -> int | None:
    if raw is None or raw.strip() == "":
        return None
    if not re.fullmatch(r"[0-9]{4}", raw.strip()):
        raise NotFound("Det finns inga nyhetsbrev från det året.")
    return int(raw)


# --- served from the in-process cache -------------------------------------------


Build = Callable[[AsyncSession, Fingerprint], Awaitable[Cached]]


def public_cache_of(request: Request[Any, Any, Any]) -> PublicCache:
    found: PublicCache = request.app.state.public_cache
    return found


def render_page(request: Request[Any, Any, Any], name: str, **context: Any) -> bytes:
    engine = request.app.template_engine
    if engine is None:  # pragma: no cover - the app always configures templates
        raise RuntimeError("no template engine")
    html: str = engine.get_template(name).render(**context)
    return html.encode()


async def serve_public(
    request: Request[Any, Any, Any], key: str | None, build: Build, *, cache: str
) -> Response[bytes]:
    """Answer from the process cache while the fingerprint holds; else build and keep.

    ``key`` None (a search) is built every time and not kept. The fingerprint is read
    before building, so an entry is never filed under a newer fingerprint than its body.
    """
    public = public_cache_of(request)
    fingerprint = await public.fingerprint(request.app.state.engine)
    found = public.get(key, fingerprint) if key else None
    if found is None:
        # A session of its own (public reads have no request session): committed,
        # since a build may store derived rows (kv_cache, search text).
        async with session_scope(session_factory_of(request.app)) as db:
            found = await build(db, fingerprint)
        if key:
            public.put(key, fingerprint, found)
    if key:
        public.remember(request.scope, key, found)  # archive/cache.py: PublicFastPath
    return conditional(
        request,
        found.body,
        etag=found.etag,
        last_modified=found.last_modified,
        media_type=found.media_type,
        cache=cache,
        extra=found.headers,
    )


# --- archive ---------------------------------------------------------------------


@public_get("/arkiv")
async def archive_index(
    request: Request[Any, Any, Any],
    sida: FromQuery[str | None] = None,
    q: FromQuery[str | None] = None,
    ar: FromQuery[str | None] = None,
) -> Response[bytes]:
    page = _positive_int(sida)
    year = _year(ar)
    query = (q or "")[: archive.MAX_QUERY * 2]

    async def build(db: AsyncSession, fingerprint: Fingerprint) -> Cached:
        result = await archive.list_archive(db, page=page, query=query, year=year)
        body = render_page(
            request,
            "pages/archive/index.html",
            r=result,
            fmt=fmt,
            archive_path=archive_path,
        )
        return Cached(body, HTML_TYPE, fingerprint.archive_modified)

    # Browsing is kept; a search is answered fresh every time.
    key = None if query.strip() else f"arkiv:{page}:{year or ''}"
    return await serve_public(request, key, build, cache=INDEX_CACHE)


@public_get("/arkiv/{year:str}/{slug:str}")
async def archive_issue(
    request: Request[Any, Any, Any], year: FromPath[str], slug: FromPath[str]
) -> Response[bytes]:
    settings = settings_of(request)
    if not re.fullmatch(r"[0-9]{4}", year):
        raise NotFound("Nyhetsbrevet finns inte i arkivet.")

    async def build(db: AsyncSession, _fingerprint: Fingerprint) -> Cached:
        issue = await archive.published_issue(db, int(year), slug)
        version = await archive.web_version(db, settings, issue)
        body = render_page(
            request,
            "pages/archive/issue.html",
            issue=issue,
            web_html=Markup(version.html),  # noqa: S704 - rendered from sanitised blocks
            og_url=archive_url(settings, issue.issue_date, issue.slug),
            og_image=_first_image(version.html),
        )
        return Cached(body, HTML_TYPE, version.last_modified)

    return await serve_public(request, f"nummer:{year}:{slug}", build, cache=PUBLIC_CACHE)


def _first_image(html: str) -> str:
    found = re.search(r'<img[^>]*\ssrc="(https?://[^"]+)"', html)
    return found.group(1) if found else ""


def _from_body(result: CachedBody, media_type: str, **headers: str) -> Cached:
    return Cached(
        result.body, media_type, result.last_modified, headers=dict(headers), etag=result.etag
    )


async def _feed(request: Request[Any, Any, Any], kind: str) -> Response[bytes]:
    settings = settings_of(request)

    async def build(db: AsyncSession, _fingerprint: Fingerprint) -> Cached:
        result = await feeds.feed(db, settings, kind)
        return _from_body(result, RSS_TYPE if kind == "rss" else ATOM_TYPE)

    return await serve_public(request, f"feed:{kind}", build, cache=FEED_CACHE)


@public_get("/arkiv/rss.xml")
async def archive_rss(request: Request[Any, Any, Any]) -> Response[bytes]:
    return await _feed(request, "rss")


@public_get("/arkiv/atom.xml")
async def archive_atom(request: Request[Any, Any, Any]) -> Response[bytes]:
    return await _feed(request, "atom")


# --- calendar --------------------------------------------------------------------


@public_get("/kalender")
async def calendar_page(request: Request[Any, Any, Any]) -> Response[bytes]:
    day = cal.today()

    async def build(db: AsyncSession, fingerprint: Fingerprint) -> Cached:
        groups = await cal.upcoming(db)
        notes = await notes_for(db, [item.id for group in groups for item in group.items])
        body = render_page(
            request,
            "pages/calendar/index.html",
            groups=groups,
            notes=notes,
            fmt=fmt,
            today=day,
        )
        # "Anmäl dig" changes when a registration opens or closes: the page expires then.
        return Cached(
            body, HTML_TYPE, fingerprint.calendar_modified, expires_at=notes_expire(notes)
        )

    # Which items are upcoming depends on the date, so the date is part of the key.
    return await serve_public(request, f"kalender:{day}", build, cache=PUBLIC_CACHE)


@public_get("/kalender/tidigare")
async def calendar_past(
    request: Request[Any, Any, Any], sida: FromQuery[str | None] = None
) -> Response[bytes]:
    page = _positive_int(sida)
    day = cal.today()

    async def build(db: AsyncSession, fingerprint: Fingerprint) -> Cached:
        result = await cal.past(db, page=page)
        body = render_page(request, "pages/calendar/past.html", r=result, fmt=fmt)
        return Cached(body, HTML_TYPE, fingerprint.calendar_modified)

    return await serve_public(request, f"kalender-tidigare:{day}:{page}", build, cache=PUBLIC_CACHE)


@public_get("/kalender.ics")
async def calendar_ics(request: Request[Any, Any, Any]) -> Response[bytes]:
    settings = settings_of(request)

    async def build(db: AsyncSession, _fingerprint: Fingerprint) -> Cached:
        result = await cal.calendar_ics(db, settings)
        return _from_body(
            result,
            ICS_TYPE,
            **{"Content-Disposition": 'inline; filename="finsam-kalendern.ics"'},
        )

    return await serve_public(request, "kalender.ics", build, cache=FEED_CACHE)


@public_get("/kalender/rss.xml")
async def calendar_rss(request: Request[Any, Any, Any]) -> Response[bytes]:
    settings = settings_of(request)
    day = cal.today()

    async def build(db: AsyncSession, _fingerprint: Fingerprint) -> Cached:
        return _from_body(await cal.calendar_rss(db, settings), RSS_TYPE)

    return await serve_public(request, f"kalender-rss:{day}", build, cache=FEED_CACHE)


@public_get("/kalender/{name:str}")
async def calendar_item(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
    """One item: ``/kalender/12`` is its page (with its registration, if any),
    ``/kalender/12.ics`` its iCalendar file."""
    match = re.fullmatch(r"([0-9]{1,9})(\.ics)?", name)
    if match is None:
        raise NotFound("Aktiviteten finns inte i kalendern.")
    item_id = int(match.group(1))
    if match.group(2) is None:
        return await _item_page(request, item_id)
    settings = settings_of(request)

    async def build(db: AsyncSession, _fingerprint: Fingerprint) -> Cached:
        found = await cal.item(db, item_id)
        filename = cal.item_filename(found)
        return Cached(
            cal.item_ics(settings, found),
            ICS_TYPE,
            found.updated_at,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    return await serve_public(request, f"kalender-post:{item_id}", build, cache=FEED_CACHE)


async def _item_page(request: Request[Any, Any, Any], item_id: int) -> Response[bytes]:
    async def build(db: AsyncSession, fingerprint: Fingerprint) -> Cached:
        found = await cal.item(db, item_id)
        notes = await notes_for(db, [found.id])
        body = render_page(request, "pages/calendar/item.html", item=found, notes=notes, fmt=fmt)
        return Cached(
            body, HTML_TYPE, fingerprint.calendar_modified, expires_at=notes_expire(notes)
        )

    return await serve_public(request, f"kalender-sida:{item_id}", build, cache=PUBLIC_CACHE)


# --- editor: publish / withdraw --------------------------------------------------


def _issue_json(settings: Settings, issue: Any) -> dict[str, Any]:
    return {
        "id": issue.id,
        "slug": issue.slug,
        "published": archive.is_public(issue),
        "web_published_at": issue.web_published_at.isoformat() if issue.web_published_at else None,
        "archive_withdrawn": issue.archive_withdrawn,
        "url": archive_url(settings, issue.issue_date, issue.slug),
    }


async def _editor_archive_page(
    db: AsyncSession,
    *,
    done: str = "",
    error: str = "",
    error_issue: int | None = None,
    status: int = 200,
) -> Template:
    return Template(
        template_name="pages/archive/editor.html",
        context={
            "issues": await archive.editor_overview(db),
            "is_public": archive.is_public,
            "fmt": fmt,
            "archive_path": archive_path,
            "done": done,
            "error": error,
            "error_issue": error_issue,
        },
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


class ArchivePages(EditorPages):
    """The editor's archive page: publish an issue on the web, or withdraw it."""

    path = "/redaktion/arkiv"

    @get()
    async def editor_archive(self, db: Db, klart: FromQuery[str | None] = None) -> Template:
        return await _editor_archive_page(db, done=klart or "")

    @post("/{issue_id:int}/publicera")
    async def editor_publish(
        self, db: Db, actor: Actor, issue_id: FromPath[int]
    ) -> Redirect | Template:
        try:
            await archive.publish_web(db, issue_id, actor)
        except ValidationFailed as exc:  # e.g. nothing to read: said on the page itself
            await discard_attempt(db)
            return await _editor_archive_page(
                db, error=exc.message, error_issue=issue_id, status=422
            )
        return Redirect("/redaktion/arkiv?klart=publicerat", status_code=303)

    @post("/{issue_id:int}/dra-tillbaka")
    async def editor_withdraw(self, db: Db, actor: Actor, issue_id: FromPath[int]) -> Redirect:
        await archive.withdraw(db, issue_id, actor)
        return Redirect("/redaktion/arkiv?klart=tillbakadraget", status_code=303)


class ArchiveApi(EditorApi):
    """Publish an issue in the archive, or withdraw it."""

    path = "/api/v1/issues/{issue_id:int}"
    tags = ("Arkiv",)

    @post(
        "/publish-web",
        status_code=200,
        responses=api.errors(400, 404, 409, 422),
    )
    async def api_publish(
        self, request: Request[Any, Any, Any], db: Db, actor: Actor, issue_id: FromPath[int]
    ) -> dict[str, Any]:
        """Publish an issue in the public archive (web only) or re-publish a withdrawn one.
        An issue with nothing to read (no blocks, or only dividers and headings) is 422."""
        issue = await archive.publish_web(db, issue_id, actor)
        return _issue_json(settings_of(request), issue)

    @post(
        "/withdraw",
        status_code=200,
        responses=api.errors(400, 404),
    )
    async def api_withdraw(
        self, request: Request[Any, Any, Any], db: Db, actor: Actor, issue_id: FromPath[int]
    ) -> dict[str, Any]:
        """Withdraw an issue from the public archive and the feeds."""
        issue = await archive.withdraw(db, issue_id, actor)
        return _issue_json(settings_of(request), issue)


def contribute(settings: Settings) -> Contribution:
    return Contribution(
        state={"public_cache": PublicCache()},
        lifespan=[public_fast_path],
        routes=[
            archive_index,
            archive_rss,
            archive_atom,
            archive_issue,
            calendar_page,
            calendar_past,
            calendar_ics,
            calendar_rss,
            calendar_item,
            ArchivePages,
            ArchiveApi,
        ],
    )
