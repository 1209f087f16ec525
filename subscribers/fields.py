"""The free-text fields a person fills in (name, organisation, role; list names and text titles):
their length limit and the characters they refuse, with Swedish field errors; and the
member organisations the signup form and the preference centre offer.
"""

from __future__ import annotations

from service.core.text import has_control_chars
from subscribers.messages import MESSAGES

MAX_TEXT = 200


# Member organisations offered in the signup form (free text is allowed too).
MEMBER_ORGANISATIONS = (
    "Region Halland",
    "Försäkringskassan",
    "Arbetsförmedlingen",
    "Falkenbergs kommun",
    "Halmstads kommun",
    "Hylte kommun",
    "Kungsbacka kommun",
    "Laholms kommun",
    "Varbergs kommun",
    "Annan",
)


def check_text(value: str | None, fld: str, errors: dict[str, str], limit: int = MAX_TEXT) -> str:
    text = (value or "").strip()
    if has_control_chars(text):
        errors[fld] = MESSAGES["control_chars"]
    elif len(text) > limit:
        errors[fld] = MESSAGES["too_long"].format(max=limit)
    return text
