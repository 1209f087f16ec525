"""Per-recipient placeholders in a pre-rendered issue.

An issue is rendered once (MJML → HTML, plus text) with these placeholders in it; per
recipient only their values are spliced in (:mod:`service.issues.message`). Placeholders
are plain ASCII without ``=``, ``<``, ``&`` or spaces so they survive HTML rendering and
can be spliced into a transfer-encoded body.
"""

from __future__ import annotations

import re

# The greeting reads "Hej%%INNAN_NAME%%!": with a name it becomes "Hej Åsa!", without
# one "Hej!" (see name_fragment).
NAME = "%%INNAN_NAME%%"
PREFS_URL = "%%INNAN_PREFS_URL%%"  # preference centre link
UNSUBSCRIBE_URL = "%%INNAN_UNSUBSCRIBE_URL%%"  # one-click unsubscribe page

ALL = (NAME, PREFS_URL, UNSUBSCRIBE_URL)


def name_fragment(name: str) -> str:
    """What replaces :data:`NAME`: ``" Åsa"`` for a name, ``""`` without one."""
    cleaned = " ".join((name or "").split())
    return f" {cleaned}" if cleaned else ""


# The one pattern that finds them (used to cut a rendering at its placeholders).
PATTERN = re.compile("(" + "|".join(re.escape(p) for p in ALL) + ")")
