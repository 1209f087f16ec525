"""Editor pages: login, logout, API tokens, editor accounts (admins) and set-password links.

Issue, block, calendar and media pages live in their own domains' handlers and use the
guards of :mod:`service.editor.auth`.

``/redaktion/redaktorer`` (admins only) lists editors, invites new ones, disables/enables
them, changes roles and issues set-password links. A link is shown once on the page and
mailed to the editor; ``/redaktion/losenord/<token>`` is where they choose the password.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from service.calendar.format import local
from service.core import audit
from service.editor import auth, mails
from service.editor import service as editors
from service.editor.models import ROLES
from service.errors import DomainError, RateLimited, ValidationFailed
from service.settings import Settings
from service.web import Contribution, client_ip, settings_of

Db = NamedDependency[AsyncSession]


@get("/redaktion/logga-in", include_in_schema=False)
async def login_form(next: FromQuery[str] = "", losenord: FromQuery[str] = "") -> Template:
    return Template(
        template_name="pages/editor/login.html",
        context={
            "next": auth.safe_next(next),
            "error": "",
            "email": "",
            "password_set": losenord == "1",
        },
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


# ---------------------------------------------------------------- editor accounts (admins)

ADMIN: dict[str, Any] = {
    "guards": [auth.editor_guard, auth.admin_guard],
    "exception_handlers": auth.LOGIN_REDIRECT,
    "include_in_schema": False,
}
EDITORS_PATH = "/redaktion/redaktorer"
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
DONE = ("roll", "avstangd", "aktiverad")


async def _editors_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    *,
    form: dict[str, str] | None = None,
    error: DomainError | None = None,
    link: editors.IssuedLink | None = None,
    new_account: bool = False,
    mailed: bool | None = None,
    done: str = "",
) -> Template:
    return Template(
        template_name="pages/editor/editors.html",
        context={
            "me": auth.current_editor(request),
            "editors": await editors.list_editors(db),
            "roles": ROLES,
            "form": form or {"role": "editor", "send_mail": "1"},
            "message": error.message if error else "",
            "errors": error.fields if error else {},
            "link": link,
            "link_url": settings_of(request).url(link.path) if link else "",
            "new_account": new_account,
            "mailed": mailed,
            "done": done if done in DONE else "",
            "local": local,
        },
        status_code=error.status_code if error else 200,
        headers=NO_STORE,
    )


def _mail_link(
    request: Request[Any, Any, Any], db: AsyncSession, link: editors.IssuedLink, new: bool
) -> bool:
    """Queue the mail: it is sent after commit, so the link exists before it arrives."""
    mails.queue_password_link(db, settings_of(request), link, new_account=new)
    return True


@get(EDITORS_PATH, **ADMIN)
async def editors_page(
    request: Request[Any, Any, Any], db: Db, klart: FromQuery[str] = ""
) -> Template:
    return await _editors_page(request, db, done=klart)


@post(EDITORS_PATH, **ADMIN, status_code=200)
async def editor_create(request: Request[Any, Any, Any], db: Db) -> Template:
    me = auth.current_editor(request)
    data = await request.form()
    form = {key: str(data.get(key) or "")[:400] for key in ("email", "name", "role", "send_mail")}
    try:
        link = await editors.invite_editor(
            db, form["email"], name=form["name"], role=form["role"], actor=auth.actor_of(me)
        )
    except DomainError as exc:
        return await _editors_page(request, db, form=form, error=exc)
    mailed = _mail_link(request, db, link, True) if form["send_mail"] else None
    return await _editors_page(request, db, link=link, new_account=True, mailed=mailed)


@post(EDITORS_PATH + "/{editor_id:int}/lank", **ADMIN, status_code=200)
async def editor_link(
    request: Request[Any, Any, Any], db: Db, editor_id: FromPath[int]
) -> Template:
    me = auth.current_editor(request)
    try:
        link = await editors.issue_password_link(db, editor_id, actor=auth.actor_of(me))
    except DomainError as exc:
        return await _editors_page(request, db, error=exc)
    mailed = _mail_link(request, db, link, False)
    return await _editors_page(request, db, link=link, mailed=mailed)


@post(EDITORS_PATH + "/{editor_id:int}/roll", **ADMIN, status_code=303)
async def editor_role(
    request: Request[Any, Any, Any], db: Db, editor_id: FromPath[int]
) -> Redirect | Template:
    me = auth.current_editor(request)
    role = str((await request.form()).get("role") or "")
    try:
        await editors.set_role(db, editor_id, role, actor_id=me.id, actor=auth.actor_of(me))
    except DomainError as exc:
        await db.rollback()
        return await _editors_page(request, db, error=exc)
    return Redirect(f"{EDITORS_PATH}?klart=roll", status_code=303)


async def _set_active(
    request: Request[Any, Any, Any], db: AsyncSession, editor_id: int, active: bool
) -> Redirect | Template:
    me = auth.current_editor(request)
    try:
        await editors.set_active(db, editor_id, active, actor_id=me.id, actor=auth.actor_of(me))
    except DomainError as exc:
        await db.rollback()
        return await _editors_page(request, db, error=exc)
    done = "aktiverad" if active else "avstangd"
    return Redirect(f"{EDITORS_PATH}?klart={done}", status_code=303)


@post(EDITORS_PATH + "/{editor_id:int}/stang-av", **ADMIN, status_code=303)
async def editor_disable(
    request: Request[Any, Any, Any], db: Db, editor_id: FromPath[int]
) -> Redirect | Template:
    return await _set_active(request, db, editor_id, False)


@post(EDITORS_PATH + "/{editor_id:int}/aktivera", **ADMIN, status_code=303)
async def editor_enable(
    request: Request[Any, Any, Any], db: Db, editor_id: FromPath[int]
) -> Redirect | Template:
    return await _set_active(request, db, editor_id, True)


# ---------------------------------------------------------------- set-password link (public)


def _password_page(
    token: str,
    *,
    email: str = "",
    error: DomainError | None = None,
    usable: bool = True,
) -> Template:
    return Template(
        template_name="pages/editor/set_password.html",
        context={
            "token": token,
            "email": email,
            "usable": usable,
            "message": error.message if error else "",
            "errors": error.fields if error else {},
            "min_length": editors.MIN_PASSWORD,
        },
        status_code=error.status_code if error else 200,
        headers=NO_STORE,
    )


@get(editors.LINK_PREFIX + "{token:str}", include_in_schema=False)
async def password_form(db: Db, token: FromPath[str]) -> Template:
    """Only shows the form: a GET never uses up the link (mail scanners follow links)."""
    try:
        _, editor = await editors.open_password_link(db, token)
    except DomainError as exc:
        return _password_page(token, error=exc, usable=False)
    return _password_page(token, email=editor.email)


@post(editors.LINK_PREFIX + "{token:str}", include_in_schema=False, status_code=303)
async def password_set(
    request: Request[Any, Any, Any], db: Db, token: FromPath[str]
) -> Redirect | Template:
    data = await request.form()
    password = str(data.get("password") or "")
    repeat = str(data.get("password_repeat") or "")
    try:
        await editors.set_password_with_link(db, token, password, repeat)
    except ValidationFailed as exc:
        await db.rollback()
        _, editor = await editors.open_password_link(db, token)
        return _password_page(token, email=editor.email, error=exc)
    except DomainError as exc:
        await db.rollback()
        return _password_page(token, error=exc, usable=False)
    return Redirect(auth.LOGIN_PATH + "?losenord=1", status_code=303)


def contribute(settings: Settings) -> Contribution:
    return Contribution(
        routes=[
            login_form,
            login,
            logout,
            tokens_page,
            token_create,
            token_revoke,
            editors_page,
            editor_create,
            editor_link,
            editor_role,
            editor_disable,
            editor_enable,
            password_form,
            password_set,
        ]
    )
