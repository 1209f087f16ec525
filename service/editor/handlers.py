"""Editor pages: login, logout and the start page of ``/redaktion``.

Issue, block, calendar and media pages live in their own domains' handlers and use the
guards of :mod:`service.editor.auth`.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from service.core import audit
from service.editor import auth
from service.editor import service as editors
from service.errors import RateLimited, ValidationFailed
from service.settings import Settings
from service.web import Contribution, client_ip, settings_of

Db = NamedDependency[AsyncSession]


@get("/redaktion/logga-in", include_in_schema=False)
async def login_form(next: FromQuery[str] = "") -> Template:
    return Template(
        template_name="pages/editor/login.html",
        context={"next": auth.safe_next(next), "error": "", "email": ""},
    )


@post("/redaktion/logga-in", include_in_schema=False, status_code=303)
async def login(request: Request[Any, Any, Any], db: Db) -> Redirect | Template:
    form = await request.form()
    data = {key: str(form.get(key) or "") for key in ("next", "email", "password")}
    target = auth.safe_next(data.get("next"))
    email = (data.get("email") or "").strip()[:320]
    try:
        editor = await auth.authenticate(
            db, settings_of(request), email, data.get("password") or "", client_ip(request)
        )
    except (ValidationFailed, RateLimited) as exc:
        # Returning (not raising) commits the rate-limit counters and the audit entry.
        return Template(
            template_name="pages/editor/login.html",
            context={"next": target, "error": exc.message, "email": email},
            status_code=exc.status_code,
        )
    await db.commit()  # release SQLite's write lock before the session store writes
    await auth.start_session(request, editor)
    return Redirect(target, status_code=303)


@post("/redaktion/logga-ut", include_in_schema=False, status_code=303)
async def logout(request: Request[Any, Any, Any], db: Db) -> Redirect:
    data = request.scope.get("session")
    if isinstance(data, dict) and data.get(auth.SESSION_KEY):
        audit.record(
            db, f"editor:{data[auth.SESSION_KEY]}", "logout", "editor", data[auth.SESSION_KEY]
        )
    auth.end_session(request)
    return Redirect(auth.LOGIN_PATH + "?utloggad=1", status_code=303)


UI: dict[str, Any] = {
    "guards": [auth.editor_guard],
    "exception_handlers": auth.LOGIN_REDIRECT,
    "include_in_schema": False,
}


async def _tokens_page(
    db: AsyncSession, editor_id: int, *, plain: str = "", message: str = "", status: int = 200
) -> Template:
    return Template(
        template_name="pages/editor/tokens.html",
        context={"tokens": await editors.list_tokens(db, editor_id), "plain": plain,
                 "message": message, "errors": {}},
        status_code=status,
    )  # fmt: skip


@get("/redaktion/nycklar", **UI)
async def tokens_page(request: Request[Any, Any, Any], db: Db) -> Template:
    return await _tokens_page(db, auth.current_editor(request).id)


@post("/redaktion/nycklar", **UI, status_code=200)
async def token_create(request: Request[Any, Any, Any], db: Db) -> Template:
    editor = auth.current_editor(request)
    form = await request.form()
    try:
        _, plain = await editors.create_token(
            db, editor, str(form.get("name") or ""), actor=auth.actor_of(editor)
        )
    except ValidationFailed as exc:
        return await _tokens_page(db, editor.id, message=exc.message, status=422)
    return await _tokens_page(db, editor.id, plain=plain)


@post("/redaktion/nycklar/{token_id:int}/aterkalla", **UI, status_code=303)
async def token_revoke(
    request: Request[Any, Any, Any], db: Db, token_id: FromPath[int]
) -> Redirect:
    editor = auth.current_editor(request)
    await editors.revoke_token(db, editor.id, token_id, actor=auth.actor_of(editor))
    return Redirect("/redaktion/nycklar", status_code=303)


def contribute(settings: Settings) -> Contribution:
    return Contribution(routes=[login_form, login, logout, tokens_page, token_create, token_revoke])
