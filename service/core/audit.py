"""The audit log: who sent, scheduled, edited or erased what, and when."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.core.models import AuditEntry


def record(
    session: AsyncSession,
    actor: str,
    action: str,
    object_type: str,
    object_id: object | None = None,
    **detail: Any,
) -> AuditEntry:
    """Add an audit entry to ``session`` (committed with the change it describes)."""
    entry = AuditEntry(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        detail=detail,
    )
    session.add(entry)
    return entry
