"""Editor pages: login, logout and the start page of ``/redaktion``.

Issue, block, calendar and media pages live in their own domains' handlers and use the
guards of :mod:`service.editor.auth`.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from service.core import audit
from service.editor import auth
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


def contribute(settings: Settings) -> Contribution:
    return Contribution(routes=[login_form, login, logout])
