"""Characters that belong in no single line of text people type, and in no text at all.

One definition for every domain (issues, blocks, calendar items, media metadata,
subscriber fields, CSV import rows):

* **Single-line text** (names, organisations, roles, titles, subjects, headings, links,
  alt texts, places) refuses
  - Unicode category **Cc**: the C0 controls (NUL, CR, LF, tab, escape …), DEL and the
    C1 controls, among them NEL (U+0085), which Python's ``str.splitlines`` and many mail
    and CSV readers treat as a line break;
  - **Zl** and **Zp**: LINE SEPARATOR (U+2028) and PARAGRAPH SEPARATOR (U+2029), which
    break a line as surely as CR/LF (in a subject they made the mail header invalid);
  - **Cs**: lone surrogates, which cannot be encoded as UTF-8 at all;
  - the **bidirectional controls** ALM (U+061C), LRM/RLM (U+200E/U+200F), the embeddings
    and overrides U+202A–U+202E and the isolates U+2066–U+2069: they make a name, title
    or subject read differently from what is stored ("Trojan Source"), in a mail client,
    a CSV file or the editor's list alike.
* **Multi-line text** (Markdown bodies, descriptions) refuses the same, except CR, LF
  and tab.

They are refused with a field error rather than stripped, also on the public signup
form: stripping would store something other than what the person typed without telling
them, and none of these characters is needed to write a Swedish (or any) name — text in
right-to-left scripts is laid out by the Unicode bidi algorithm without them.
"""

from __future__ import annotations

import re

SINGLE_LINE_MESSAGE = (
    "Fältet får inte innehålla radbrytningar eller andra styrtecken "
    "(inte heller osynliga tecken som styr skrivriktningen)."
)
MULTI_LINE_MESSAGE = (
    "Texten innehåller otillåtna styrtecken, till exempel radavgränsaren U+2028 "
    "eller osynliga tecken som styr skrivriktningen."
)

_C0_BUT_LINES = "\x00-\x08\x0b\x0c\x0e-\x1f"  # C0 without tab, LF and CR
_DEL_C1 = "\x7f-\x9f"  # DEL and the C1 controls, NEL (U+0085) among them
_SEPARATORS = "\u2028\u2029"  # categories Zl and Zp (one character each)
_SURROGATES = "\ud800-\udfff"  # category Cs
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"

_REST = _DEL_C1 + _SEPARATORS + _SURROGATES + BIDI_CONTROLS
_SINGLE_LINE = re.compile(f"[\x00-\x1f{_REST}]")
_MULTI_LINE = re.compile(f"[{_C0_BUT_LINES}{_REST}]")


def has_control_chars(value: str, *, multiline: bool = False) -> bool:
    """Whether ``value`` has a character refused in (single-line or ``multiline``) text."""
    return (_MULTI_LINE if multiline else _SINGLE_LINE).search(value) is not None


def without_control_chars(value: str) -> str:
    """``value`` without the characters single-line text refuses (for metadata such as
    the original name of an uploaded file, which nobody is asked to correct)."""
    return _SINGLE_LINE.sub("", value)
