"""Helpers for the rendering tests: the mail one recipient gets."""

from __future__ import annotations

from service.issues.message import IssueTemplate, Personal, shown
from service.issues.render import RenderedIssue
from service.settings import Settings


def personalised(
    settings: Settings,
    rendered: RenderedIssue,
    *,
    name: str,
    prefs_url: str,
    unsubscribe_url: str,
) -> tuple[str, str]:
    """``(html, text)`` of the mail one recipient gets, decoded from the real message
    bytes (the same template the worker sends)."""
    template = IssueTemplate.build(settings, rendered.mail_source)
    message = template.message_bytes(
        Personal(
            to="mottagare@example.se",
            message_id="<prov@innanforskapet.test>",
            unsubscribe_url=unsubscribe_url,
            unsubscribe_mailto=None,
            name=name,
            prefs_url=prefs_url,
        )
    )
    parts = shown(message)
    return parts.html, parts.text
