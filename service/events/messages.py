"""Swedish texts of the events domain's errors and outcomes (shown as they are)."""

from __future__ import annotations

MESSAGES = {
    "form_invalid": "Anmälan innehåller fel. Rätta de markerade fälten.",
    "settings_invalid": "Inställningarna för anmälan innehåller fel. Rätta de markerade fälten.",
    "no_event": "Det finns ingen anmälan till det här evenemanget.",
    "deleted": "Evenemanget finns inte längre.",
    "cancelled": "Evenemanget är inställt.",
    "not_open": "Anmälan har inte öppnat än. Den öppnar {when}.",
    "closed": "Anmälan är stängd. Sista dag för anmälan har passerat.",
    "started": "Evenemanget har redan börjat.",
    "full": "Fullbokat. Det finns inga platser kvar och ingen reservlista.",
    "rate_limited": "För många anmälningar på kort tid. Vänta en stund och försök igen.",
    "required": "Fyll i fältet.",
    "name_required": "Ange ditt namn.",
    "too_long": "Högst {max} tecken.",
    "bad_phone": (
        "Ange telefonnumret med siffror (mellanslag, bindestreck, + och parentes går bra)."
    ),
    "bad_choice": "Välj ett av de alternativ som finns.",
    "one_choice": "Välj bara ett alternativ.",
    "consent_required": "Du behöver godkänna hur uppgifterna behandlas för att anmäla dig.",
    "link_unknown": "Länken är ogiltig. Kontrollera att du har kopierat hela länken.",
    "link_expired": "Länken har slutat gälla. Anmäl dig igen.",
    "link_revoked": "Länken gäller inte längre. Använd länken i det senaste brevet om anmälan.",
    "not_offered": "Det finns inget erbjudande om plats att tacka ja till.",
    "offer_expired": "Erbjudandet om plats har gått ut.",
    "not_cancellable": "Anmälan är redan avbokad.",
    "not_waitlisted": "Personen står inte på reservlistan.",
    "no_seat": "Det finns ingen ledig plats. Höj antalet platser först.",
    "not_changeable": "En avbokad anmälan kan inte ändras.",
    "capacity_below": "Det finns redan {taken} bekräftade platser; antalet kan inte vara lägre.",
    "registration_gone": "Anmälan finns inte längre.",
    "already_handled": "Anmälan är redan hanterad.",
    "throttled": "En bekräftelse till adressen skickades för mindre än en timme sedan.",
    "info_subject": "Ange en ämnesrad.",
    "info_body": "Skriv något i brevet.",
}
