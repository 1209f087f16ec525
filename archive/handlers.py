"""HTTP handlers: public archive, feeds and calendar; the editor's publish/withdraw page and API.

Public pages and feeds answer conditional GETs (``ETag``/``Last-Modified`` → 304) and
carry ``Cache-Control: public``. Bad paths or parameters give the Swedish 404 page.
Editor routes use the editor domain's ``editor_guard`` (session + CSRF forms) and
``api_guard`` (bearer token).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
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
from service.calendar import format as fmt
from service.editor.auth import api_guard, current_editor, editor_guard
from service.errors import NotFound
from service.issues.urls import archive_path, archive_url
from service.settings import Settings
from service.web import Contribution, settings_of

Db = NamedDependency[AsyncSession]
# Public GETs need no session and no CSRF cookie: no database write, no cookie per reader.
PUBLIC = {"skip_session": True, "exclude_from_csrf": True}
PUBLIC_CACHE = "public, max-age=300"
FEED_CACHE = "public, max-age=300"
RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
ICS_TYPE = "text/calendar; charset=utf-8"


# --- conditional GET -------------------------------------------------------------


def _http_date(moment: datetime) -> str:
    return format_datetime(moment.replace(microsecond=0), usegmt=True)


def not_modified(request: Request[Any, Any, Any], etag: str, last_modified: datetime) -> bool:
    """True when the client's copy is current (If-None-Match wins over If-Modified-Since)."""
    inm = request.headers.get("if-none-match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or etag in tags
    ims = request.headers.get("if-modified-since")
    if ims:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            return False
        return last_modified.replace(microsecond=0) <= since
    return False


def _headers(etag: str, last_modified: datetime, cache: str) -> dict[str, str]:
    return {
        "ETag": etag,
        "Last-Modified": _http_date(last_modified),
        "Cache-Control": cache,
        "Vary": "Accept-Encoding",
    }


def conditional(
    request: Request[Any, Any, Any],
    body: bytes,
    *,
    etag: str,
    last_modified: datetime,
    media_type: str,
    cache: str = FEED_CACHE,
    extra: dict[str, str] | None = None,
) -> Response[bytes]:
    headers = _headers(etag, last_modified, cache) | (extra or {})
    if not_modified(request, etag, last_modified):
        return Response(b"", status_code=304, headers=headers, media_type=media_type)
    return Response(body, headers=headers, media_type=media_type)


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


# --- archive ---------------------------------------------------------------------


@get("/arkiv", include_in_schema=False, opt=PUBLIC)
async def archive_index(
    request: Request[Any, Any, Any],
    db: Db,
    sida: FromQuery[str | None] = None,
    q: FromQuery[str | None] = None,
    ar: FromQuery[str | None] = None,
) -> Response[Any]:
    page = _positive_int(sida)
    year = _year(ar)
    query = (q or "")[: archive.MAX_QUERY * 2]
    fingerprint = await archive.archive_fingerprint(db)
    etag = (
        '"' + hashlib.sha256(f"{fingerprint}|{page}|{query}|{year}".encode()).hexdigest()[:32] + '"'
    )
    headers = {"ETag": etag, "Cache-Control": "public, max-age=60"}
    if request.headers.get("if-none-match") and not_modified(request, etag, datetime.min):
        return Response(b"", status_code=304, headers=headers)
    # Browsing (no search) is served from a cached page while the archive is unchanged.
    key = f"archive:index:{page}:{year or ''}" if not query.strip() else ""
    cached = await archive.cache_get(db, key) if key else None
    if cached is not None and cached.note == fingerprint:
        body = cached.value
    else:
        result = await archive.list_archive(db, page=page, query=query, year=year)
        engine = request.app.template_engine
        if engine is None:  # pragma: no cover - the app always configures templates
            raise RuntimeError("no template engine")
        template = engine.get_template("pages/archive/index.html")
        context = {"r": result, "fmt": fmt, "archive_path": archive_path}
        body = template.render(**context).encode()
        if key:
            await archive.cache_put(db, key, body, fingerprint)
    return Response(body, headers=headers, media_type="text/html; charset=utf-8")


@get("/arkiv/{year:str}/{slug:str}", include_in_schema=False, opt=PUBLIC)
async def archive_issue(
    request: Request[Any, Any, Any], db: Db, year: FromPath[str], slug: FromPath[str]
) -> Response[Any]:
    settings = settings_of(request)
    if not re.fullmatch(r"[0-9]{4}", year):
        raise NotFound("Nyhetsbrevet finns inte i arkivet.")
    issue = await archive.published_issue(db, int(year), slug)
    version = await archive.web_version(db, settings, issue)
    headers = _headers(version.etag, version.last_modified, PUBLIC_CACHE)
    if not_modified(request, version.etag, version.last_modified):
        return Response(b"", status_code=304, headers=headers)
    return Template(
        template_name="pages/archive/issue.html",
        context={
            "issue": issue,
            "web_html": Markup(version.html),  # noqa: S704 - rendered from sanitised blocks
            "og_url": archive_url(settings, issue.issue_date, issue.slug),
            "og_image": _first_image(version.html),
        },
        headers=headers,
    )


def _first_image(html: str) -> str:
    found = re.search(r'<img[^>]*\ssrc="(https?://[^"]+)"', html)
    return found.group(1) if found else ""


async def _feed(request: Request[Any, Any, Any], db: AsyncSession, kind: str) -> Response[bytes]:
    result = await feeds.feed(db, settings_of(request), kind)
    return conditional(
        request,
        result.body,
        etag=result.etag,
        last_modified=result.last_modified,
        media_type=RSS_TYPE if kind == "rss" else ATOM_TYPE,
    )


@get("/arkiv/rss.xml", include_in_schema=False, opt=PUBLIC)
async def archive_rss(request: Request[Any, Any, Any], db: Db) -> Response[bytes]:
    return await _feed(request, db, "rss")


@get("/arkiv/atom.xml", include_in_schema=False, opt=PUBLIC)
async def archive_atom(request: Request[Any, Any, Any], db: Db) -> Response[bytes]:
    return await _feed(request, db, "atom")


# --- calendar --------------------------------------------------------------------


@get("/kalender", include_in_schema=False, opt=PUBLIC)
async def calendar_page(db: Db) -> Template:
    return Template(
        template_name="pages/calendar/index.html",
        context={"groups": await cal.upcoming(db), "fmt": fmt, "today": cal.today()},
        headers={"Cache-Control": "public, max-age=300"},
    )


@get("/kalender/tidigare", include_in_schema=False, opt=PUBLIC)
async def calendar_past(db: Db, sida: FromQuery[str | None] = None) -> Template:
    result = await cal.past(db, page=_positive_int(sida))
    return Template(
        template_name="pages/calendar/past.html",
        context={"r": result, "fmt": fmt},
        headers={"Cache-Control": "public, max-age=300"},
    )


@get("/kalender.ics", include_in_schema=False, opt=PUBLIC)
async def calendar_ics(request: Request[Any, Any, Any], db: Db) -> Response[bytes]:
    result = await cal.calendar_ics(db, settings_of(request))
    return conditional(
        request,
        result.body,
        etag=result.etag,
        last_modified=result.last_modified,
        media_type=ICS_TYPE,
        extra={"Content-Disposition": 'inline; filename="finsam-kalendern.ics"'},
    )


@get("/kalender/rss.xml", include_in_schema=False, opt=PUBLIC)
async def calendar_rss(request: Request[Any, Any, Any], db: Db) -> Response[bytes]:
    result = await cal.calendar_rss(db, settings_of(request))
    return conditional(
        request,
        result.body,
        etag=result.etag,
        last_modified=result.last_modified,
        media_type=RSS_TYPE,
    )


@get("/kalender/{name:str}", include_in_schema=False, opt=PUBLIC)
async def calendar_item_ics(
    request: Request[Any, Any, Any], db: Db, name: FromPath[str]
) -> Response[bytes]:
    match = re.fullmatch(r"([0-9]{1,9})\.ics", name)
    if match is None:
        raise NotFound("Aktiviteten finns inte i kalendern.")
    found = await cal.item(db, int(match.group(1)))
    body = cal.item_ics(settings_of(request), found)
    etag = (
        '"'
        + hashlib.sha256(f"{found.id}:{found.sequence}:{found.updated_at}".encode()).hexdigest()[
            :32
        ]
        + '"'
    )
    return conditional(
        request,
        body,
        etag=etag,
        last_modified=found.updated_at,
        media_type=ICS_TYPE,
        extra={"Content-Disposition": f'attachment; filename="{cal.item_filename(found)}"'},
    )


# --- editor: publish / withdraw --------------------------------------------------


async def _actor(request: Request[Any, Any, Any]) -> str:
    return f"editor:{current_editor(request).id}"


@get("/redaktion/arkiv", guards=[editor_guard], include_in_schema=False)
async def editor_archive(db: Db, klart: FromQuery[str | None] = None) -> Template:
    return Template(
        template_name="pages/archive/editor.html",
        context={
            "issues": await archive.editor_overview(db),
            "is_public": archive.is_public,
            "fmt": fmt,
            "archive_path": archive_path,
            "done": klart or "",
        },
        headers={"Cache-Control": "no-store"},
    )


@post("/redaktion/arkiv/{issue_id:int}/publicera", guards=[editor_guard], include_in_schema=False)
async def editor_publish(
    request: Request[Any, Any, Any], db: Db, issue_id: FromPath[int]
) -> Redirect:
    await archive.publish_web(db, issue_id, await _actor(request))
    return Redirect("/redaktion/arkiv?klart=publicerat", status_code=303)


@post(
    "/redaktion/arkiv/{issue_id:int}/dra-tillbaka", guards=[editor_guard], include_in_schema=False
)
async def editor_withdraw(
    request: Request[Any, Any, Any], db: Db, issue_id: FromPath[int]
) -> Redirect:
    await archive.withdraw(db, issue_id, await _actor(request))
    return Redirect("/redaktion/arkiv?klart=tillbakadraget", status_code=303)


def _issue_json(settings: Settings, issue: Any) -> dict[str, Any]:
    return {
        "id": issue.id,
        "slug": issue.slug,
        "published": archive.is_public(issue),
        "web_published_at": issue.web_published_at.isoformat() if issue.web_published_at else None,
        "archive_withdrawn": issue.archive_withdrawn,
        "url": archive_url(settings, issue.issue_date, issue.slug),
    }


@post("/api/v1/issues/{issue_id:int}/publish-web", guards=[api_guard], status_code=200)
async def api_publish(
    request: Request[Any, Any, Any], db: Db, issue_id: FromPath[int]
) -> dict[str, Any]:
    """Publish an issue in the public archive (web only) or re-publish a withdrawn one."""
    issue = await archive.publish_web(db, issue_id, await _actor(request))
    return _issue_json(settings_of(request), issue)


@post("/api/v1/issues/{issue_id:int}/withdraw", guards=[api_guard], status_code=200)
async def api_withdraw(
    request: Request[Any, Any, Any], db: Db, issue_id: FromPath[int]
) -> dict[str, Any]:
    """Withdraw an issue from the public archive and the feeds."""
    issue = await archive.withdraw(db, issue_id, await _actor(request))
    return _issue_json(settings_of(request), issue)


def contribute(settings: Settings) -> Contribution:
    return Contribution(
        routes=[
            archive_index,
            archive_rss,
            archive_atom,
            archive_issue,
            calendar_page,
            calendar_past,
            calendar_ics,
            calendar_rss,
            calendar_item_ics,
            editor_archive,
            editor_publish,
            editor_withdraw,
            api_publish,
            api_withdraw,
        ]
    )
