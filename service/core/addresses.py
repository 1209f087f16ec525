"""E-mail addresses as people type them: validation and the one normalised form we store.

Every place that takes an address from a person (signup, preference centre, CSV import,
editor accounts, test sends, the CLI) calls :func:`normalise_address`, so an address is
compared, hashed for suppression and stored in one form. The check is email-validator's,
not a regex of our own.

How a stored address is written on the wire (IDNA domains, SMTPUTF8 local parts) is a
different question with a different caller, the mail transport: that lives in
:mod:`service.mail.addresses`, which never validates input and never raises
``ValidationFailed``.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from service.errors import ValidationFailed

MAX_ADDRESS_LENGTH = 254


def normalise_address(raw: str, *, field: str = "email") -> str:
    """The normalised form (lower-cased) of a syntactically valid address.

    Raises :class:`ValidationFailed` with a Swedish message for the field ``field``.
    """
    value = (raw or "").strip()
    if not value:
        raise ValidationFailed("Ange en e-postadress.", fields={field: "Ange en e-postadress."})
    if any(c in value for c in '\r\n\x00,;<>"') or " " in value:
        message = "E-postadressen innehåller otillåtna tecken."
        raise ValidationFailed(message, fields={field: message})
    if len(value) > MAX_ADDRESS_LENGTH:
        message = "E-postadressen är för lång."
        raise ValidationFailed(message, fields={field: message})
    try:
        result = validate_email(value, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError:
        message = "Det ser inte ut som en giltig e-postadress. Kontrollera stavningen."
        raise ValidationFailed(message, fields={field: message}) from None
    return result.normalized.lower()
