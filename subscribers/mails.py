"""Single mails to one subscriber: signup confirmation, address change, welcome.

They are built here and sent through the transactional mail queue
(:mod:`service.mail.queue`). The texts are Jinja templates under
``templates/mail/subscribers/`` (a plain-text and an HTML part each); headers come from
:mod:`service.mail.compose`.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from service.mail.compose import ListHeaders, build_message
from service.settings import TEMPLATES_DIR, Settings


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


def build(
    settings: Settings,
    *,
    to: str,
    template: str,
    context: dict[str, Any],
    list_headers: ListHeaders | None = None,
) -> EmailMessage:
    """Render one mail (for the mail queue: :mod:`service.mail.queue`)."""
    text, html = render(template, context, settings)
    subject, text = subject_of(text)
    return build_message(
        settings, to=to, subject=subject, text=text, html=html, list_headers=list_headers
    )
