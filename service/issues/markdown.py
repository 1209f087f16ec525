"""Editor Markdown → sanitised HTML (markdown-it-py + nh3 allow-list).

Links may only be http(s) or mailto; raw HTML in the Markdown is escaped, then the
result is sanitised again so nothing outside the allow-list can reach a mail or page.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "b", "i", "a", "ul", "ol", "li", "blockquote",
    "h3", "h4", "h5", "code", "pre", "hr",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}


def _allowed_link(url: str) -> bool:
    return url.strip().lower().startswith(("http://", "https://", "mailto:"))


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.validateLink = _allowed_link  # type: ignore[method-assign]
    return md


def render_markdown(source: str, *, top_level: int = 3) -> str:
    """Sanitised HTML for ``source``. Never raises on odd Markdown: anything renders.

    Headings in a body are shifted below the block's own heading: ``#`` becomes
    ``<h{top_level}>`` (default h3), deeper levels follow, never beyond h5. An inline
    image becomes its alt text (images belong in the article's image field, where alt
    text and caption are required).
    """
    md = _parser()
    tokens = md.parse(source or "")
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(5, max(3, top_level) + int(token.tag[1:]) - 1)}"
        for child in token.children or ():
            if child.type == "image":
                child.type = "text"
                child.content = "".join(c.content for c in child.children or ()) or child.content
                child.children = None
    html = md.renderer.render(tokens, md.options, {})
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
