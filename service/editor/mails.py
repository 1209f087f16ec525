"""The mail that carries a one-time set-password link to an editor.

Texts are Jinja templates under ``templates/mail/editor/`` (plain text with an
``Ämne:`` first line, and HTML); headers and sending as for every single mail
(:mod:`service.mail.compose`, the app's transport).
"""

from __future__ import annotations

import logging

import aiosmtplib
from jinja2 import Environment, FileSystemLoader, select_autoescape

from service.calendar.format import local
from service.editor.service import IssuedLink
from service.mail.compose import build_message, to_bytes
from service.mail.transport import Transport
from service.settings import TEMPLATES_DIR, Settings

log = logging.getLogger("innanforskapet.editor")


def render_password_link(
    settings: Settings, link: IssuedLink, *, new_account: bool
) -> tuple[str, str, str]:
    """``(subject, text, html)`` of the set-password mail."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        keep_trailing_newline=True,
    )
    context = {
        "org_name": settings.org_name,
        "name": link.editor.name,
        "email": link.editor.email,
        "url": settings.url(link.path),
        "login_url": settings.url("/redaktion/logga-in"),
        "expires": f"{local(link.expires_at):%Y-%m-%d %H:%M}",
        "new_account": new_account,
    }
    text = env.get_template("mail/editor/password_link.txt").render(context)
    html = env.get_template("mail/editor/password_link.html").render(context)
    first, _, body = text.partition("\n")
    return first.removeprefix("Ämne:").strip(), body.lstrip("\n"), html


async def send_password_link(
    settings: Settings, transport: Transport, link: IssuedLink, *, new_account: bool
) -> bool:
    """Mail the link to the editor; returns whether the transport accepted it."""
    subject, text, html = render_password_link(settings, link, new_account=new_account)
    msg = build_message(settings, to=link.editor.email, subject=subject, text=text, html=html)
    try:
        result = await transport.send(
            settings.sender_address.addr_spec, [link.editor.email], to_bytes(msg)
        )
    except (OSError, aiosmtplib.SMTPException) as exc:
        log.warning("password link mail could not be sent: %s", exc)
        return False
    if not result.all_ok:
        log.warning("password link mail was not accepted: %s", result.per_recipient)
        return False
    return True
