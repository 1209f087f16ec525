"""Swedish names of the mail queue's states and kinds, as editors read them."""

from __future__ import annotations

MAIL_STATE_NAMES = {
    "queued": "Väntar",
    "sending": "Skickas",
    "retry": "Försöker igen",
    "sent": "Skickat",
    "failed": "Misslyckades",
    "skipped": "Inget att skicka",
    "cancelled": "Avbrutet",
}

MAIL_KIND_NAMES = {
    "confirm": "Bekräftelse av prenumeration",
    "welcome": "Välkomstbrev",
    "change-email": "Bekräftelse av ny adress",
    "password-link": "Lösenordslänk till redaktör",
    "test-send": "Provutskick",
    "registration-confirm": "Bekräftelse av anmälan",
    "registration-confirmed": "Anmälan bekräftad",
    "registration-waitlisted": "Plats på reservlistan",
    "registration-offer": "Erbjudande om plats",
    "registration-update": "Ändrat evenemang",
    "registration-cancelled": "Avbokning",
    "registration-reminder": "Påminnelse om evenemang",
    "event-info": "Information till deltagare",
}
