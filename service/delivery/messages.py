"""Swedish names of the delivery ledger's states, as the delivery page, its CSV and the
CLI's ``issues status`` show them."""

from __future__ import annotations

STATE_NAMES = {
    "queued": "i kö",
    "sending": "skickas",
    "sent": "skickade",
    "retry": "nytt försök",
    "failed": "misslyckade",
    "bounced": "studsade",
    "skipped": "hoppades över",
}
