"""Bounces and complaints fed over real SMTP to the ``bounces listen`` server."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import aiosmtplib
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.delivery import service as delivery
from service.delivery import verp
from service.delivery.bounces import make_listener
from service.delivery.models import BounceEvent, Delivery
from service.settings import Settings
from subscribers import links
from subscribers.models import Subscriber, Subscription
from subscribers.suppression import is_suppressed
from tests.conftest import free_port, make_settings
from tests.delivery.helpers import drain
from tests.factories import add_subscribers, make_issue
from tests.smtp import SmtpServer


def dsn(original_message_id: str, recipient: str, status: str, action: str) -> bytes:
    """A delivery status notification; like a real one, each has its own Message-ID."""
    return (
        f"Message-ID: <{uuid.uuid4().hex}@mx.exempel.se>\r\n"
        "From: MAILER-DAEMON@mx.exempel.se\r\n"
        "To: bounce@innanforskapet.test\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.exempel.se\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Action: {action}\r\nStatus: {status}\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n"
        "\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {original_message_id}\r\nSubject: Nyhetsbrev\r\n"
        "\r\n--B--\r\n"
    ).encode()


def arf(original_message_id: str, recipient: str) -> bytes:
    return (
        f"Message-ID: <{uuid.uuid4().hex}@isp.exempel.se>\r\n"
        "From: fbl@isp.exempel.se\r\n"
        "To: fbl@innanforskapet.test\r\n"
        "Subject: Abuse report\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="F"\r\n'
        "\r\n--F\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n"
        "\r\n--F\r\nContent-Type: message/feedback-report\r\n\r\n"
        "Feedback-Type: abuse\r\nUser-Agent: ISP-FBL/1.0\r\nVersion: 1\r\n"
        f"Original-Rcpt-To: {recipient}\r\n"
        "\r\n--F\r\nContent-Type: message/rfc822\r\n\r\n"
        f"Message-ID: {original_message_id}\r\nFrom: nyhetsbrev@innanforskapet.test\r\n"
        f"To: {recipient}\r\nSubject: Nyhetsbrev\r\n\r\nHej!\r\n"
        "\r\n--F--\r\n"
    ).encode()


@dataclass(frozen=True)
class Person:
    id: int
    email: str
    token_version: int


@dataclass(frozen=True)
class Row:
    id: int
    message_id: str


async def sent_issue(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer, session: AsyncSession, n: int
) -> tuple[Settings, list[Person], list[Row]]:
    settings = make_settings(tmp_path, db_url, INNAN_SMTP_URL=smtp_server.url)
    people = await add_subscribers(session, n)
    issue = await make_issue(session)
    await delivery.start_send(session, settings, issue.id, at=None, actor="test")
    await session.commit()
    await drain(settings)
    rows = [
        Row(int(a), str(b))
        for a, b in await session.execute(
            select(Delivery.id, Delivery.message_id).order_by(Delivery.subscriber_id)
        )
    ]
    persons = [Person(p.id, p.email, p.token_version) for p in people]
    return settings, persons, rows


async def feed(settings: Settings, rcpt: str, data: bytes) -> None:
    port = free_port()
    listener = make_listener(settings, "127.0.0.1", port)
    listener.start()
    try:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port)
        await client.connect()
        await client.sendmail("", [rcpt], data)
        await client.quit()
    finally:
        listener.stop()


async def test_dsn_hard_bounce_to_verp_address_suppresses(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer, session: AsyncSession
) -> None:
    settings, people, rows = await sent_issue(tmp_path, db_url, smtp_server, session, 2)
    target = rows[0]
    return_path = verp.return_path(settings, target.id)
    assert any(r.mail_from == return_path for r in smtp_server.received)
    await feed(settings, return_path, dsn(target.message_id, people[0].email, "5.1.1", "failed"))
    await session.commit()
    session.expire_all()
    person = (
        await session.execute(select(Subscriber).where(Subscriber.id == people[0].id))
    ).scalar_one()
    assert person.status == "bounced"
    assert person.hard_bounces == 1
    assert await is_suppressed(session, settings, people[0].email)
    state = (await session.execute(select(Delivery.state).where(Delivery.id == target.id))).scalar()
    assert state == "bounced"
    other = (
        await session.execute(select(Subscriber.status).where(Subscriber.id == people[1].id))
    ).scalar()
    assert other == "active"


async def test_soft_bounce_is_counted_only(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer, session: AsyncSession
) -> None:
    settings, people, rows = await sent_issue(tmp_path, db_url, smtp_server, session, 1)
    await feed(
        settings,
        verp.return_path(settings, rows[0].id),
        dsn(rows[0].message_id, people[0].email, "4.2.2", "delayed"),
    )
    await session.commit()
    session.expire_all()
    person = (await session.execute(select(Subscriber))).scalar_one()
    assert (person.status, person.soft_bounces) == ("active", 1)
    assert not await is_suppressed(session, settings, people[0].email)


async def test_arf_complaint_suppresses(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer, session: AsyncSession
) -> None:
    settings, people, rows = await sent_issue(tmp_path, db_url, smtp_server, session, 2)
    await feed(settings, "fbl@innanforskapet.test", arf(rows[1].message_id, people[1].email))
    await session.commit()
    session.expire_all()
    person = (
        await session.execute(select(Subscriber).where(Subscriber.id == people[1].id))
    ).scalar_one()
    assert person.status == "bounced"
    assert await is_suppressed(session, settings, people[1].email)
    kinds = [k for (k,) in await session.execute(select(BounceEvent.kind))]
    assert kinds == ["complaint"]


async def test_hard_bounces_below_threshold_do_not_suppress_and_one_mail_counts_once(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer, session: AsyncSession
) -> None:
    # The second feed is the same mail again, as when a sending MTA retries because our
    # 250 got lost after the commit: still one hard bounce, below the threshold of two.
    settings, people, rows = await sent_issue(tmp_path, db_url, smtp_server, session, 1)
    settings = settings.with_overrides(bounce_threshold=2)
    report = dsn(rows[0].message_id, people[0].email, "5.1.1", "failed")
    await feed(settings, verp.return_path(settings, rows[0].id), report)
    await feed(settings, verp.return_path(settings, rows[0].id), report)
    await session.commit()
    session.expire_all()
    person = (await session.execute(select(Subscriber))).scalar_one()
    assert (person.status, person.hard_bounces) == ("active", 1)
    assert not await is_suppressed(session, settings, people[0].email)
    assert [k for (k,) in await session.execute(select(BounceEvent.kind))] == ["hard"]
    # A second, different report for the same address counts and reaches the threshold.
    await feed(
        settings,
        verp.return_path(settings, rows[0].id),
        dsn(rows[0].message_id, people[0].email, "5.1.1", "failed"),
    )
    assert await is_suppressed(session, settings, people[0].email)


async def test_mailto_unsubscribe_and_forged_token(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer, session: AsyncSession
) -> None:
    settings, people, _rows = await sent_issue(tmp_path, db_url, smtp_server, session, 2)
    mailto = links.unsubscribe_mailto(settings, people[0].id, people[0].token_version)
    subject = mailto.split("subject=", 1)[1].replace("%20", " ")
    message = (
        f"From: {people[0].email}\r\nTo: unsubscribe@innanforskapet.test\r\n"
        f"Subject: {subject}\r\n\r\n\r\n"
    ).encode()
    await feed(settings, "unsubscribe@innanforskapet.test", message)
    forged = (
        f"From: {people[1].email}\r\nTo: unsubscribe@innanforskapet.test\r\n"
        "Subject: unsubscribe WzIsMV0.forged\r\n\r\n\r\n"
    ).encode()
    await feed(settings, "unsubscribe@innanforskapet.test", forged)
    await session.commit()
    session.expire_all()
    statuses = {
        int(sid): str(st)
        for sid, st in await session.execute(
            select(Subscription.subscriber_id, Subscription.status)
        )
    }
    assert statuses[people[0].id] == "unsubscribed"
    assert statuses[people[1].id] == "active"


async def test_listener_refuses_other_domains(tmp_path: Path, db_url: str) -> None:
    settings = make_settings(tmp_path, db_url)
    port = free_port()
    listener = make_listener(settings, "127.0.0.1", port)
    listener.start()
    try:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port)
        await client.connect()
        try:
            await client.sendmail("", ["someone@elsewhere.example"], b"Subject: x\r\n\r\nx\r\n")
            raised = False
        except aiosmtplib.SMTPRecipientsRefused:
            raised = True
        await client.quit()
    finally:
        listener.stop()
    assert raised
