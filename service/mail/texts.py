"""The texts of single mails: Jinja templates under ``templates/mail/<domain>/``.

Each mail is a plain-text template whose first line is ``Ämne: <subject>`` and an HTML
template. The environment is built once per template directory (Jinja keeps the
compiled templates in it); compiling on every mail cost more than the rest of a
confirmation.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from service.mail.compose import ListHeaders, build_message
from service.settings import TEMPLATES_DIR, Settings

SUBJECT_PREFIX = "Ämne:"


@functools.lru_cache(maxsize=4)
def _environment(directory: str) -> Environment:
    return Environment(
        loader=FileSystemLoader(directory),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        keep_trailing_newline=True,
    )


@dataclass(frozen=True)
class MailText:
    subject: str
    text: str
    html: str


def render(settings: Settings, name: str, context: dict[str, Any]) -> MailText:
    """``templates/mail/{name}.txt`` and ``.html`` with the organisation's details."""
    env = _environment(str(TEMPLATES_DIR))
    full = {
        "org_name": settings.org_name,
        "org_address": settings.org_address,
        "base_url": settings.base_url,
        "privacy_url": settings.privacy_url or settings.url("/integritet"),
        **context,
    }
    text = env.get_template(f"mail/{name}.txt").render(full)
    html = env.get_template(f"mail/{name}.html").render(full)
    first, _, rest = text.partition("\n")
    if first.startswith(SUBJECT_PREFIX):
        return MailText(first.removeprefix(SUBJECT_PREFIX).strip(), rest.lstrip("\n"), html)
    return MailText(settings.org_name, text, html)


def build(
    settings: Settings,
    *,
    to: str,
    template: str,
    context: dict[str, Any],
    list_headers: ListHeaders | None = None,
) -> EmailMessage:
    """The message for ``to`` from ``templates/mail/{template}.*``."""
    shown = render(settings, template, context)
    return build_message(
        settings,
        to=to,
        subject=shown.subject,
        text=shown.text,
        html=shown.html,
        list_headers=list_headers,
    )
