"""What every domain's web side shares: the contribution a domain makes to the app
(routes, lifespan hooks, CSRF exclusions), the request's database session, and the
conditional GET of every cacheable public route.

Each domain's ``handlers.py`` exposes ``contribute(settings) -> Contribution``; the app
factory collects them. Handlers get the database session through the ``db`` dependency
(:func:`provide_db`: committed when the handler returns, rolled back when it raises) and
the settings/transport through ``request.app.state``. Editor routes are controllers on
the bases in :mod:`service.editor.guards`.

Cacheable public reads are declared with :func:`public_get` and answered with
:func:`conditional` (``ETag``/``Last-Modified``, 304 when the client's copy is current).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from litestar import Controller as LitestarController
from litestar import HttpMethod, Litestar, Request, Response, route
from litestar.datastructures import ResponseHeader, State
from litestar.exceptions import ClientException
from litestar.handlers import HTTPRouteHandler
from litestar.handlers.base import BaseRouteHandler
from litestar.status_codes import HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db import discard_after_commit, run_after_commit
from service.mail.transport import Transport
from service.settings import Settings

# Pages reached through a personal link: never cached, the link never sent as a referrer.
PRIVATE = [
    ResponseHeader(name="Cache-Control", value="no-store"),
    ResponseHeader(name="Referrer-Policy", value="no-referrer"),
    ResponseHeader(name="X-Robots-Tag", value="noindex"),
]


@dataclass
class Contribution:
    routes: list[Any] = field(default_factory=list)
    # Async context managers entered for the app's lifetime (workers, scheduler, ...).
    lifespan: list[Callable[[Litestar], AbstractAsyncContextManager[None]]] = field(
        default_factory=list
    )
    # Regex patterns of paths excluded from CSRF (e.g. RFC 8058 one-click POST, the API).
    csrf_exclude: list[str] = field(default_factory=list)
    # Objects the domain keeps for the app's lifetime, set on ``app.state`` by name.
    state: dict[str, Any] = field(default_factory=dict)


def settings_of(request: Request[Any, Any, Any] | Litestar) -> Settings:
    state = request.state if isinstance(request, Litestar) else request.app.state
    settings: Settings = state.settings
    return settings


def transport_of(request: Request[Any, Any, Any] | Litestar) -> Transport:
    state = request.state if isinstance(request, Litestar) else request.app.state
    transport: Transport = state.transport
    return transport


def options_handlers(routes: list[Any]) -> list[HTTPRouteHandler]:
    """``OPTIONS`` handlers for the paths that several handler functions share.

    Litestar 2 answers ``OPTIONS`` on such a path with an ``Allow`` header that lists
    only the methods of the handler registered first (litestar-org/litestar#4169, fixed
    in 3.0), e.g. ``GET, OPTIONS`` for ``/api/v1/issues`` although ``POST`` is served
    too. An explicit handler per shared path, registered before the others, lists them
    all. Paths with one handler keep Litestar's own, which is right. (A controller's
    handlers are not among ``routes``: :class:`Controller` adds its own.)
    """
    methods: dict[str, set[str]] = {}
    handlers: dict[str, int] = {}
    for handler in routes:
        if isinstance(handler, HTTPRouteHandler):
            for path in handler.paths:
                methods.setdefault(path, set()).update(handler.http_methods)
                handlers[path] = handlers.get(path, 0) + 1
    return [
        _options_handler(path, ", ".join(sorted(found | {"OPTIONS"})))
        for path, found in methods.items()
        if handlers[path] > 1 and "OPTIONS" not in found
    ]


def _options_handler(path: str, allow: str) -> HTTPRouteHandler:
    def options() -> Response[None]:
        return Response(content=None, status_code=HTTP_204_NO_CONTENT, headers={"Allow": allow})

    return route(path, http_method="OPTIONS", include_in_schema=False, sync_to_thread=False)(
        options
    )


class Controller(LitestarController):
    """A Litestar controller whose ``OPTIONS`` answers list every method of a path.

    The bug :func:`options_handlers` works around for the app's handler functions is in
    a controller's own router too, so the controller puts the explicit handlers first
    among its own. A full path belongs to one controller only: two controllers (or a
    controller and a handler function) on the same path would each bring an ``OPTIONS``
    handler, which Litestar refuses at start-up.
    """

    def get_route_handlers(self) -> list[BaseRouteHandler]:
        handlers = super().get_route_handlers()
        extra = options_handlers(handlers)
        for handler in extra:
            handler.owner = self
        return [*extra, *handlers]


def session_factory_of(app: Litestar) -> async_sessionmaker[AsyncSession]:
    factory: async_sessionmaker[AsyncSession] = app.state.session_factory
    return factory


async def provide_db(state: State) -> AsyncGenerator[AsyncSession, None]:
    """A session per request: committed when the handler returns, rolled back on error.

    The one owner of the request's transaction: handlers neither commit nor roll back
    (see :func:`discard_attempt` for a handler that answers an error with a page). A
    service function commits earlier only where a rule demands it, and says why there
    (the login's throttle counters before Argon2, the login before the session store
    writes, an import's batches). The after-commit hooks run after this final commit.
    """
    factory: async_sessionmaker[AsyncSession] = state.session_factory
    async with factory() as session:
        try:
            yield session
        except BaseException:
            discard_after_commit(session)
            await session.rollback()
            raise
        else:
            await session.commit()
            await run_after_commit(session)


async def discard_attempt(session: AsyncSession) -> None:
    """Undo a failed attempt before the handler answers with a page of its own.

    A handler that catches a DomainError and returns a page (a 4xx form with the errors)
    returns normally, so :func:`provide_db` commits: what the attempt wrote, and the
    after-commit hooks it registered, would be committed with it. This rolls both back;
    what the page then reads, and anything written after, is committed as usual.
    """
    discard_after_commit(session)
    await session.rollback()


class AppRequest(Request[Any, Any, Any]):
    """The app's request class (``Litestar(request_class=...)``).

    A JSON body nested deeper than the interpreter's recursion limit makes msgspec raise
    ``RecursionError``, which Litestar does not treat as bad input: it became a 500. Here
    it is a 400 like any other undecodable body, for every route that reads JSON.
    """

    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError:
            raise ClientException("JSON body is nested too deeply") from None


def client_ip(request: Request[Any, Any, Any]) -> str:
    """The client address (the reverse proxy must set X-Forwarded-For via uvicorn's
    --proxy-headers / forwarded_allow_ips for this to be the real client)."""
    return request.client.host if request.client else "unknown"


# ------------------------------------------------------------------ conditional GET

# Public reads need no session and no CSRF cookie: no database write, no cookie per reader.
PUBLIC_OPT = {"skip_session": True, "exclude_from_csrf": True}


def public_get(path: str) -> route:
    """A public read: GET and HEAD (uvicorn sends HEAD's headers without the body)."""
    return route(
        path,
        http_method=[HttpMethod.GET, HttpMethod.HEAD],
        include_in_schema=False,
        opt=PUBLIC_OPT,
    )


def http_date(moment: datetime) -> str:
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


def cache_headers(etag: str, last_modified: datetime, cache: str) -> dict[str, str]:
    return {
        "ETag": etag,
        "Last-Modified": http_date(last_modified),
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
    cache: str,
    extra: dict[str, str] | None = None,
) -> Response[bytes]:
    """``body`` with its validators and ``Cache-Control: cache``; an empty 304 (same
    headers) when the client's copy is current."""
    headers = cache_headers(etag, last_modified, cache) | (extra or {})
    if not_modified(request, etag, last_modified):
        return Response(b"", status_code=304, headers=headers, media_type=media_type)
    return Response(body, headers=headers, media_type=media_type)
