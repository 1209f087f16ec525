"""What the delivery domain keeps about a subscriber, for their export and erasure.

The per-recipient ledger (``deliveries``) and the bounce reports (``bounce_events``)
both may quote the address (an SMTP reply, a DSN). An export shows them; an erasure
(or the retention purge) blanks the SMTP reply of each delivery row, which stays for
the issue's statistics (its ``subscriber_id`` becomes NULL when the person is deleted),
and deletes the bounce reports. Named in ``service.personal_data.HOLDERS``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.delivery.models import BounceEvent, Delivery
from subscribers.service import PersonalData, export_time


class DeliveryRecords:
    """The :class:`~subscribers.privacy.PersonalData` holder of the delivery domain."""

    async def export(self, session: AsyncSession, subscriber_id: int) -> dict[str, Any]:
        deliveries = (
            await session.execute(
                select(Delivery)
                .where(Delivery.subscriber_id == subscriber_id)
                .order_by(Delivery.id)
            )
        ).scalars()
        bounces = (
            await session.execute(
                select(BounceEvent)
                .where(BounceEvent.subscriber_id == subscriber_id)
                .order_by(BounceEvent.id)
            )
        ).scalars()
        return {
            "deliveries": [
                {
                    "issue_id": d.issue_id,
                    "state": d.state,
                    "attempts": d.attempts,
                    "sent_at": export_time(d.sent_at),
                    "last_reply": d.last_reply,
                }
                for d in deliveries
            ],
            "bounces": [
                {"kind": b.kind, "received_at": export_time(b.received_at), "detail": b.detail}
                for b in bounces
            ],
        }

    async def erase(self, session: AsyncSession, subscriber_id: int) -> None:
        await session.execute(
            update(Delivery).where(Delivery.subscriber_id == subscriber_id).values(last_reply=None)
        )
        await session.execute(delete(BounceEvent).where(BounceEvent.subscriber_id == subscriber_id))


RECORDS: PersonalData = DeliveryRecords()
