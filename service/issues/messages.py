"""Swedish messages of the issues domain that more than one entry point shows."""

from __future__ import annotations

EMPTY_ISSUE = "Utskicket har inget innehåll. Lägg till minst ett block innan du skickar."
EMPTY_ISSUE_WEB = (
    "Utskicket har inget innehåll och kan inte publiceras i arkivet. "
    "Lägg till minst ett block först."
)
EMPTY_FIELD = "inget innehåll"
