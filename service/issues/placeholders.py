"""Per-recipient placeholders in a pre-rendered issue.

An issue is rendered once (MJML → HTML, plus text) with these placeholders in it; per
recipient only their values are substituted. Placeholders are plain ASCII without ``=``,
``<``, ``&`` or spaces so they survive HTML rendering and can be spliced into a
transfer-encoded body.
"""

from __future__ import annotations

import html

NAME = "%%INNAN_NAME%%"  # the recipient's name for the greeting, or "" (HTML-escaped in HTML)
PREFS_URL = "%%INNAN_PREFS_URL%%"  # preference centre link
UNSUBSCRIBE_URL = "%%INNAN_UNSUBSCRIBE_URL%%"  # one-click unsubscribe page

ALL = (NAME, PREFS_URL, UNSUBSCRIBE_URL)


def substitute(rendered: str, values: dict[str, str], *, is_html: bool) -> str:
    """Replace every placeholder in ``rendered`` by its value from ``values``.

    ``values`` is keyed by placeholder; missing ones become "". In HTML the values are
    escaped.
    """
    out = rendered
    for placeholder in ALL:
        value = values.get(placeholder, "")
        out = out.replace(placeholder, html.escape(value, quote=True) if is_html else value)
    return out
