"""Single mails to one subscriber: signup confirmation, address change, welcome.

The texts are Jinja templates under ``templates/mail/subscribers/`` (a plain-text and an
HTML part each); headers come from :mod:`service.mail.compose`.
"""

from __future__ import annotations

import logging
from typing import Any

import aiosmtplib
from jinja2 import Environment, FileSystemLoader, select_autoescape

from service.mail.compose import ListHeaders, build_message, to_bytes
from service.mail.transport import Transport
from service.settings import TEMPLATES_DIR, Settings

log = logging.getLogger("innanforskapet.subscribers")


def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        keep_trailing_newline=True,
    )


def render(name: str, context: dict[str, Any], settings: Settings) -> tuple[str, str]:
    """``(text, html)`` of ``templates/mail/subscribers/{name}.txt`` / ``.html``."""
    env = _environment()
    full = {
        "org_name": settings.org_name,
        "org_address": settings.org_address,
        "base_url": settings.base_url,
        "privacy_url": settings.privacy_url or settings.url("/integritet"),
        **context,
    }
    text = env.get_template(f"mail/subscribers/{name}.txt").render(full)
    html = env.get_template(f"mail/subscribers/{name}.html").render(full)
    return text, html


def subject_of(text: str) -> tuple[str, str]:
    """The first line ``Ämne: ...`` of a text template is the subject; the rest the body."""
    first, _, rest = text.partition("\n")
    if first.startswith("Ämne:"):
        return first.removeprefix("Ämne:").strip(), rest.lstrip("\n")
    return "Innanförskapet", text


async def send(
    settings: Settings,
    transport: Transport,
    *,
    to: str,
    template: str,
    context: dict[str, Any],
    list_headers: ListHeaders | None = None,
) -> bool:
    """Render and send one mail; returns whether the transport accepted it."""
    text, html = render(template, context, settings)
    subject, text = subject_of(text)
    msg = build_message(
        settings, to=to, subject=subject, text=text, html=html, list_headers=list_headers
    )
    try:
        result = await transport.send(settings.sender_address.addr_spec, [to], to_bytes(msg))
    except (OSError, aiosmtplib.SMTPException) as exc:
        log.warning("mail %s could not be sent: %s", template, exc)
        return False
    if not result.all_ok:
        codes = [r.code for r in result.per_recipient.values()]
        log.warning("mail %s was not accepted (codes %s)", template, codes)
        return False
    return True
