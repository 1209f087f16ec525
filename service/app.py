"""The HTTP application factory: ``create_app(settings)`` builds one Litestar app."""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from http import HTTPStatus
from typing import Any

from litestar import Litestar, MediaType, Request, Response, get
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.template.config import TemplateConfig

from service import api
from service.core.session_store import DatabaseStore, LazySessionConfig
from service.db import create_engine, create_session_factory
from service.errors import DomainError, RateLimited
from service.health import healthz, readyz
from service.mail.transport import make_transport
from service.security.headers import security_headers_hook
from service.settings import TEMPLATES_DIR, Settings
from service.web import AppRequest, Contribution, options_handlers, provide_db

log = logging.getLogger("innanforskapet")

# Domain modules that contribute routes and lifespan hooks, in mounting order.
DOMAIN_MODULES = (
    "subscribers.handlers",
    "service.editor.handlers",
    "service.issues.handlers",
    "service.calendar.handlers",
    "service.events.handlers",
    "service.media.handlers",
    "service.delivery.handlers",
    "archive.handlers",
    "service.ops.handlers",
)

SESSION_MAX_AGE = 8 * 3600

HTTP_MESSAGES_SV = {
    400: "Förfrågan kunde inte tolkas.",
    401: "Du behöver logga in.",
    403: "Du har inte behörighet till den här sidan.",
    404: "Sidan finns inte. Kontrollera adressen eller gå till startsidan.",
    405: "Den metoden stöds inte på den här adressen.",
    413: "Det du skickade är för stort.",
    429: "För många försök. Vänta en stund och försök igen.",
    500: "Något gick fel hos oss. Försök igen om en stund.",
}
TOO_LARGE_SV = (
    "Det du skickade är för stort: högst {limit} får skickas i ett formulär här, "
    "så inget sparades och texten kunde inte tas med tillbaka. Gå tillbaka med "
    "webbläsarens bakåtknapp (då brukar texten finnas kvar i fältet), korta texten och "
    "försök igen."
)


def collect_contributions(settings: Settings) -> list[Contribution]:
    contributions = []
    for name in DOMAIN_MODULES:
        module = importlib.import_module(name)
        contributions.append(module.contribute(settings))
    return contributions


def wants_json(request: Request[Any, Any, Any]) -> bool:
    if request.url.path.startswith("/api/"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _error_response(
    request: Request[Any, Any, Any], status: int, message: str, fields: dict[str, str]
) -> Response[Any]:
    if wants_json(request):
        body: dict[str, Any] = {"error": message, "status": status}
        if fields:
            body["fields"] = fields
        return Response(body, status_code=status, media_type=MediaType.JSON)
    return Template(
        template_name="pages/error.html",
        context={"status": status, "message": message, "fields": fields},
        status_code=status,
        media_type=MediaType.HTML,
    )


def domain_error_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    response = _error_response(request, exc.status_code, exc.message, exc.fields)
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Framework errors (unparseable or mistyped input, unknown path, wrong method, too large).

    The message is Swedish like every other error; on JSON answers ``detail`` keeps the
    framework's technical account of what was wrong (e.g. which field had the wrong type).
    """
    status = exc.status_code
    message = HTTP_MESSAGES_SV.get(status, HTTP_MESSAGES_SV[400 if status < 500 else 500])
    if wants_json(request):
        body: dict[str, Any] = {"error": message, "status": status}
        if status < 500:
            if isinstance(exc.extra, (dict, list)) and exc.extra:
                body["detail"] = exc.extra
            elif exc.detail and exc.detail != _phrase(status):
                body["detail"] = {"message": exc.detail}
        return Response(body, status_code=status, media_type=MediaType.JSON, headers=exc.headers)
    if status == 413:
        message, back = _too_large(request)
        return Template(
            template_name="pages/error.html",
            context={"status": status, "message": message, "fields": {}, "back_url": back},
            status_code=status,
            media_type=MediaType.HTML,
        )
    return _error_response(request, status, message, {})


def _size_sv(n: int) -> str:
    """A byte count as an editor reads it: ``8 MB``, ``64 kB``."""
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.0f} MB"
    return f"{max(1, n // 1024)} kB"


def _too_large(request: Request[Any, Any, Any]) -> tuple[str, str]:
    """413 on a page: the limit, what was lost, and a way back (a same-site referrer)."""
    handler = request.scope.get("route_handler")
    limit = (
        handler.resolve_request_max_body_size() if isinstance(handler, HTTPRouteHandler) else None
    )
    message = HTTP_MESSAGES_SV[413]
    if limit:
        message = TOO_LARGE_SV.format(limit=_size_sv(limit))
    referrer = request.headers.get("referer", "")
    origin = f"{request.url.scheme}://{request.url.netloc}/"
    return message, referrer if referrer.startswith(origin) else ""


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _error_response(request, HTTP_500_INTERNAL_SERVER_ERROR, HTTP_MESSAGES_SV[500], {})


@get("/", include_in_schema=False)
async def home() -> Template:
    return Template(template_name="pages/home.html")


def create_app(settings: Settings) -> Litestar:
    """Build the app. Everything it needs comes from ``settings``; nothing is global."""
    engine = create_engine(settings.database_url)
    session_factory = create_session_factory(engine)
    transport = make_transport(settings)
    contributions = collect_contributions(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            # Unwound last in, first out: the domains' hooks (the in-process worker uses
            # the engine) stop before the transport is closed and the engine disposed.
            stack.push_async_callback(engine.dispose)
            stack.push_async_callback(transport.close)
            for contribution in contributions:
                for hook in contribution.lifespan:
                    await stack.enter_async_context(hook(app))
            yield

    def template_engine_callback(engine_: JinjaTemplateEngine) -> None:
        engine_.engine.globals.update(
            org_name=settings.org_name,
            org_address=settings.org_address,
            privacy_url=settings.privacy_url or "/integritet",
            base_url=settings.base_url,
        )

    csrf_exclude = [r"^/api/", r"^/healthz$", r"^/readyz$", r"^/static/", r"^/media/"]
    routes: list[Any] = [healthz, readyz, home]
    for contribution in contributions:
        routes.extend(contribution.routes)
        csrf_exclude.extend(contribution.csrf_exclude)
    routes[:0] = options_handlers(routes)

    media_dir = settings.media_dir
    media_dir.mkdir(parents=True, exist_ok=True)
    routes.append(
        create_static_files_router(
            path="/media",
            directories=[media_dir],
            include_in_schema=False,
            send_as_attachment=False,
        )
    )
    routes.append(
        create_static_files_router(
            path="/static",
            directories=[TEMPLATES_DIR / "static"],
            include_in_schema=False,
            cache_control=CacheControlHeader(max_age=3600, public=True),
        )
    )

    app = Litestar(
        route_handlers=routes,
        request_class=AppRequest,
        dependencies={"db": Provide(provide_db)},
        lifespan=[lifespan],
        template_config=TemplateConfig(
            directory=TEMPLATES_DIR,
            engine=JinjaTemplateEngine,
            engine_callback=template_engine_callback,
        ),
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_name="innan_csrf",
            cookie_secure=settings.secure_cookies,
            cookie_httponly=True,
            cookie_samesite="lax",
            exclude=csrf_exclude,
        ),
        middleware=[
            LazySessionConfig(
                key="innan_session",
                store="sessions",
                max_age=SESSION_MAX_AGE,
                secure=settings.secure_cookies,
                httponly=True,
                samesite="lax",
            ).middleware
        ],
        stores={"sessions": DatabaseStore(session_factory)},
        before_send=[security_headers_hook(settings)],
        exception_handlers={
            DomainError: domain_error_handler,
            HTTPException: http_error_handler,
            NotFoundException: http_error_handler,
            Exception: internal_error_handler,
        },
        openapi_config=OpenAPIConfig(
            title="Innanförskapet API",
            version="1",
            path="/api/schema",
            components=api.COMPONENTS,
            render_plugins=[api.SelfHostedRedoc()],
        ),
        request_max_body_size=settings.max_body_bytes,
        debug=False,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = session_factory
    app.state.transport = transport
    for contribution in contributions:
        for name, value in contribution.state.items():
            setattr(app.state, name, value)
    return app
