"""The plain-text part of an issue, written for reading (not stripped tags).

Built from the same view model as the MJML document and from the markdown-it token
stream of each Markdown body: the title underlined with ``=``, section headings in
capitals, block headings underlined with ``-``, paragraphs wrapped at 72 characters,
lists as ``- `` / ``1. ``, quotes as ``> ``, and links as inline URLs in angle brackets
(``Rapporten <https://…>``) everywhere, so a reader can follow them in any client.
An intro (ingress) is plain paragraphs right after the greeting.
Calendar items are single readable lines: ``fredag 20 september · Tema · Plats · URL``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

from markdown_it.token import Token

from service.issues.markdown import markdown_tokens

WIDTH = 72

# Everything a reader sees in the text part that is not content (Swedish).
MESSAGES = {
    "greeting": "Hej{name}!",
    "image": "[Bild: {alt}]",
    "calendar_empty": "Inga kommande aktiviteter just nu.",
    "view_in_browser": "Visa i webbläsaren",
    "privacy": "Behandling av personuppgifter",
    "why": "Du får det här nyhetsbrevet eftersom du prenumererar på det.",
    "prefs": "Hantera prenumeration",
    "unsubscribe": "Avregistrera",
}


def _wrap(text: str, first: str = "", rest: str = "", width: int = WIDTH) -> list[str]:
    wrapper = textwrap.TextWrapper(
        width=width,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )
    lines: list[str] = []
    for index, part in enumerate(text.split("\n")):
        if index:
            wrapper.initial_indent = rest
        wrapped = wrapper.wrap(part)
        lines.extend(wrapped or [rest.rstrip()])
    return lines


def _link_text(label: str, href: str) -> str:
    label = label.strip()
    bare = href.removeprefix("mailto:")
    for prefix in ("https://", "http://"):
        bare = bare.removeprefix(prefix)
    if not label or label in (href, bare, bare.rstrip("/")):
        return f"<{href}>" if label != href or "://" in href else href
    return f"{label} <{href}>"


def _inline(children: Sequence[Token] | None) -> str:
    out: list[str] = []
    link_stack: list[tuple[str, int]] = []
    for tok in children or ():
        if tok.type in ("text", "code_inline", "html_inline"):
            out.append(tok.content)
        elif tok.type == "softbreak":
            out.append(" ")
        elif tok.type == "hardbreak":
            out.append("\n")
        elif tok.type == "image":
            out.append(tok.content or str(tok.attrGet("alt") or ""))
        elif tok.type == "link_open":
            link_stack.append((str(tok.attrGet("href") or ""), len(out)))
        elif tok.type == "link_close" and link_stack:
            href, start = link_stack.pop()
            label = "".join(out[start:])
            del out[start:]
            out.append(_link_text(label, href))
    return "".join(out)


def markdown_to_text(source: str, width: int = WIDTH) -> str:
    """Readable plain text for a Markdown body (wrapped, lists and quotes kept)."""
    tokens = markdown_tokens(source)
    lines: list[str] = []
    lists: list[list[int]] = []  # [ordered, next number]
    items: list[int] = []  # indent width of each open list item
    marker: str | None = None
    quote = 0
    tight = False
    heading = False
    list_start = False  # the next paragraph opens a top-level list: blank line before it

    def emit(block: list[str], *, compact: bool = False) -> None:
        if lines and not compact:
            lines.append("")
        lines.extend(block)

    def prefixes() -> tuple[str, str]:
        nonlocal marker
        qp = "> " * quote
        indent = " " * sum(items)
        if marker is not None:
            first = qp + " " * sum(items[:-1]) + marker
            marker = None
            return first, qp + indent
        return qp + indent, qp + indent

    for tok in tokens:
        assert isinstance(tok, Token)
        kind = tok.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            start = int(str(tok.attrGet("start") or 1))
            list_start = list_start or not lists
            lists.append([1 if kind == "ordered_list_open" else 0, start])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            if lists:
                lists.pop()
        elif kind == "list_item_open":
            ordered, number = lists[-1] if lists else [0, 1]
            marker = f"{number}. " if ordered else "- "
            if lists and ordered:
                lists[-1][1] += 1
            items.append(len(marker))
        elif kind == "list_item_close":
            if items:
                items.pop()
        elif kind == "blockquote_open":
            quote += 1
        elif kind == "blockquote_close":
            quote = max(0, quote - 1)
        elif kind == "paragraph_open":
            tight, heading = tok.hidden, False
        elif kind == "heading_open":
            tight, heading = False, True
        elif kind == "inline":
            text = _inline(tok.children).strip()
            if not text:
                continue
            first, rest = prefixes()
            block = _wrap(text, first, rest, width)
            if heading:
                block.append(rest + "-" * min(width - len(rest), max(3, len(text))))
            emit(block, compact=tight and bool(items) and not list_start)
            list_start = False
        elif kind in ("fence", "code_block"):
            first, rest = prefixes()
            code = [rest + "    " + line for line in tok.content.rstrip("\n").split("\n")]
            if code:
                code[0] = first + "    " + code[0][len(rest) + 4 :]
            emit(code)
        elif kind == "hr":
            emit(["* * *"])
    return "\n".join(line.rstrip() for line in lines)


def _underline(text: str, char: str) -> list[str]:
    lines = _wrap(text)
    return [*lines, char * min(WIDTH, max(len(line) for line in lines))]


def _block_text(block: dict[str, Any]) -> list[str]:
    kind = block["kind"]
    out: list[str] = []
    if kind == "heading":
        return _wrap(str(block["text"]).upper())
    if kind == "divider":
        return ["* * *"]
    if kind == "intro":
        for index, paragraph in enumerate(block["paragraphs"]):
            if index:
                out.append("")
            out.extend(_wrap(paragraph))
        return out
    heading = str(block.get("heading") or "")
    if heading:
        out.extend(_underline(heading, "-"))
        out.append("")
    if kind == "article":
        # Image, text and link, each only when there (an article may have any of them).
        pieces: list[list[str]] = []
        image = block.get("image")
        if image:
            lines = _wrap(MESSAGES["image"].format(alt=image["alt"]))
            if image.get("caption"):
                lines.extend(_wrap(str(image["caption"])))
            pieces.append(lines)
        body = markdown_to_text(block["body"])
        if body:
            pieces.append([body])
        link = block.get("link")
        if link:
            pieces.append(_wrap(f"{link['label']}: {link['url']}"))
        for index, lines in enumerate(pieces):
            if index:
                out.append("")
            out.extend(lines)
    elif kind == "notice":
        out.append(markdown_to_text(block["body"]))
    elif kind == "cta":
        out.append(markdown_to_text(block["body"]))
        out.append("")
        out.extend(_wrap(f"{block['button_label']}: {block['button_url']}"))
    elif kind == "calendar":
        entries = block.get("items") or []
        if not entries:
            out.append(MESSAGES["calendar_empty"])
        for index, item in enumerate(entries):
            parts = [item["when"], item["title"]]
            if item.get("place"):
                parts.append(item["place"])
            if item.get("link"):
                parts.append(item["link"])
            if index:
                out.append("")
            out.extend(_wrap(" · ".join(parts), "", "  "))
            if item.get("deadline"):
                out.extend(_wrap(item["deadline"], "  ", "  "))
            for note in item.get("notes") or []:
                out.extend(_wrap(f"{note['label']}: {note['url']}", "  ", "  "))
    lines = [line.rstrip() for line in "\n".join(out).split("\n")]
    while lines and not lines[-1]:
        lines.pop()  # a heading-only block ends at its underline
    return lines


def render_text(ctx: dict[str, Any]) -> str:
    """The whole text part for the view model ``ctx`` built by ``service.issues.render``."""
    out: list[str] = [ctx["org_name"], ""]
    out.extend(_underline(ctx["title"], "="))
    out.append(ctx["issue_date_text"])
    out.append("")
    out.append(MESSAGES["greeting"].format(name=ctx["name_placeholder"]))
    for block in ctx["blocks"]:
        out.append("")
        if block["kind"] == "heading":
            out.append("")
        out.extend(_block_text(block))
    out.extend(["", "", "-- "])
    out.extend(_wrap(f"{MESSAGES['view_in_browser']}: {ctx['archive_url']}"))
    out.extend(_wrap(f"{MESSAGES['privacy']}: {ctx['privacy_url']}"))
    out.append("")
    out.extend(_wrap(MESSAGES["why"]))
    out.append(f"{MESSAGES['prefs']}: {ctx['prefs_placeholder']}")
    out.append(f"{MESSAGES['unsubscribe']}: {ctx['unsubscribe_placeholder']}")
    out.append("")
    out.append(ctx["org_name"])
    out.append(ctx["org_address"])
    return "\n".join(out).rstrip() + "\n"
