"""Control characters in what editors and API callers enter.

NUL, escape and the other C0/C1 control characters belong in no title, heading, link or
text of an issue or a calendar item: PostgreSQL refuses NUL in text (the save would fail
with a server error), and none of them belongs in a mail or a web page. Multi-line text
(Markdown bodies, descriptions) may have line breaks and tabs.
"""

from __future__ import annotations

import re

SINGLE_LINE_MESSAGE = "Fältet får inte innehålla radbrytningar eller andra styrtecken."
MULTI_LINE_MESSAGE = "Texten innehåller otillåtna styrtecken."

_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def has_control_chars(value: str, *, multiline: bool = False) -> bool:
    """Whether ``value`` has a control character (``multiline``: other than CR, LF, tab)."""
    return (_CONTROL_BUT_LINES if multiline else _ANY_CONTROL).search(value) is not None


def without_control_chars(value: str) -> str:
    """``value`` with its control characters removed (for metadata such as file names)."""
    return _ANY_CONTROL.sub("", value)
