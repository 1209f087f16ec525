"""The consent ledger (append-only ``consent_events``): what each row says a person agreed
to or withdrew from.
"""

from __future__ import annotations

from subscribers.fields import MAX_TEXT
from subscribers.models import MailingList


def purpose_of(lst: MailingList) -> str:
    return f"Att få utskicket ”{lst.name}” med e-post"[:MAX_TEXT]
