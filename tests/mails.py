"""Reading a mail the service sent: its plain-text and HTML bodies."""

from __future__ import annotations

from email.message import EmailMessage


def _body(msg: EmailMessage, subtype: str) -> str:
    part = msg.get_body(preferencelist=(subtype,))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


def text_of(msg: EmailMessage) -> str:
    """The text/plain body."""
    return _body(msg, "plain")


def html_of(msg: EmailMessage) -> str:
    """The text/html body."""
    return _body(msg, "html")
