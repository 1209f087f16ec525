"""The suppression list: addresses never to be mailed, kept only as a keyed hash."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.security.signing import address_hmac
from service.settings import Settings
from subscribers.models import Suppression


def suppression_key(settings: Settings, normalised_address: str) -> str:
    return address_hmac(settings.secret_key, normalised_address)


async def is_suppressed(session: AsyncSession, settings: Settings, normalised_address: str) -> bool:
    key = suppression_key(settings, normalised_address)
    found = await session.execute(select(Suppression.reason).where(Suppression.address_hmac == key))
    return found.first() is not None


async def suppress(
    session: AsyncSession, settings: Settings, normalised_address: str, reason: str
) -> None:
    """Add the address (as its HMAC) to the suppression list; idempotent."""
    key = suppression_key(settings, normalised_address)
    if await session.get(Suppression, key) is None:
        session.add(Suppression(address_hmac=key, reason=reason))


async def lift(session: AsyncSession, settings: Settings, normalised_address: str) -> None:
    """Remove a suppression (only after a fresh, confirmed double opt-in)."""
    key = suppression_key(settings, normalised_address)
    await session.execute(delete(Suppression).where(Suppression.address_hmac == key))
