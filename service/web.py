"""What a domain contributes to the web app: routes, lifespan hooks, CSRF exclusions.

Each domain's ``handlers.py`` exposes ``contribute(settings) -> Contribution``; the app
factory collects them. Handlers get the database session through the ``db`` dependency
and the settings/transport through ``request.app.state``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar, Request, Response, route
from litestar.datastructures import State
from litestar.exceptions import ClientException
from litestar.handlers import HTTPRouteHandler
from litestar.status_codes import HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db import discard_after_commit, run_after_commit
from service.mail.transport import Transport
from service.settings import Settings


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
    all. Paths with one handler keep Litestar's own, which is right.
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


def session_factory_of(app: Litestar) -> async_sessionmaker[AsyncSession]:
    factory: async_sessionmaker[AsyncSession] = app.state.session_factory
    return factory


async def provide_db(state: State) -> AsyncGenerator[AsyncSession, None]:
    """A session per request: committed when the handler returns, rolled back on error."""
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
