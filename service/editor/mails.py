"""The mail that carries a one-time set-password link to an editor.

Texts are Jinja templates under ``templates/mail/editor/`` (plain text with an
``Ämne:`` first line, and HTML); headers and sending as for every single mail
(:mod:`service.mail.compose`), sent through the transactional mail queue.
"""

from __future__ import annotations

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.ext.asyncio import AsyncSession

from service.calendar.format import local
from service.editor.service import IssuedLink
from service.mail import queue as mailqueue
from service.mail.compose import build_message
from service.settings import TEMPLATES_DIR, Settings


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


def queue_password_link(
    session: AsyncSession, settings: Settings, link: IssuedLink, *, new_account: bool
) -> None:
    """Queue the mail with the link (sent after the caller commits, with the link)."""
    subject, text, html = render_password_link(settings, link, new_account=new_account)
    message = build_message(settings, to=link.editor.email, subject=subject, text=text, html=html)
    mailqueue.enqueue(session, message, kind="password-link", editor_id=link.editor.id)
