"""Validation of ``Block.data`` per kind (the block data contract in the design).

``validate_block(kind, data)`` returns a clean dict with only the known keys, or raises
``ValidationFailed`` with Swedish messages per field. Nothing is stored by this module.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from service.core.text import MULTI_LINE_MESSAGE, SINGLE_LINE_MESSAGE, has_control_chars
from service.db import is_row_id
from service.errors import ValidationFailed
from service.issues.models import BLOCK_KINDS
from service.media.service import check_external_url

MAX_BODY = 20_000
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


async def validate_block(kind: str, data: dict[str, Any] | None) -> dict[str, Any]:
    if kind not in BLOCK_KINDS:
        raise ValidationFailed("Okänd blocktyp.", fields={"kind": "okänd blocktyp"})
    data = data if isinstance(data, dict) else {}
    errors: dict[str, str] = {}
    clean: dict[str, Any]
    if kind == "article":
        clean = {
            "heading": _text(errors, data, "heading", maximum=200, required=True),
            "body": _markdown(errors, data, "body"),
            "image": None,
            "link": None,
        }
        image = data.get("image")
        if isinstance(image, dict) and _str(image, "src"):
            src = _str(image, "src")
            if not _MEDIA_SRC.match(src):
                try:
                    src = await check_external_url(src, field="image.src")
                except ValidationFailed as exc:
                    errors.update(exc.fields)
            alt = _str(image, "alt")
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
        raw_ids = data.get("item_ids") or []
        if isinstance(raw_ids, str):
            raw_ids = [part for part in re.split(r"[\s,]+", raw_ids) if part]
        item_ids: list[int] = []
        try:
            item_ids = [int(x) for x in raw_ids]
        except (TypeError, ValueError, OverflowError):
            errors["item_ids"] = "Ange kalenderpunkternas nummer."
        if not all(is_row_id(x) for x in item_ids):
            errors["item_ids"] = "Ange kalenderpunkternas nummer."
        if mode == "selected" and not item_ids and "item_ids" not in errors:
            errors["item_ids"] = "Välj minst en kalenderpunkt."
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


def block_data_from_form(kind: str, form: dict[str, str]) -> dict[str, Any]:
    """Flat form fields → the nested block data (validated afterwards)."""

    def get(key: str) -> str:
        return (form.get(key) or "").strip()

    if kind == "article":
        return {
            "heading": get("heading"),
            "body": form.get("body") or "",
            "image": {
                "src": get("image_src"),
                "alt": get("image_alt"),
                "caption": get("image_caption"),
            }
            if get("image_src")
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
        return {
            "heading": get("heading"),
            "mode": get("mode"),
            "item_ids": get("item_ids"),
            "limit": get("limit") or "5",
        }
    if kind == "heading":
        return {"text": get("text")}
    return {}
