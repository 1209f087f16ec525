"""Swedish texts the operations domain shows to operators and editors (reasons, reports)."""

from __future__ import annotations

REJECT_REASONS = {
    "empty_row": "Raden är tom.",
    "unreadable": (
        "Raden kunde inte läsas: ett fält är för långt (över 128 000 tecken) "
        "eller citattecknen stämmer inte."
    ),
    "no_address": "E-postadress saknas.",
    "line_break": (
        "Ett fält innehåller en radbrytning eller ett annat styrtecken (till exempel ett "
        "osynligt tecken som styr skrivriktningen), vilket inte är tillåtet."
    ),
    "too_long": "Fältet ”{field}” är för långt (högst {max} tecken).",
    "duplicate_in_file": "Adressen finns redan tidigare i filen (rad {row}).",
    "already_subscribed": "Adressen prenumererar redan på listan.",
    "suppressed": (
        "Adressen är spärrad (avregistrerad, raderad eller studsande) och läggs aldrig till igen."
    ),
    "withdrawn": "Personen har själv avslutat prenumerationen; importen lägger inte tillbaka den.",
}

FIELD_NAMES = {
    "email": "e-post",
    "name": "namn",
    "organisation": "organisation",
    "role": "roll",
}

IMPORT_ERRORS = {
    "no_email_column": (
        "Hittar ingen kolumn med e-postadresser. Ge kolumnen rubriken ”e-post” eller ”email”."
    ),
    "empty_file": "Filen är tom.",
    "unknown_list": "Det finns ingen lista med kortnamnet ”{slug}”.",
    "bad_basis": "Rättslig grund måste vara ”consent” (samtycke) eller ”legitimate-interest”.",
    "bad_source": "Ange varifrån adresserna kommer (högst {max} tecken, inga radbrytningar).",
    "undecodable": (
        "Det gick inte att läsa filens teckenkodning. Spara den som UTF-8 och försök igen."
    ),
}

BASIS_LABELS = {
    "consent": "samtycke",
    "legitimate-interest": "berättigat intresse",
}
