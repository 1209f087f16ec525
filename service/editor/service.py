"""Editor accounts and API tokens: create, list, issue a token (shown once); invite an
editor with a one-time set-password link; disable/enable and change role (admin rules).

Rules an admin cannot break (checked here, so the CLI and the browser share them):

* an admin cannot disable or demote themselves;
* the last active admin cannot be disabled or demoted — the admin rows are locked
  (``FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) so two admins demoting
  each other at the same moment cannot leave nobody in charge.

Disabling an editor ends their server-side sessions, revokes their API tokens and uses
up their unused password links (the guards also refuse inactive editors at once).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.core import audit
from service.core.addresses import normalise_address
from service.core.models import HttpSession
from service.core.text import SINGLE_LINE_MESSAGE, has_control_chars
from service.db import begin_immediate, utcnow
from service.editor.auth import hash_password
from service.editor.guards import SESSION_KEY
from service.editor.models import ROLES, ApiToken, Editor, PasswordLink
from service.errors import Conflict, Gone, NotFound, ValidationFailed
from service.security.signing import hash_token, new_token

MIN_PASSWORD = 10
MAX_PASSWORD = 1024
PASSWORD_LINK_HOURS = 48
LINK_PREFIX = "/redaktion/losenord/"
MAX_NAME = 200


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(
            f"Lösenordet måste ha minst {MIN_PASSWORD} tecken.",
            fields={"password": "för kort"},
        )
    if len(password) > MAX_PASSWORD:
        raise ValidationFailed("Lösenordet är för långt.", fields={"password": "för långt"})


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValidationFailed(
            "Okänd roll (admin eller editor).",
            fields={"role": "Välj administratör eller redaktör."},
        )


async def _new_identity(session: AsyncSession, email: str, name: str, role: str) -> tuple[str, str]:
    """The normalised address and name of a new editor; every field's problem at once."""
    errors: dict[str, str] = {}
    address = ""
    try:
        address = normalise_address(email)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    name = (name or "").strip()
    if len(name) > MAX_NAME:
        errors["name"] = f"Namnet får vara högst {MAX_NAME} tecken."
    elif has_control_chars(name):
        errors["name"] = SINGLE_LINE_MESSAGE
    if role not in ROLES:
        errors["role"] = "Välj administratör eller redaktör."
    if errors:
        raise ValidationFailed("Kontot skapades inte. Rätta det som är markerat.", fields=errors)
    exists = (await session.execute(select(Editor.id).where(Editor.email == address))).first()
    if exists:
        message = "Det finns redan en redaktör med den adressen."
        raise Conflict(message, fields={"email": message})
    return address, name


async def create_editor(
    session: AsyncSession,
    email: str,
    password: str,
    *,
    role: str = "editor",
    name: str = "",
    actor: str = "cli",
) -> Editor:
    """An editor with a password given now (the CLI)."""
    address = normalise_address(email)
    _check_role(role)
    validate_password(password)
    address, name = await _new_identity(session, address, name, role)
    editor = Editor(
        email=address,
        name=name,
        role=role,
        password_hash=hash_password(password),
        password_set_at=utcnow(),
    )
    session.add(editor)
    await session.flush()
    audit.record(session, actor, "create", "editor", editor.id, email=address, role=role)
    return editor


@dataclass(frozen=True)
class IssuedLink:
    """A new set-password link; ``token`` is shown (and mailed) once, never stored."""

    editor: Editor
    token: str
    expires_at: datetime

    @property
    def path(self) -> str:
        return LINK_PREFIX + self.token


async def _issue_link(session: AsyncSession, editor: Editor) -> IssuedLink:
    """A new link for ``editor``; earlier unused links are used up."""
    now = utcnow()
    await session.execute(
        update(PasswordLink)
        .where(PasswordLink.editor_id == editor.id, PasswordLink.used_at.is_(None))
        .values(used_at=now)
    )
    token = new_token(32)
    expires_at = now + timedelta(hours=PASSWORD_LINK_HOURS)
    session.add(
        PasswordLink(editor_id=editor.id, token_hash=hash_token(token), expires_at=expires_at)
    )
    await session.flush()
    return IssuedLink(editor=editor, token=token, expires_at=expires_at)


async def invite_editor(
    session: AsyncSession, email: str, *, name: str = "", role: str = "editor", actor: str
) -> IssuedLink:
    """A new editor without a password, and the one-time link with which they choose one.

    Until then the account has a random, never-shown password, so nobody can log in.
    """
    address, name = await _new_identity(session, email, name, role)
    editor = Editor(email=address, name=name, role=role, password_hash=hash_password(new_token(32)))
    session.add(editor)
    await session.flush()
    link = await _issue_link(session, editor)
    audit.record(
        session, actor, "create", "editor", editor.id, email=address, role=role, via="invite"
    )
    audit.record(session, actor, "password_link", "editor", editor.id)
    return link


async def issue_password_link(session: AsyncSession, editor_id: int, *, actor: str) -> IssuedLink:
    """A new set-password link for an existing editor (a forgotten password, a lost invite)."""
    editor = await get_editor(session, editor_id)
    if not editor.is_active:
        raise Conflict("Redaktören är avstängd. Aktivera kontot först.")
    link = await _issue_link(session, editor)
    audit.record(session, actor, "password_link", "editor", editor.id)
    return link


async def open_password_link(session: AsyncSession, token: str) -> tuple[PasswordLink, Editor]:
    """The link and its editor while it can still be used; NotFound/Gone (Swedish) otherwise."""
    row = None
    if 20 <= len(token) <= 100:
        row = (
            await session.execute(
                select(PasswordLink, Editor)
                .join(Editor, Editor.id == PasswordLink.editor_id)
                .where(PasswordLink.token_hash == hash_token(token))
            )
        ).first()
    if row is None:
        raise NotFound(
            "Länken är ogiltig. Kontrollera att du har kopierat hela länken, "
            "eller be en administratör om en ny."
        )
    link, editor = row
    if link.used_at is not None:
        raise Gone("Länken har redan använts. Be en administratör om en ny länk om det behövs.")
    if link.expires_at <= utcnow():
        raise Gone("Länken har slutat gälla. Be en administratör om en ny länk.")
    if not editor.is_active:
        raise Gone("Kontot är avstängt. Kontakta en administratör.")
    return link, editor


async def set_password_with_link(
    session: AsyncSession, token: str, password: str, repeat: str
) -> Editor:
    """Set the password through a one-time link; the link is used up only on success."""
    link, editor = await open_password_link(session, token)
    validate_password(password)
    if password != repeat:
        message = "Lösenorden stämmer inte överens. Skriv samma lösenord två gånger."
        raise ValidationFailed(message, fields={"password_repeat": message})
    used = await session.execute(
        update(PasswordLink)
        .where(PasswordLink.id == link.id, PasswordLink.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        raise Gone("Länken har redan använts. Be en administratör om en ny länk om det behövs.")
    editor.password_hash = hash_password(password)
    editor.password_set_at = utcnow()
    ended = await end_sessions(session, editor.id)
    audit.record(
        session, f"editor:{editor.id}", "password_set", "editor", editor.id, sessions=ended
    )
    return editor


async def get_editor(session: AsyncSession, editor_id: int) -> Editor:
    editor = await session.get(Editor, editor_id)
    if editor is None:
        raise NotFound("Redaktören finns inte.")
    return editor


async def _lock_admins(session: AsyncSession, editor_id: int) -> tuple[Editor, int]:
    """Lock the target and every active admin; return the target and how many *other*
    active admins there are. Locked in id order, so concurrent changes cannot deadlock."""
    await begin_immediate(session)
    rows = list(
        (
            await session.execute(
                select(Editor)
                .where(
                    or_(
                        Editor.id == editor_id,
                        (Editor.role == "admin") & Editor.is_active.is_(True),
                    )
                )
                .order_by(Editor.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalars()
    )
    target = next((e for e in rows if e.id == editor_id), None)
    if target is None:
        raise NotFound("Redaktören finns inte.")
    others = sum(1 for e in rows if e.id != editor_id and e.role == "admin" and e.is_active)
    return target, others


LAST_ADMIN = (
    "Det måste finnas minst en aktiv administratör. Gör någon annan till administratör först."
)


async def set_role(
    session: AsyncSession, editor_id: int, role: str, *, actor_id: int | None, actor: str
) -> Editor:
    _check_role(role)
    target, other_admins = await _lock_admins(session, editor_id)
    if target.role == role:
        return target
    if target.role == "admin":
        if target.id == actor_id:
            raise Conflict("Du kan inte ta bort din egen administratörsbehörighet.")
        if target.is_active and other_admins == 0:
            raise Conflict(LAST_ADMIN)
    audit.record(session, actor, "role", "editor", target.id, role=role, previous=target.role)
    target.role = role
    await session.flush()
    return target


async def set_active(
    session: AsyncSession, editor_id: int, active: bool, *, actor_id: int | None, actor: str
) -> Editor:
    """Enable or disable an editor. Disabling ends their sessions, revokes their API
    tokens and uses up their password links; enabling restores only the login."""
    target, other_admins = await _lock_admins(session, editor_id)
    if target.is_active == active:
        return target
    if not active:
        if target.id == actor_id:
            raise Conflict("Du kan inte stänga av ditt eget konto.")
        if target.role == "admin" and other_admins == 0:
            raise Conflict(LAST_ADMIN)
        now = utcnow()
        target.is_active = False
        revoked = await session.execute(
            update(ApiToken)
            .where(ApiToken.editor_id == target.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        await session.execute(
            update(PasswordLink)
            .where(PasswordLink.editor_id == target.id, PasswordLink.used_at.is_(None))
            .values(used_at=now)
        )
        ended = await end_sessions(session, target.id)
        audit.record(
            session, actor, "disable", "editor", target.id,
            sessions=ended, tokens=int(revoked.rowcount or 0),  # type: ignore[attr-defined]
        )  # fmt: skip
    else:
        target.is_active = True
        audit.record(session, actor, "enable", "editor", target.id)
    await session.flush()
    return target


async def end_sessions(session: AsyncSession, editor_id: int) -> int:
    """Delete every server-side session logged in as ``editor_id``; returns how many.

    Sessions are stored only once they hold data (a logged-in editor, mostly), so this
    reads few rows.
    """
    keys: list[str] = []
    for key, data in (await session.execute(select(HttpSession.key, HttpSession.data))).all():
        try:
            content = json.loads(data)
        except (ValueError, TypeError):
            continue
        if isinstance(content, dict) and content.get(SESSION_KEY) == editor_id:
            keys.append(key)
    if keys:
        await session.execute(delete(HttpSession).where(HttpSession.key.in_(keys)))
    return len(keys)


async def list_editors(session: AsyncSession) -> list[Editor]:
    return list((await session.execute(select(Editor).order_by(Editor.email))).scalars())


async def editor_by_email(session: AsyncSession, email: str) -> Editor:
    address = normalise_address(email)
    editor = (
        await session.execute(select(Editor).where(Editor.email == address))
    ).scalar_one_or_none()
    if editor is None:
        raise NotFound("Ingen redaktör med den adressen.")
    return editor


async def create_token(
    session: AsyncSession, editor: Editor, name: str, *, actor: str = "cli"
) -> tuple[ApiToken, str]:
    """A new API token; the plain token is returned once and only its hash is stored."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed(
            "Ge nyckeln ett namn (1–100 tecken).", fields={"name": "saknas eller för långt"}
        )
    plain = "innan_" + new_token(32)
    token = ApiToken(
        editor_id=editor.id, name=name, token_hash=hash_token(plain), prefix=plain[:12]
    )
    session.add(token)
    await session.flush()
    audit.record(session, actor, "create", "api_token", token.id, editor_id=editor.id, name=name)
    return token, plain


async def list_tokens(session: AsyncSession, editor_id: int) -> list[ApiToken]:
    stmt = select(ApiToken).where(ApiToken.editor_id == editor_id).order_by(ApiToken.created_at)
    return list((await session.execute(stmt)).scalars())


async def revoke_token(session: AsyncSession, editor_id: int, token_id: int, *, actor: str) -> None:
    from service.db import utcnow

    token = await session.get(ApiToken, token_id)
    if token is None or token.editor_id != editor_id:
        raise NotFound("Nyckeln finns inte.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(session, actor, "revoke", "api_token", token.id)
