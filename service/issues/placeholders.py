"""Per-recipient placeholders in a pre-rendered issue.

An issue is rendered once (MJML → HTML, plus text) with these placeholders in it; per
recipient only their values are substituted. Placeholders are plain ASCII without ``=``,
``<``, ``&`` or spaces so they survive HTML rendering and can be spliced into a
transfer-encoded body.
"""

from __future__ import annotations

import html

# The greeting reads "Hej%%INNAN_NAME%%!": with a name it becomes "Hej Åsa!", without
# one "Hej!". Pass the plain name (or "") as the value; substitute() adds the space.
NAME = "%%INNAN_NAME%%"
PREFS_URL = "%%INNAN_PREFS_URL%%"  # preference centre link
UNSUBSCRIBE_URL = "%%INNAN_UNSUBSCRIBE_URL%%"  # one-click unsubscribe page

ALL = (NAME, PREFS_URL, UNSUBSCRIBE_URL)


def substitute(rendered: str, values: dict[str, str], *, is_html: bool) -> str:
    """Replace every placeholder in ``rendered`` by its value from ``values``.

    ``values`` is keyed by placeholder; missing ones become "". In HTML the values are
    escaped. The name becomes the greeting fragment (see :func:`name_fragment`).
    """
    out = rendered
    for placeholder in ALL:
        value = values.get(placeholder, "")
        if placeholder == NAME:
            value = name_fragment(value)
        out = out.replace(placeholder, html.escape(value, quote=True) if is_html else value)
    return out


def name_fragment(name: str) -> str:
    """What replaces :data:`NAME`: ``" Åsa"`` for a name, ``""`` without one."""
    cleaned = " ".join((name or "").split())
    return f" {cleaned}" if cleaned else ""
