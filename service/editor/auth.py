"""Editor authentication: Argon2id passwords, login throttling, login sessions.

Which routes need a logged-in editor (and the guards, controller bases and
``actor_of``) is :mod:`service.editor.guards`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import time
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from litestar import Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.core import audit, ratelimit
from service.db import utcnow
from service.editor.guards import SESSION_KEY, actor_of
from service.editor.models import Editor
from service.errors import RateLimited, ValidationFailed
from service.settings import Settings

SESSION_COOKIE = "innan_session"
LOGIN_WINDOW_SECONDS = 15 * 60

_HASHER = PasswordHasher()  # argon2-cffi defaults: Argon2id, RFC 9106 low-memory profile
# Verified against when the address is unknown, so timing does not reveal accounts.
_DUMMY_HASH = _HASHER.hash("innanforskapet-dummy-password")


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

    The counters are committed here, before the password is checked. The rest (audit
    entries, the login time) is the caller's transaction, which must be committed also
    when this raises: the login handler answers the error with the form (a page it
    returns, so the request's session commits); a success is committed by
    :func:`start_session`.
    """
    address = (email or "").strip().lower()
    limit = settings.login_attempts_per_15min
    pair_key, ip_key = _login_keys(settings, address, ip)
    now = time.time()
    ok_pair = await ratelimit.hit(session, pair_key, limit, LOGIN_WINDOW_SECONDS, now=now)
    ok_ip = await ratelimit.hit(session, ip_key, limit * 3, LOGIN_WINDOW_SECONDS, now=now)
    if not (ok_pair and ok_ip):
        audit.record(session, f"ip:{ip}", "login_rate_limited", "editor", None, email=address)
        raise RateLimited(
            "För många inloggningsförsök. Vänta en kvart och försök igen.",
            retry_after=LOGIN_WINDOW_SECONDS,
        )
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


async def start_session(
    request: Request[Any, Any, Any], session: AsyncSession, editor: Editor
) -> None:
    """Log ``editor`` in: a NEW session id (no fixation), the old session data deleted.

    Commits ``session`` (the login that :func:`authenticate` recorded) first: the session
    store writes through a connection of its own, and on SQLite it would wait for this
    transaction's write lock until the busy timeout.
    """
    await session.commit()
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


def safe_next(target: str | None) -> str:
    """Only same-site relative paths under /redaktion are allowed as ``next``."""
    if target and target.startswith("/redaktion") and "//" not in target and "\\" not in target:
        return target
    return "/redaktion"
