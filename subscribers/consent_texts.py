"""Versioned consent texts and privacy notices: a new version is published, old versions
are never edited, and the ledger refers to the exact version a person was shown.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.core.text import has_control_chars
from service.errors import NotFound, ValidationFailed
from subscribers.fields import check_text
from subscribers.models import ConsentText

TEXT_KINDS = ("consent", "privacy")


async def current_text(session: AsyncSession, kind: str, language: str = "sv") -> ConsentText:
    found = await session.execute(
        select(ConsentText)
        .where(ConsentText.kind == kind, ConsentText.language == language)
        .order_by(ConsentText.version.desc())
        .limit(1)
    )
    text = found.scalar_one_or_none()
    if text is None:
        raise NotFound("Texten finns inte.")
    return text


async def text_versions(
    session: AsyncSession, kind: str, language: str = "sv"
) -> list[ConsentText]:
    found = await session.execute(
        select(ConsentText)
        .where(ConsentText.kind == kind, ConsentText.language == language)
        .order_by(ConsentText.version.desc())
    )
    return list(found.scalars())


async def text_version(
    session: AsyncSession, kind: str, version: int, language: str = "sv"
) -> ConsentText:
    found = await session.execute(
        select(ConsentText).where(
            ConsentText.kind == kind,
            ConsentText.version == version,
            ConsentText.language == language,
        )
    )
    text = found.scalar_one_or_none()
    if text is None:
        raise NotFound("Den versionen av texten finns inte.")
    return text


async def publish_text(
    session: AsyncSession, kind: str, body: str, *, title: str = "", language: str = "sv"
) -> ConsentText:
    """Publish a new version (old versions are never edited)."""
    errors: dict[str, str] = {}
    if kind not in TEXT_KINDS:
        errors["kind"] = "Typen måste vara consent eller privacy."
    body = (body or "").strip()
    if not body:
        errors["body"] = "Texten är tom."
    elif has_control_chars(body, multiline=True):
        errors["body"] = "Texten innehåller otillåtna tecken."
    title = check_text(title, "title", errors)
    if errors:
        raise ValidationFailed("Texten kunde inte publiceras.", fields=errors)
    latest = (
        await session.execute(
            select(func.max(ConsentText.version)).where(
                ConsentText.kind == kind, ConsentText.language == language
            )
        )
    ).scalar()
    if not title:
        title = "Samtycke" if kind == "consent" else "Behandling av personuppgifter"
    text = ConsentText(
        kind=kind, version=(latest or 0) + 1, language=language, title=title, body=body
    )
    session.add(text)
    await session.flush()
    return text


async def shown_text(session: AsyncSession, kind: str, raw_id: str) -> ConsentText:
    """The text version the form showed (falls back to the current one)."""
    if raw_id.isdigit():
        text = await session.get(ConsentText, int(raw_id))
        if text is not None and text.kind == kind:
            return text
    return await current_text(session, kind)
