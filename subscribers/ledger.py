"""The consent ledger (append-only ``consent_events``): what each row says a person agreed
to, on what basis, from which source, having been shown which consent text and privacy
notice. Rows are only ever added (withdrawals too, see :mod:`subscribers.unsubscribe`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from subscribers.fields import MAX_TEXT
from subscribers.models import ConsentEvent, MailingList


def purpose_of(lst: MailingList) -> str:
    return f"Att få utskicket ”{lst.name}” med e-post"[:MAX_TEXT]


def record(
    session: AsyncSession,
    subscriber_id: int,
    lst: MailingList,
    *events: str,
    source: str,
    occurred_at: datetime,
    requested_at: datetime | None,
    consent_text_id: int | None,
    privacy_notice_id: int | None,
    lawful_basis: str = "consent",
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one row per event (``requested``, ``confirmed``) for a person and a list, in order."""
    for event in events:
        session.add(
            ConsentEvent(
                subscriber_id=subscriber_id,
                list_id=lst.id,
                list_slug=lst.slug,
                event=event,
                purpose=purpose_of(lst),
                lawful_basis=lawful_basis,
                source=source,
                consent_text_id=consent_text_id,
                privacy_notice_id=privacy_notice_id,
                language="sv",
                occurred_at=occurred_at,
                requested_at=requested_at,
                detail=detail or {},
            )
        )
