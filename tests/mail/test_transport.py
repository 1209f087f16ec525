"""Composing a mail and handing it to a transport: header injection, outbox, SMTP replies."""

from __future__ import annotations

import pytest

from service.mail.compose import HeaderInjection, build_message, to_bytes
from service.mail.transport import OutboxTransport, SmtpEndpoint, SmtpTransport
from service.settings import Settings
from tests.conftest import outbox_messages
from tests.smtp import SmtpServer


def test_header_injection_rejected(settings: Settings) -> None:
    with pytest.raises(HeaderInjection):
        build_message(settings, to="a@example.se", subject="Hej\r\nBcc: x@y.se", text="t")


async def test_outbox_writes_one_eml_per_mail(settings: Settings) -> None:
    msg = build_message(settings, to="anna@example.se", subject="Välkommen å ä ö", text="Hej")
    result = await OutboxTransport(settings.outbox_dir).send(
        "bounce@innanforskapet.test", ["anna@example.se"], to_bytes(msg)
    )
    assert result.all_ok
    files = outbox_messages(settings)
    assert len(files) == 1
    assert b"=?utf-8?" in files[0]


async def test_smtp_transport_reports_per_recipient(
    settings: Settings, smtp_server: SmtpServer
) -> None:
    smtp_server.refuse_recipient("nej@example.se")
    transport = SmtpTransport(SmtpEndpoint.from_url(smtp_server.url), pool_size=1)
    msg = to_bytes(build_message(settings, to="ja@example.se", subject="Test", text="Hej"))
    result = await transport.send("b@innanforskapet.test", ["ja@example.se", "nej@example.se"], msg)
    assert result.per_recipient["ja@example.se"].ok
    assert result.per_recipient["nej@example.se"].permanent
    smtp_server.fail_next_data("451 4.3.0 Försök senare")
    again = await transport.send("b@innanforskapet.test", ["ja@example.se"], msg)
    assert again.per_recipient["ja@example.se"].temporary
    await transport.close()
    assert len(smtp_server.received) == 1
    assert smtp_server.received[0].message["Subject"] == "Test"
