"""Editor pages: login, logout, API tokens, editor accounts (admins) and set-password links.

Issue, block, calendar and media pages live in their own domains' handlers, on the
controller bases of :mod:`service.editor.guards` (as the token and editor pages here).

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

from service.core import audit
from service.core.dates import local
from service.editor import auth, mails
from service.editor import service as editors
from service.editor.guards import (
    LOGIN_PATH,
    SESSION_KEY,
    Actor,
    AdminPages,
    CurrentEditor,
    EditorPages,
)
from service.editor.models import ROLES, Editor
from service.errors import DomainError, RateLimited, ValidationFailed
from service.settings import Settings
from service.web import Contribution, client_ip, discard_attempt, settings_of

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
        wait = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else {}
        return Template(
            template_name="pages/editor/login.html",
            context={"next": target, "error": exc.message, "email": email},
            status_code=exc.status_code,
            headers=wait,
        )
    await auth.start_session(request, db, editor)
    return Redirect(target, status_code=303)


@post("/redaktion/logga-ut", include_in_schema=False, status_code=303)
async def logout(request: Request[Any, Any, Any], db: Db) -> Redirect:
    data = request.scope.get("session")
    if isinstance(data, dict) and data.get(SESSION_KEY):
        audit.record(db, f"editor:{data[SESSION_KEY]}", "logout", "editor", data[SESSION_KEY])
    auth.end_session(request)
    return Redirect(LOGIN_PATH + "?utloggad=1", status_code=303)


async def _tokens_page(
    db: AsyncSession, editor_id: int, *, plain: str = "", message: str = "", status: int = 200
) -> Template:
    return Template(
        template_name="pages/editor/tokens.html",
        context={"tokens": await editors.list_tokens(db, editor_id), "plain": plain,
                 "message": message, "errors": {}},
        status_code=status,
    )  # fmt: skip


class TokenPages(EditorPages):
    """An editor's own API keys: list, create (the key is shown once), revoke."""

    path = "/redaktion/nycklar"

    @get()
    async def tokens_page(self, db: Db, editor: CurrentEditor) -> Template:
        return await _tokens_page(db, editor.id)

    @post(status_code=200)
    async def token_create(
        self, request: Request[Any, Any, Any], db: Db, editor: CurrentEditor, actor: Actor
    ) -> Template:
        form = await request.form()
        try:
            _, plain = await editors.create_token(
                db, editor, str(form.get("name") or ""), actor=actor
            )
        except ValidationFailed as exc:
            return await _tokens_page(db, editor.id, message=exc.message, status=422)
        return await _tokens_page(db, editor.id, plain=plain)

    @post("/{token_id:int}/aterkalla", status_code=303)
    async def token_revoke(
        self, db: Db, editor: CurrentEditor, actor: Actor, token_id: FromPath[int]
    ) -> Redirect:
        await editors.revoke_token(db, editor.id, token_id, actor=actor)
        return Redirect("/redaktion/nycklar", status_code=303)


# ---------------------------------------------------------------- editor accounts (admins)

EDITORS_PATH = "/redaktion/redaktorer"
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
DONE = ("roll", "avstangd", "aktiverad")


async def _editors_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    me: Editor,
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
            "me": me,
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


class EditorAccountPages(AdminPages):
    """Editor accounts (admins only): invite, set-password links, roles, disable/enable."""

    path = EDITORS_PATH

    @get()
    async def editors_page(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        editor: CurrentEditor,
        klart: FromQuery[str] = "",
    ) -> Template:
        return await _editors_page(request, db, editor, done=klart)

    @post(status_code=200)
    async def editor_create(
        self, request: Request[Any, Any, Any], db: Db, editor: CurrentEditor, actor: Actor
    ) -> Template:
        data = await request.form()
        keys = ("email", "name", "role", "send_mail")
        form = {key: str(data.get(key) or "")[:400] for key in keys}
        try:
            link = await editors.invite_editor(
                db, form["email"], name=form["name"], role=form["role"], actor=actor
            )
        except DomainError as exc:
            return await _editors_page(request, db, editor, form=form, error=exc)
        mailed = _mail_link(request, db, link, True) if form["send_mail"] else None
        return await _editors_page(request, db, editor, link=link, new_account=True, mailed=mailed)

    @post("/{editor_id:int}/lank", status_code=200)
    async def editor_link(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        editor: CurrentEditor,
        actor: Actor,
        editor_id: FromPath[int],
    ) -> Template:
        try:
            link = await editors.issue_password_link(db, editor_id, actor=actor)
        except DomainError as exc:
            return await _editors_page(request, db, editor, error=exc)
        mailed = _mail_link(request, db, link, False)
        return await _editors_page(request, db, editor, link=link, mailed=mailed)

    @post("/{editor_id:int}/roll", status_code=303)
    async def editor_role(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        editor: CurrentEditor,
        actor: Actor,
        editor_id: FromPath[int],
    ) -> Redirect | Template:
        role = str((await request.form()).get("role") or "")
        try:
            await editors.set_role(db, editor_id, role, actor_id=editor.id, actor=actor)
        except DomainError as exc:
            await discard_attempt(db)  # also lets go of the rows _lock_admins locked
            return await _editors_page(request, db, editor, error=exc)
        return Redirect(f"{EDITORS_PATH}?klart=roll", status_code=303)

    @post("/{editor_id:int}/stang-av", status_code=303)
    async def editor_disable(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        editor: CurrentEditor,
        actor: Actor,
        editor_id: FromPath[int],
    ) -> Redirect | Template:
        return await _set_active(request, db, editor, actor, editor_id, False)

    @post("/{editor_id:int}/aktivera", status_code=303)
    async def editor_enable(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        editor: CurrentEditor,
        actor: Actor,
        editor_id: FromPath[int],
    ) -> Redirect | Template:
        return await _set_active(request, db, editor, actor, editor_id, True)


async def _set_active(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    me: Editor,
    actor: str,
    editor_id: int,
    active: bool,
) -> Redirect | Template:
    try:
        await editors.set_active(db, editor_id, active, actor_id=me.id, actor=actor)
    except DomainError as exc:
        await discard_attempt(db)  # also lets go of the rows _lock_admins locked
        return await _editors_page(request, db, me, error=exc)
    done = "aktiverad" if active else "avstangd"
    return Redirect(f"{EDITORS_PATH}?klart={done}", status_code=303)


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
        await discard_attempt(db)
        _, editor = await editors.open_password_link(db, token)
        return _password_page(token, email=editor.email, error=exc)
    except DomainError as exc:
        await discard_attempt(db)
        return _password_page(token, error=exc, usable=False)
    return Redirect(LOGIN_PATH + "?losenord=1", status_code=303)


def contribute(settings: Settings) -> Contribution:
    return Contribution(
        routes=[
            login_form,
            login,
            logout,
            TokenPages,
            EditorAccountPages,
            password_form,
            password_set,
        ]
    )
