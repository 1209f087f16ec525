"""Who may use the editor side of the web app, and the controllers that say so once.

Every editor route is a method of a controller on one of the bases here; the base
declares the guard, what an anonymous visitor gets, the dependencies and the OpenAPI
details, so a domain controller declares only its path (and, for the API, its tag)::

    from service.editor.guards import EditorApi, EditorPages

    class CalendarPages(EditorPages):
        path = "/redaktion/kalender"

        @post("/ny", status_code=303)
        async def page_create(self, request: Request, db: Db, actor: Actor) -> Redirect:
            ...

    class CalendarApi(EditorApi):
        path = "/api/v1/calendar"
        tags = ("Kalendarium",)

* :class:`EditorPages`: browser pages under ``/redaktion`` (server-side session,
  CSRF-protected forms). ``editor_guard`` raises ``LoginRequired`` when nobody is
  logged in, and :data:`LOGIN_REDIRECT` turns that into a 303 to
  ``/redaktion/logga-in?next=<path>``. Not in the OpenAPI document.
* :class:`AdminPages`: the same, for administrators only (403 for other editors).
* :class:`EditorApi`: the JSON API under ``/api/v1`` (``Authorization: Bearer
  <token>``; tokens are stored as SHA-256 only); 401 as JSON without a valid key.

Handlers on these bases can take ``editor: CurrentEditor`` (the :class:`Editor` the
guard authenticated, detached, attributes loaded) and ``actor: Actor`` (its audit-log
actor, ``editor:<id>``, see :func:`actor_of`) as parameters. ``OPTIONS`` is answered
without a login (it tells only which methods a path has, as the OpenAPI document does).
Routes outside a controller use the guards directly, e.g. ``guards=[editor_guard]``
with ``exception_handlers=LOGIN_REDIRECT``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect
from litestar.types import Dependencies, ExceptionHandlersMap, Guard
from sqlalchemy import select

from service import api
from service.db import utcnow
from service.editor.models import ApiToken, Editor
from service.errors import DomainError, Forbidden
from service.security.signing import hash_token
from service.web import Controller, session_factory_of

SESSION_KEY = "editor_id"  # the logged-in editor's id in the server-side session
LOGIN_PATH = "/redaktion/logga-in"


class LoginRequired(DomainError):
    status_code = 401

    def __init__(self, message: str = "Du måste logga in som redaktör.") -> None:
        super().__init__(message)


def actor_of(editor: Editor) -> str:
    """The audit-log actor of what ``editor`` does: ``editor:<id>``."""
    return f"editor:{editor.id}"


def _asks_options(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    return connection.scope.get("method") == "OPTIONS"


async def _editor_by_id(
    connection: ASGIConnection[Any, Any, Any, Any], editor_id: int
) -> Editor | None:
    async with session_factory_of(connection.app)() as session:
        editor = await session.get(Editor, editor_id)
        if editor is None or not editor.is_active:
            return None
        return editor


async def editor_guard(
    connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler | None = None
) -> None:
    """Guard for browser pages: a logged-in, active editor, else ``LoginRequired``."""
    if _asks_options(connection) or getattr(connection.state, "editor", None) is not None:
        return
    data = connection.scope.get("session")
    editor_id = data.get(SESSION_KEY) if isinstance(data, dict) else None
    editor = await _editor_by_id(connection, int(editor_id)) if editor_id else None
    if editor is None:
        raise LoginRequired()
    connection.state.editor = editor


async def api_guard(
    connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler | None = None
) -> None:
    """Guard for ``/api/v1``: ``Authorization: Bearer <token>`` of an active editor."""
    if _asks_options(connection) or getattr(connection.state, "editor", None) is not None:
        return
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise LoginRequired("API-nyckel saknas (Authorization: Bearer <nyckel>).")
    digest = hash_token(token.strip())
    async with session_factory_of(connection.app)() as session:
        row = (
            await session.execute(
                select(ApiToken, Editor)
                .join(Editor, Editor.id == ApiToken.editor_id)
                .where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
            )
        ).first()
        if row is None or not row[1].is_active:
            raise LoginRequired("Ogiltig eller återkallad API-nyckel.")
        api_token, editor = row
        api_token.last_used_at = utcnow()
        # The guard's own session, not the request's: the token's last use is recorded
        # whatever becomes of the request.
        await session.commit()
    connection.state.editor = editor


async def admin_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler | None = None
) -> None:
    """Only admins; authenticates first (by bearer token under /api/, else session)."""
    if _asks_options(connection):
        return
    if getattr(connection.state, "editor", None) is None:
        if connection.url.path.startswith("/api/"):
            await api_guard(connection, handler)
        else:
            await editor_guard(connection, handler)
    if connection.state.editor.role != "admin":
        raise Forbidden("Det här kräver behörigheten administratör.")


def current_editor(request: Request[Any, Any, Any] | ASGIConnection[Any, Any, Any, Any]) -> Editor:
    """The editor the guard authenticated for this request."""
    editor = getattr(request.state, "editor", None)
    if editor is None:
        raise LoginRequired()
    assert isinstance(editor, Editor)
    return editor


def login_redirect(request: Request[Any, Any, Any], exc: LoginRequired) -> Response[Any]:
    """Exception handler: browser pages go to the login form (with ``next``)."""
    if request.url.path.startswith("/api/"):
        return Response(
            {"error": exc.message, "status": 401},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"{LOGIN_PATH}?next={quote(target, safe='')}", status_code=303)


LOGIN_REDIRECT: ExceptionHandlersMap = {LoginRequired: login_redirect}


# ------------------------------------------------------------------ controller bases


def _provide_editor(request: Request[Any, Any, Any]) -> Editor:
    return current_editor(request)


def _provide_actor(request: Request[Any, Any, Any]) -> str:
    return actor_of(current_editor(request))


CurrentEditor = NamedDependency[Editor]
"""A handler parameter ``editor: CurrentEditor``: the editor the guard authenticated."""
Actor = NamedDependency[str]
"""A handler parameter ``actor: Actor``: that editor's audit-log actor (:func:`actor_of`)."""

EDITOR_DEPENDENCIES: Dependencies = {
    "editor": Provide(_provide_editor, sync_to_thread=False),
    "actor": Provide(_provide_actor, sync_to_thread=False),
}


class EditorPages(Controller):
    """Browser pages for logged-in editors; an anonymous visitor goes to the login form."""

    guards: Sequence[Guard] | None = (editor_guard,)
    exception_handlers: ExceptionHandlersMap | None = LOGIN_REDIRECT
    dependencies: Dependencies | None = EDITOR_DEPENDENCIES
    include_in_schema = False


class AdminPages(EditorPages):
    """Browser pages for administrators; other editors get 403."""

    guards: Sequence[Guard] | None = (editor_guard, admin_guard)


class EditorApi(Controller):
    """The JSON API: a bearer token of an active editor, else 401 (JSON)."""

    guards: Sequence[Guard] | None = (api_guard,)
    security = api.SECURITY
    dependencies: Dependencies | None = EDITOR_DEPENDENCIES
