"""Validation of ``Block.data`` per kind (the block data contract in the design).

``validate_block(kind, data)`` returns a clean dict with only the known keys, or raises
``ValidationFailed`` with Swedish messages per field. Nothing is stored by this module.
Given the request's ``session`` it also checks what the data refers to: chosen calendar
items must exist, a ``/media/`` image must be in the library, and a library image without
an alternative text gets the one it was last given (:mod:`service.issues.pickers`).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from service.core.text import MULTI_LINE_MESSAGE, SINGLE_LINE_MESSAGE, has_control_chars
from service.db import is_row_id
from service.errors import ValidationFailed
from service.issues import pickers
from service.issues.models import BLOCK_KINDS
from service.issues.text import markdown_to_text
from service.media.service import check_external_url

MAX_BODY = 20_000
MAX_INTRO = 1_000
TITLE_WORDS = 8
_BAD_MD_LINK = re.compile(r"\]\(\s*<?\s*(javascript|data|vbscript|file)\s*:", re.IGNORECASE)
_MEDIA_SRC = re.compile(r"^/media/[0-9a-f]{64}\.(png|jpg|gif|webp)$")


def _str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        return str(value)
    return value.strip()


def _text(
    errors: dict[str, str],
    data: dict[str, Any],
    key: str,
    *,
    maximum: int,
    required: bool = False,
    default: str = "",
) -> str:
    value = _str(data, key) or default
    if required and not value:
        errors[key] = "Fältet får inte vara tomt."
    elif len(value) > maximum:
        errors[key] = f"Högst {maximum} tecken (nu {len(value)})."
    elif has_control_chars(value):
        errors[key] = SINGLE_LINE_MESSAGE
    return value


def _count(n: int) -> str:
    """``n`` as Swedish writes it: 5 242 880 (no-break spaces between the thousands)."""
    return f"{n:,}".replace(",", "\u00a0")


def _markdown(errors: dict[str, str], data: dict[str, Any], key: str) -> str:
    value = _str(data, key)
    if len(value) > MAX_BODY:
        errors[key] = f"Texten är för lång: {_count(len(value))} tecken, högst {_count(MAX_BODY)}."
    elif has_control_chars(value, multiline=True):
        errors[key] = MULTI_LINE_MESSAGE
    elif _BAD_MD_LINK.search(value):
        errors[key] = "En länk i texten måste börja med http://, https:// eller mailto:."
    return value


def is_link_url(url: str, *, mailto: bool = True) -> bool:
    parts = urlsplit(url)
    if parts.scheme.lower() in ("http", "https"):
        return bool(parts.netloc)
    return mailto and parts.scheme.lower() == "mailto" and bool(parts.path)


def _url(errors: dict[str, str], key: str, value: str, *, mailto: bool) -> str:
    if len(value) > 1000:
        errors[key] = "Länken är för lång."
    elif has_control_chars(value):
        errors[key] = "Länken innehåller otillåtna tecken."
    elif not is_link_url(value, mailto=mailto):
        allowed = "http://, https:// eller mailto:" if mailto else "http:// eller https://"
        errors[key] = f"Länken måste börja med {allowed}."
    return value


def _intro(errors: dict[str, str], data: dict[str, Any]) -> str:
    """Plain text (no Markdown): paragraphs separated by a blank line."""
    value = "\n".join(line.rstrip() for line in _str(data, "body").splitlines()).strip()
    if not value:
        errors["body"] = "Skriv ingressen."
    elif len(value) > MAX_INTRO:
        errors["body"] = f"Ingressen är för lång (högst {MAX_INTRO} tecken, nu {len(value)})."
    elif has_control_chars(value, multiline=True):
        errors["body"] = MULTI_LINE_MESSAGE
    return value


async def validate_block(
    kind: str, data: dict[str, Any] | None, *, session: AsyncSession | None = None
) -> dict[str, Any]:
    if kind not in BLOCK_KINDS:
        raise ValidationFailed("Okänd blocktyp.", fields={"kind": "okänd blocktyp"})
    data = data if isinstance(data, dict) else {}
    errors: dict[str, str] = {}
    clean: dict[str, Any]
    if kind == "intro":
        clean = {"body": _intro(errors, data)}
    elif kind == "article":
        clean = {
            "heading": _text(errors, data, "heading", maximum=200),
            "body": _markdown(errors, data, "body"),
            "image": None,
            "link": None,
        }
        image = data.get("image")
        if isinstance(image, dict) and _str(image, "src"):
            src = _str(image, "src")
            alt = _str(image, "alt")
            if not _MEDIA_SRC.match(src):
                try:
                    src = await check_external_url(src, field="image.src")
                except ValidationFailed as exc:
                    errors["image.src"] = exc.message  # the sentence that says why
            elif session is not None:
                if not await pickers.in_library(session, src):
                    errors["image.src"] = "Bilden finns inte i bildbiblioteket."
                elif not alt:
                    alt = await pickers.library_alt(session, src)
            if not alt:
                errors["image.alt"] = "En bild måste ha en alternativtext."
            elif len(alt) > 300:
                errors["image.alt"] = "Högst 300 tecken."
            elif has_control_chars(alt):
                errors["image.alt"] = SINGLE_LINE_MESSAGE
            caption = _str(image, "caption")
            if len(caption) > 300:
                errors["image.caption"] = "Högst 300 tecken."
            elif has_control_chars(caption):
                errors["image.caption"] = SINGLE_LINE_MESSAGE
            clean["image"] = {"src": src, "alt": alt, "caption": caption}
        link = data.get("link")
        if isinstance(link, dict) and _str(link, "url"):
            url = _url(errors, "link.url", _str(link, "url"), mailto=True)
            label = _str(link, "label") or "Läs mer"
            if len(label) > 80:
                errors["link.label"] = "Högst 80 tecken."
            elif has_control_chars(label):
                errors["link.label"] = SINGLE_LINE_MESSAGE
            clean["link"] = {"url": url, "label": label}
        if not (clean["heading"] or clean["body"] or clean["image"]) and not errors:
            errors["body"] = "Artikeln är tom: skriv en rubrik eller en text, eller välj en bild."
    elif kind == "notice":
        clean = {
            "heading": _text(errors, data, "heading", maximum=200),
            "body": _markdown(errors, data, "body"),
        }
        if not clean["heading"] and not clean["body"]:
            errors["body"] = "Skriv en rubrik eller en text."
    elif kind == "cta":
        clean = {
            "heading": _text(errors, data, "heading", maximum=200),
            "body": _markdown(errors, data, "body"),
            "button_label": _text(errors, data, "button_label", maximum=80, required=True),
            "button_url": _url(errors, "button_url", _str(data, "button_url"), mailto=False),
        }
    elif kind == "calendar":
        mode = _str(data, "mode") or "upcoming"
        if mode not in ("upcoming", "selected"):
            errors["mode"] = "Välj kommande eller utvalda punkter."
        raw_ids = pickers.split_ids(data.get("item_ids") or [])
        item_ids: list[int] = []
        try:
            item_ids = [int(x) for x in raw_ids]
        except (TypeError, ValueError, OverflowError):
            errors["item_ids"] = "Ange kalenderpunkternas nummer."
        if not all(is_row_id(x) for x in item_ids):
            errors["item_ids"] = "Ange kalenderpunkternas nummer."
        if mode == "selected" and not item_ids and "item_ids" not in errors:
            errors["item_ids"] = "Välj minst en kalenderpunkt."
        if session is not None and item_ids and "item_ids" not in errors:
            missing = await pickers.missing_items(session, item_ids)
            if missing:
                numbers = ", ".join(str(i) for i in missing)
                errors["item_ids"] = (
                    f"Det finns ingen kalenderpunkt med nummer {numbers} (den kan ha tagits "
                    "bort). Välj bland punkterna i listan."
                )
        try:
            limit = int(data.get("limit") or 5)
        except (TypeError, ValueError, OverflowError):
            limit = 0
        if not 1 <= limit <= 20:
            errors["limit"] = "Antalet ska vara 1–20."
        clean = {
            "heading": _text(errors, data, "heading", maximum=200, default="Kalendarium"),
            "mode": mode,
            "item_ids": item_ids,
            "limit": limit,
        }
    elif kind == "divider":
        clean = {}
    else:  # heading
        clean = {"text": _text(errors, data, "text", maximum=200, required=True)}
    if errors:
        raise ValidationFailed("Blocket innehåller fel. Rätta de markerade fälten.", fields=errors)
    return clean


def block_data_from_form(kind: str, form: dict[str, Any]) -> dict[str, Any]:
    """Flat form fields → the nested block data (validated afterwards).

    The article's image is the address typed in ``image_src`` if there is one, else the
    library image chosen in ``image_media``; the calendar's ``item_ids`` are the ticked
    checkboxes (a list; the handler collects every value)."""

    def get(key: str) -> str:
        value = form.get(key)
        return value.strip() if isinstance(value, str) else ""

    if kind == "intro":
        return {"body": form.get("body") or ""}
    if kind == "article":
        src = get("image_src") or get("image_media")
        return {
            "heading": get("heading"),
            "body": form.get("body") or "",
            "image": {"src": src, "alt": get("image_alt"), "caption": get("image_caption")}
            if src
            else None,
            "link": {"url": get("link_url"), "label": get("link_label")}
            if get("link_url")
            else None,
        }
    if kind in ("notice", "cta"):
        data: dict[str, Any] = {"heading": get("heading"), "body": form.get("body") or ""}
        if kind == "cta":
            data.update(button_label=get("button_label"), button_url=get("button_url"))
        return data
    if kind == "calendar":
        item_ids = form.get("item_ids")
        return {
            "heading": get("heading"),
            "mode": get("mode"),
            "item_ids": item_ids if isinstance(item_ids, list | str) else [],
            "limit": get("limit") or "5",
        }
    if kind == "heading":
        return {"text": get("text")}
    return {}


def first_words(text: str, count: int = TITLE_WORDS) -> str:
    """The first ``count`` words of ``text``, with "…" when there are more."""
    words = text.split()
    return " ".join(words[:count]) + ("…" if len(words) > count else "")


def block_title(kind: str, data: dict[str, Any] | None) -> str:
    """What the editor's block list shows after the kind: the heading, or for a block
    without one (an intro, an article with only a text) the first words of its text."""
    data = data if isinstance(data, dict) else {}
    if kind == "heading":
        return _str(data, "text")
    if kind == "intro":
        return first_words(_str(data, "body"))
    heading = _str(data, "heading")
    if heading or kind not in ("article", "notice", "cta"):
        return heading
    text = markdown_to_text(_str(data, "body"))
    if text:
        return first_words(text)
    image = data.get("image")
    return _str(image, "alt") if isinstance(image, dict) else ""
