"""Editor accounts and API tokens: create, list, issue a token (shown once)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.core import audit
from service.editor.auth import hash_password, token_hash
from service.editor.models import ROLES, ApiToken, Editor
from service.errors import Conflict, NotFound, ValidationFailed
from service.security.signing import new_token
from subscribers.addresses import normalise_address

MIN_PASSWORD = 10
MAX_PASSWORD = 1024


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(
            f"Lösenordet måste ha minst {MIN_PASSWORD} tecken.",
            fields={"password": "för kort"},
        )
    if len(password) > MAX_PASSWORD:
        raise ValidationFailed("Lösenordet är för långt.", fields={"password": "för långt"})


async def create_editor(
    session: AsyncSession,
    email: str,
    password: str,
    *,
    role: str = "editor",
    name: str = "",
    actor: str = "cli",
) -> Editor:
    address = normalise_address(email)
    if role not in ROLES:
        raise ValidationFailed("Okänd roll (admin eller editor).", fields={"role": "okänd roll"})
    name = (name or "").strip()
    if len(name) > 200:
        raise ValidationFailed(
            "Namnet är för långt (högst 200 tecken).", fields={"name": "för långt"}
        )
    validate_password(password)
    exists = (await session.execute(select(Editor.id).where(Editor.email == address))).first()
    if exists:
        raise Conflict(
            "Det finns redan en redaktör med den adressen.", fields={"email": "finns redan"}
        )
    editor = Editor(email=address, name=name, role=role, password_hash=hash_password(password))
    session.add(editor)
    await session.flush()
    audit.record(session, actor, "create", "editor", editor.id, email=address, role=role)
    return editor


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
        editor_id=editor.id, name=name, token_hash=token_hash(plain), prefix=plain[:12]
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
