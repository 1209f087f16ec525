"""Security headers on every answer of the app: CSP, framing, nosniff, referrer policy,
permissions policy, and ``Cache-Control: no-store`` for the editor and its API.

The app sets them itself (a ``before_send`` hook, so 404s and framework errors get them
too); the reverse proxy adds only HSTS. A header the handler already set wins: the
personal-link pages keep ``Referrer-Policy: no-referrer``, the archive and feeds keep
their own ``Cache-Control``, the mail preview keeps its own CSP.

Policies by path:

* pages: ``script-src 'self'`` and ``style-src 'self'`` (no inline script, event handler
  or style anywhere; scripts and styles live in ``templates/static``), images also from
  ``INNAN_BASE_URL`` and https (articles may show external images), not frameable
  (``frame-ancestors 'none'``, ``X-Frame-Options: DENY``);
* ``/prenumerera/inbaddning`` (the embeddable signup form, GET and POST): the same, but
  frameable by the service itself and the origins in ``INNAN_EMBED_ORIGINS``, and no
  ``X-Frame-Options`` (it cannot name origins; browsers follow ``frame-ancestors``);
* ``/redaktion…``: the page policy, never stored (``no-store``);
* ``/api/v1…``: JSON only (``default-src 'none'``), never stored;
* ``/api/schema…``: the API reference, Redoc served from ``/static/vendor/redoc``
  (``service.api.SelfHostedRedoc``): scripts only from the service itself and no other
  origin at all; Redoc styles its page with ``<style>`` elements it writes (so
  ``style-src`` allows inline styles there) and runs its search in a ``blob:`` worker.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from litestar.types import Message, Scope

from service.settings import Settings

EMBED_PATH = "/prenumerera/inbaddning"
EDITOR_PREFIX = "/redaktion"
API_PREFIX = "/api/v1"
DOCS_PREFIX = "/api/schema"

_PAGE_DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
)
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# The API reference (Redoc, vendored): nothing from another origin.
DOCS_CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "font-src 'self' data:",
        "img-src 'self' data:",
        "connect-src 'self'",
        "worker-src blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

Header = tuple[bytes, bytes]


def page_csp(base_url: str, frame_ancestors: Iterable[str]) -> str:
    """The policy of a page. Images may also come from ``INNAN_BASE_URL`` (the archive's
    image URLs are absolute, and the service may be reached under another name, e.g.
    localhost for 127.0.0.1) and from any https address (articles link external images)."""
    parts = urlsplit(base_url)
    images = f"img-src 'self' {parts.scheme}://{parts.netloc} https:"
    return "; ".join((*_PAGE_DIRECTIVES, images, "frame-ancestors " + " ".join(frame_ancestors)))


def _encode(headers: dict[str, str]) -> list[Header]:
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    ]


class SecurityHeaders:
    """The headers for each kind of path, encoded once; ``add`` is the ``before_send`` hook."""

    def __init__(self, settings: Settings) -> None:
        common = {
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "strict-origin-when-cross-origin",
            "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
        }
        deny = {"X-Frame-Options": "DENY"}
        no_store = {"Cache-Control": "no-store"}
        page = {"Content-Security-Policy": page_csp(settings.base_url, ["'none'"])}
        self.page = _encode(common | page | deny)
        self.editor = _encode(common | page | deny | no_store)
        self.embed = _encode(
            common
            | {
                "Content-Security-Policy": page_csp(
                    settings.base_url, ["'self'", *settings.embed_origins]
                )
            }
        )
        self.api = _encode(common | {"Content-Security-Policy": API_CSP} | deny | no_store)
        self.docs = _encode(common | {"Content-Security-Policy": DOCS_CSP} | deny)

    def for_path(self, path: str) -> list[Header]:
        if path.startswith(EDITOR_PREFIX):
            return self.editor
        if path.startswith(API_PREFIX):
            return self.api
        if path.startswith(DOCS_PREFIX):
            return self.docs
        if path.rstrip("/") == EMBED_PATH:
            return self.embed
        return self.page

    async def add(self, message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = list(message.get("headers", ()))
        present = {bytes(name).lower() for name, _ in headers}
        headers.extend(h for h in self.for_path(scope["path"]) if h[0] not in present)
        message["headers"] = headers


def security_headers_hook(settings: Settings) -> Callable[[Message, Scope], Awaitable[None]]:
    """The ``before_send`` hook for ``Litestar(before_send=[...])``."""
    return SecurityHeaders(settings).add
