"""Reading the service's HTML pages as a test client gets them: the CSRF token, the text."""

from __future__ import annotations

import html
import re

from litestar import Litestar
from litestar.testing import AsyncTestClient

Client = AsyncTestClient[Litestar]

_CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


def csrf(page: str) -> str:
    """The CSRF token a page's forms carry, as a browser would send it back (unescaped)."""
    found = _CSRF.search(page)
    assert found, "no CSRF token on the page"
    return html.unescape(found.group(1))


def visible(page: str) -> str:
    """The page text without tags (for asserting on what a user reads)."""
    text = re.sub(r"<[^>]+>", " ", page)
    return re.sub(r"\s+", " ", html.unescape(text))
