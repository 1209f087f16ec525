"""Swedish texts shown to subscribers that are produced by code (field errors, notices).

Whole pages and mails live in ``templates/pages/subscribers/`` and
``templates/mail/subscribers/``; only short messages raised from business rules are here.
"""

from __future__ import annotations

from service.core.text import SINGLE_LINE_MESSAGE

FIELD_LABELS = {
    "name": "namn",
    "organisation": "organisation",
    "role": "roll",
}

MESSAGES = {
    # Reasons shown to editors on "Utgående e-post" when no confirmation mail was due.
    "confirmation_throttled": (
        "Ingen ny bekräftelse: adressen fick en (eller har en på väg) det senaste dygnet."
    ),
    "signup_lists_gone": ("Ingen bekräftelse: listan eller samtyckestexten finns inte längre."),
    "control_chars": SINGLE_LINE_MESSAGE,
    "too_long": "Högst {max} tecken.",
    "no_list": "Välj minst ett utskick.",
    "bad_list": "Välj bland utskicken i formuläret.",
    "form_invalid": "Formuläret innehåller fel. Rätta de markerade fälten och försök igen.",
    "rate_limited": (
        "Vi har tagit emot för många anmälningar på kort tid. Vänta en stund och försök igen."
    ),
    "link_unknown": ("Länken är ogiltig. Kontrollera att du har kopierat hela länken från mejlet."),
    "link_used": "Länken har redan använts.",
    "link_expired": "Länken har slutat gälla.",
    "link_outdated": (
        "Länken gäller inte längre, eftersom din e-postadress har ändrats. "
        "Använd länken i det senaste mejlet från oss."
    ),
    "address_in_use": (
        "Adressen används redan av en annan prenumeration. Adressen har inte ändrats."
    ),
    "same_address": "Det är redan den adress vi har.",
    "change_rate": "Du har begärt för många adressbyten. Försök igen om en timme.",
    "not_subscriber": "Prenumerationen finns inte längre.",
    "no_such_address": "Det finns ingen prenumerant med den adressen.",
    "no_such_form": "Sidan finns inte. Gå tillbaka till dina inställningar och försök igen.",
}

# Notices shown on the preference centre after a redirect (?sparat=KEY).
SAVED_NOTICES = {
    "listor": "Dina val av utskick är sparade.",
    "uppgifter": "Dina uppgifter är sparade.",
    "adress": (
        "Vi har skickat en bekräftelselänk till den nya adressen. "
        "Adressen byts när du har bekräftat via länken."
    ),
    "avregistrerad": "Du är avregistrerad från alla utskick.",
}
