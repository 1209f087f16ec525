"""The mail that carries a one-time set-password link to an editor.

Texts are Jinja templates under ``templates/mail/editor/`` (plain text with an
``Ämne:`` first line, and HTML); headers and sending as for every single mail
(:mod:`service.mail.compose`), sent through the transactional mail queue.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from service.core.dates import local
from service.editor.service import IssuedLink
from service.mail import queue as mailqueue
from service.mail import texts
from service.settings import Settings


def queue_password_link(
    session: AsyncSession, settings: Settings, link: IssuedLink, *, new_account: bool
) -> None:
    """Queue the mail with the link (sent after the caller commits, with the link)."""
    message = texts.build(
        settings,
        to=link.editor.email,
        template="editor/password_link",
        context={
            "name": link.editor.name,
            "email": link.editor.email,
            "url": settings.url(link.path),
            "login_url": settings.url("/redaktion/logga-in"),
            "expires": f"{local(link.expires_at):%Y-%m-%d %H:%M}",
            "new_account": new_account,
        },
    )
    mailqueue.enqueue(session, message, kind="password-link", editor_id=link.editor.id)
