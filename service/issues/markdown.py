"""Editor Markdown → sanitised HTML (markdown-it-py + nh3 allow-list).

Links may only be http(s) or mailto; raw HTML in the Markdown is escaped, then the
result is sanitised again so nothing outside the allow-list can reach a mail or page.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "b", "i", "a", "ul", "ol", "li", "blockquote",
    "h3", "h4", "code", "pre", "hr",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}


def _allowed_link(url: str) -> bool:
    return url.strip().lower().startswith(("http://", "https://", "mailto:"))


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.validateLink = _allowed_link  # type: ignore[method-assign]
    return md


def render_markdown(source: str) -> str:
    """Sanitised HTML for ``source``. Never raises on odd Markdown: anything renders."""
    html = _parser().render(source or "")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer",
    )


def markdown_tokens(source: str) -> list[object]:
    """The parsed token stream, for writing the plain-text part."""
    return list(_parser().parse(source or ""))
