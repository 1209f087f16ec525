"""Mailed single-use action tokens (confirming a signup or an address change): only a
hash of the token is stored; a token is unknown, used, expired or usable.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import utcnow
from service.errors import Gone, NotFound
from service.security.signing import hash_token, new_token
from subscribers.messages import MESSAGES
from subscribers.models import ActionToken


async def new_action_token(
    session: AsyncSession,
    subscriber_id: int,
    purpose: str,
    payload: dict[str, Any],
    ttl: timedelta,
    now: datetime,
) -> str:
    raw = new_token()
    session.add(
        ActionToken(
            token_hash=hash_token(raw),
            purpose=purpose,
            subscriber_id=subscriber_id,
            payload=payload,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    await session.flush()
    return raw


async def load_action_token(
    session: AsyncSession, raw: str, *, now: datetime | None = None
) -> ActionToken:
    """A usable mailed token: NotFound if unknown, Gone if used or expired."""
    now = now or utcnow()
    if not raw or len(raw) > 200:
        raise NotFound(MESSAGES["link_unknown"])
    found = await session.execute(
        select(ActionToken).where(ActionToken.token_hash == hash_token(raw))
    )
    token = found.scalar_one_or_none()
    if token is None:
        raise NotFound(MESSAGES["link_unknown"])
    if token.used_at is not None:
        raise Gone(MESSAGES["link_used"])
    if token.expires_at <= now:
        raise Gone(MESSAGES["link_expired"])
    return token
