"""Per-recipient placeholders in a pre-rendered issue.

An issue is rendered once (MJML → HTML, plus text) with these placeholders in it; per
recipient only their values are substituted. Placeholders are plain ASCII without ``=``,
``<``, ``&`` or spaces so they survive HTML rendering and can be spliced into a
transfer-encoded body.
"""

from __future__ import annotations

import functools
import html
import re

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


_PATTERN = re.compile("(" + "|".join(re.escape(p) for p in ALL) + ")")


@functools.lru_cache(maxsize=32)
def split(rendered: str) -> tuple[str, ...]:
    """``rendered`` cut at its placeholders: text, placeholder, text, … (cached per issue).

    Odd positions hold placeholders. Filling the pieces with :func:`fill` gives the same
    result as :func:`substitute`, but costs one join per recipient instead of a scan of
    the whole document per placeholder.
    """
    return tuple(_PATTERN.split(rendered))


def fill(pieces: tuple[str, ...], values: dict[str, str], *, is_html: bool) -> str:
    """Join ``pieces`` from :func:`split` with the recipient's ``values`` (see substitute)."""
    prepared = {}
    for placeholder in ALL:
        value = values.get(placeholder, "")
        if placeholder == NAME:
            value = name_fragment(value)
        prepared[placeholder] = html.escape(value, quote=True) if is_html else value
    out = list(pieces)
    for index in range(1, len(out), 2):
        out[index] = prepared[out[index]]
    return "".join(out)
