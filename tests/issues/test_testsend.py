"""Test sends through a real SMTP server: the mail as subscribers get it, marked [TEST]."""

from __future__ import annotations

import email
import email.policy
from email.header import decode_header, make_header
from email.message import EmailMessage

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.core.models import AuditEntry
from service.errors import ValidationFailed
from service.issues import testsend
from service.issues.render import render_issue
from service.mail.models import QueuedMail
from service.settings import Settings
from tests.conftest import drain_mail_queue
from tests.factories import make_issue
from tests.smtp import SmtpServer

SUBJECT = "Nyhetsbrev för Åsa: välfärd, samverkan & ”innanförskap” i Halland – höst 2019"


async def _send(
    session: AsyncSession, settings: Settings, smtp: SmtpServer, addresses: list[str]
) -> tuple[int, list[QueuedMail]]:
    """Queue a test send, commit, and let the worker send it through ``smtp``."""
    issue = await make_issue(session, slug="provnummer", title=SUBJECT, subject=SUBJECT)
    issue_id = issue.id
    rows = await testsend.test_send(
        session, settings, issue_id, addresses, actor="redaktor@test.se"
    )
    await session.commit()
    await drain_mail_queue(settings.with_overrides(smtp_url=smtp.url))
    for row in rows:
        await session.refresh(row)
    return issue_id, rows


async def test_test_send_arrives_as_multipart_alternative(
    session: AsyncSession, settings: Settings, smtp_server: SmtpServer
) -> None:
    issue_id, rows = await _send(
        session,
        settings,
        smtp_server,
        ["  Redaktor@Example.SE ", "redaktor@example.se", "b@example.se"],
    )
    assert [(r.recipient, r.state) for r in rows] == [
        ("redaktor@example.se", "sent"),
        ("b@example.se", "sent"),
    ]
    received = smtp_server.received
    assert [r.rcpt_tos for r in received] == [["redaktor@example.se"], ["b@example.se"]]
    raw = received[0].data
    assert b"\n\xc3" not in raw.split(b"\r\n\r\n", 1)[0]  # headers are 7-bit
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    raw_subject = email.message_from_bytes(raw)["Subject"]
    assert "=?utf-8?" in raw_subject.lower()
    assert str(make_header(decode_header(raw_subject))) == "[TEST] " + SUBJECT
    assert msg["Subject"] == "[TEST] " + SUBJECT
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    text, html = (p.get_content() for p in parts)  # type: ignore[attr-defined]
    assert "Hej Exempel Exempelsson!" in text and "Hej Exempel Exempelsson!" in html
    assert "EXEMPEL-provutskick" in text and "%%" not in text + html
    assert msg["Precedence"] == "bulk"
    assert msg["List-Id"].endswith("<nyhetsbrev.innanforskapet.test>")
    assert "EXEMPEL" in msg["List-Unsubscribe"]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Feedback-ID"] == "provnummer:nyhetsbrev:innanforskapet"
    entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "issue.test_send"))
    assert entry is not None and entry.actor == "redaktor@test.se"
    assert entry.object_id == str(issue_id)
    assert entry.detail["queued"] == ["redaktor@example.se", "b@example.se"]


@pytest.mark.parametrize(
    ("addresses", "message"),
    [
        ([], "Ange minst en e-postadress"),
        (["  "], "Ange minst en e-postadress"),
        (["inte en adress"], "”inte en adress”"),
        (["a@example.se", "b@example.se\r\nBcc: x@evil.se"], "b@example.se"),
        ([f"p{i}@example.se" for i in range(6)], "högst 5"),
    ],
)
async def test_bad_addresses_are_refused(
    session: AsyncSession,
    settings: Settings,
    smtp_server: SmtpServer,
    addresses: list[str],
    message: str,
) -> None:
    with pytest.raises(ValidationFailed) as info:
        await _send(session, settings, smtp_server, addresses)
    assert message in info.value.message
    assert "addresses" in info.value.fields
    assert smtp_server.received == []


async def test_refused_by_the_server_is_shown_with_the_reason(
    session: AsyncSession, settings: Settings, smtp_server: SmtpServer
) -> None:
    smtp_server.refuse_recipient("nej@example.se", "550 5.1.1 No such user")
    issue_id, rows = await _send(
        session, settings, smtp_server, ["nej@example.se", "ja@example.se"]
    )
    assert [(r.recipient, r.state, r.last_reply) for r in rows] == [
        ("nej@example.se", "failed", "550 5.1.1 No such user"),
        ("ja@example.se", "sent", "250 accepted"),
    ]
    shown = await testsend.recent(session, issue_id)
    assert [r.recipient for r in shown] == ["ja@example.se", "nej@example.se"]  # newest first


async def test_preview_shows_sample_mail_and_decoded_headers(
    session: AsyncSession, settings: Settings
) -> None:
    issue = await make_issue(session, slug="provnummer", title=SUBJECT, subject=SUBJECT)
    shown = testsend.preview(settings, await render_issue(session, settings, issue.id))
    headers = dict(shown.headers)
    assert headers["Subject"] == SUBJECT
    assert headers["To"] == testsend.PREVIEW_ADDRESS
    assert headers["Precedence"] == "bulk"
    assert "List-Unsubscribe-Post" in headers
    assert "Hej Exempel Exempelsson!" in shown.html and "Hej Exempel Exempelsson!" in shown.text
    assert "%%" not in shown.html + shown.text
