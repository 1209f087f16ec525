"""Editor authentication: Argon2id passwords, login sessions, API bearer tokens, guards.

How another domain protects its routes
--------------------------------------
Browser pages (server-side session, CSRF-protected forms)::

    from service.editor.auth import LOGIN_REDIRECT, current_editor, editor_guard

    @get("/redaktion/...", guards=[editor_guard], exception_handlers=LOGIN_REDIRECT)
    async def page(request: Request, db: AsyncSession) -> Template:
        editor = current_editor(request)          # an Editor (detached, attributes loaded)
        audit.record(db, actor_of(editor), "...", "issue", issue_id)

``editor_guard`` raises ``LoginRequired`` (a 401 DomainError) when nobody is logged in;
with ``exception_handlers=LOGIN_REDIRECT`` on the route (or router) that becomes a 303
redirect to ``/redaktion/logga-in?next=<path>``; without it the error page is shown.

JSON API (``Authorization: Bearer <token>``; tokens are stored as SHA-256 only)::

    @post("/api/v1/...", guards=[api_guard])
    async def endpoint(request: Request, db: AsyncSession) -> ...:
        editor = current_editor(request)

Admin-only routes add ``admin_guard`` after the login guard
(``guards=[editor_guard, admin_guard]`` or ``[api_guard, admin_guard]``); it answers 403.
``actor_of(editor)`` gives the audit-log actor string ``editor:<id>``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import time
from typing import Any
from urllib.parse import quote

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.core import audit, ratelimit
from service.db import utcnow
from service.editor.models import ApiToken, Editor
from service.errors import DomainError, Forbidden, RateLimited, ValidationFailed
from service.settings import Settings
from service.web import session_factory_of

SESSION_KEY = "editor_id"
SESSION_COOKIE = "innan_session"
LOGIN_PATH = "/redaktion/logga-in"
LOGIN_WINDOW_SECONDS = 15 * 60

_HASHER = PasswordHasher()  # argon2-cffi defaults: Argon2id, RFC 9106 low-memory profile
# Verified against when the address is unknown, so timing does not reveal accounts.
_DUMMY_HASH = _HASHER.hash("innanforskapet-dummy-password")


class LoginRequired(DomainError):
    status_code = 401

    def __init__(self, message: str = "Du måste logga in som redaktör.") -> None:
        super().__init__(message)


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def actor_of(editor: Editor) -> str:
    return f"editor:{editor.id}"


def throttled_client(ip: str) -> str:
    """The client a login failure is counted for: the IPv4 address, or the /64 network of
    an IPv6 address (one subscriber line usually has a whole /64 to rotate through)."""
    try:
        parsed = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def _login_keys(settings: Settings, address: str, ip: str) -> tuple[str, str]:
    """Rate-limit keys for failed logins: per (address, client) and per client.

    The pair is a keyed hash: no address is stored in clear, and an address of any
    length fits the key column.
    """
    client = throttled_client(ip)
    pair = hmac.new(
        settings.secret_key.encode("utf-8"),
        f"{address}\0{client}".encode(),
        hashlib.sha256,
    ).hexdigest()
    return f"login:pair:{pair}", f"login:ip:{client}"


async def authenticate(
    session: AsyncSession, settings: Settings, email: str, password: str, ip: str
) -> Editor:
    """Check a login attempt; failures are limited per (address, client IP) and per client IP
    (an IPv6 client is its /64, see :func:`throttled_client`).

    At most ``login_attempts_per_15min`` failures for one address from one client address,
    and three times that from one client address over all addresses; beyond that the
    client gets 429, even with the right password (the answer must not confirm a guess).
    There is deliberately no limit per address alone: whoever hammers an account from
    elsewhere must not lock its owner out, so the right password from a client address
    that has not been failing always logs in.

    Every attempt is counted before the password is checked (so parallel requests cannot
    slip past the limit) and a successful one is taken back: successes do not count, and
    a login forgives the earlier typos of that address from that client address.
    Known and unknown addresses take the same path and the same time (a dummy Argon2
    verify); a throttled attempt is answered before any lookup or hashing.

    The counters are committed here, before the password is checked; the caller commits
    the rest (audit entries, the login time) even when this raises (the login handler
    catches the error and re-renders the form, which commits).
    """
    address = (email or "").strip().lower()
    limit = settings.login_attempts_per_15min
    pair_key, ip_key = _login_keys(settings, address, ip)
    now = time.time()
    ok_pair = await ratelimit.hit(session, pair_key, limit, LOGIN_WINDOW_SECONDS, now=now)
    ok_ip = await ratelimit.hit(session, ip_key, limit * 3, LOGIN_WINDOW_SECONDS, now=now)
    if not (ok_pair and ok_ip):
        audit.record(session, f"ip:{ip}", "login_rate_limited", "editor", None, email=address)
        raise RateLimited("För många inloggningsförsök. Vänta en kvart och försök igen.")
    # The count is committed before the slow part: Argon2 (tens of milliseconds) runs in
    # a thread with no write transaction open, so it holds up neither the event loop nor
    # the other writers (on SQLite one at a time).
    await session.commit()
    editor = (
        await session.execute(select(Editor).where(Editor.email == address))
    ).scalar_one_or_none()
    if editor is None or not editor.is_active:
        await asyncio.to_thread(verify_password, _DUMMY_HASH, password or "")
        audit.record(session, f"ip:{ip}", "login_failed", "editor", None, email=address)
        raise ValidationFailed("Fel e-postadress eller lösenord.")
    if not await asyncio.to_thread(verify_password, editor.password_hash, password or ""):
        audit.record(session, f"ip:{ip}", "login_failed", "editor", editor.id, email=address)
        raise ValidationFailed("Fel e-postadress eller lösenord.")
    await ratelimit.forget(session, pair_key)
    await ratelimit.undo(session, ip_key, LOGIN_WINDOW_SECONDS, now=now)
    if needs_rehash(editor.password_hash):
        editor.password_hash = await asyncio.to_thread(hash_password, password)
    editor.last_login_at = utcnow()
    audit.record(session, actor_of(editor), "login", "editor", editor.id, ip=ip)
    return editor


async def start_session(request: Request[Any, Any, Any], editor: Editor) -> None:
    """Log ``editor`` in: a NEW session id (no fixation), the old session data deleted."""
    old_id = request.cookies.get(SESSION_COOKIE)
    if old_id:
        store = request.app.stores.get("sessions")
        await store.delete(old_id)
        # The session middleware reads the id from the (cached) cookies; drop it so a
        # fresh id is generated when the response is sent.
        request.cookies.pop(SESSION_COOKIE, None)
    request.clear_session()
    request.set_session({SESSION_KEY: editor.id})


def end_session(request: Request[Any, Any, Any]) -> None:
    request.clear_session()


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
    if getattr(connection.state, "editor", None) is not None:
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
    if getattr(connection.state, "editor", None) is not None:
        return
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise LoginRequired("API-nyckel saknas (Authorization: Bearer <nyckel>).")
    digest = token_hash(token.strip())
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
        await session.commit()
    connection.state.editor = editor


async def admin_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler | None = None
) -> None:
    """Only admins; authenticates first (by bearer token under /api/, else session)."""
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


LOGIN_REDIRECT: dict[type[Exception], Any] = {LoginRequired: login_redirect}


def safe_next(target: str | None) -> str:
    """Only same-site relative paths under /redaktion are allowed as ``next``."""
    if target and target.startswith("/redaktion") and "//" not in target and "\\" not in target:
        return target
    return "/redaktion"
