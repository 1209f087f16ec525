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

# Refusals when an editor sends or schedules (page, API and CLI alike).
NO_LISTS = "Välj minst en lista som utskicket ska gå till."
BAD_TIME = "Tidpunkten kunde inte läsas. Ange datum och klockslag, t.ex. 2027-01-05 08:00."
PAST_TIME = (
    "Tidpunkten {when} har redan passerat. Ange en senare tid för att schemalägga, "
    "eller välj Skicka nu."
)
FAR_TIME = (
    "Tidpunkten {when} ligger mer än ett år fram i tiden. Kontrollera årtalet; "
    "ett utskick kan schemaläggas högst ett år i förväg."
)
NO_TIME = "Ange dag och klockslag för att schemalägga, eller välj Skicka nu."
NO_RECIPIENTS = (
    "Utskicket skulle inte gå till någon: listorna har inga bekräftade prenumeranter "
    "som passar urvalet just nu. Kontrollera listor, organisationer och roller."
)
ALREADY_SENDING = "Utskicket skickas redan eller är redan skickat."
CHANGED = (
    "Utskicket har ändrats sedan du fick frågan om att bekräfta. Kontrollera det och bekräfta igen."
)
NOW_WORDS = "nu direkt"
SCHEDULE_EMPTY = (
    "Det schemalagda utskicket skickades inte: det hade inget innehåll när det skulle "
    "skickas. Det är ett utkast igen. Lägg till minst ett block och skicka eller "
    "schemalägg det på nytt."
)
