"""The delivery pipeline against a real aiosmtpd server, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections import Counter
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import create_engine, create_session_factory
from service.delivery import service as delivery
from service.delivery.models import Delivery
from service.delivery.worker import Worker, WorkerConfig
from service.errors import ValidationFailed
from service.issues.models import Issue
from service.mail.compose import to_bytes
from service.mail.transport import make_transport
from service.settings import Settings
from subscribers import links
from subscribers import service as subscribers_service
from subscribers.models import Subscription
from subscribers.suppression import suppress
from tests.conftest import free_port, make_settings
from tests.delivery.helpers import drain
from tests.factories import add_subscribers, make_issue, newsletter_list
from tests.mail.dkimkeys import make_key
from tests.smtp import SmtpServer


def smtp_settings(tmp_path: Path, db_url: str, server: SmtpServer, **env: str) -> Settings:
    return make_settings(tmp_path, db_url, INNAN_SMTP_URL=server.url, **env)


async def states(session: AsyncSession, issue_id: int) -> Counter[str]:
    await session.commit()  # end the read snapshot
    rows = await session.execute(select(Delivery.state).where(Delivery.issue_id == issue_id))
    return Counter(str(r[0]) for r in rows)


async def test_everyone_delivered_once(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer, session: AsyncSession
) -> None:
    settings = smtp_settings(tmp_path, db_url, smtp_server, INNAN_SEND_BATCH_SIZE="7")
    people = await add_subscribers(session, 25)
    issue = await make_issue(session)
    await delivery.start_send(session, settings, issue.id, at=None, actor="test")
    await session.commit()
    await drain(settings)
    received = smtp_server.received
    assert sorted(r.rcpt_tos[0] for r in received) == sorted(p.email for p in people)
    assert len({r.message["Message-ID"] for r in received}) == 25
    assert await states(session, issue.id) == Counter({"sent": 25})
    status = (await session.execute(select(Issue.status).where(Issue.id == issue.id))).scalar()
    assert status == "sent"
    # Every mail came from a VERP return path on our domain.
    assert all(r.mail_from.startswith("bounce+") for r in received)
    assert all(r.mail_from.endswith("@innanforskapet.test") for r in received)


async def test_4xx_then_success_is_retried(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer, session: AsyncSession
) -> None:
    settings = smtp_settings(tmp_path, db_url, smtp_server)
    await add_subscribers(session, 3)
    issue = await make_issue(session)
    await delivery.start_send(session, settings, issue.id, at=None, actor="test")
    await session.commit()
    smtp_server.fail_next_data("451 4.3.0 Försök senare")
    await drain(settings, retry_base_seconds=0)
    assert await states(session, issue.id) == Counter({"sent": 3})
    assert len(smtp_server.received) == 3
    attempts = (
        await session.execute(select(Delivery.attempts).where(Delivery.issue_id == issue.id))
    ).scalars()
    assert sorted(attempts) == [1, 1, 2]


async def test_5xx_is_failed_with_reason(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer, session: AsyncSession
) -> None:
    settings = smtp_settings(tmp_path, db_url, smtp_server)
    await add_subscribers(session, 3)
    smtp_server.refuse_recipient("mottagare1@exempel.se", "550 5.1.1 Ingen sådan användare")
    issue = await make_issue(session)
    await delivery.start_send(session, settings, issue.id, at=None, actor="test")
    await session.commit()
    await drain(settings, retry_base_seconds=0)
    assert await states(session, issue.id) == Counter({"sent": 2, "failed": 1})
    status = await delivery.progress(session, issue.id)
    assert status.problems[0]["email"] == "mottagare1@exempel.se"
    assert "550" in status.problems[0]["reason"]
    assert "Ingen sådan användare" in status.problems[0]["reason"]


async def test_a_newsletter_reaches_an_address_beyond_ascii(
    tmp_path: Path, db_url: str, session: AsyncSession
) -> None:
    """Issue 16: ``Åsa.Lind@Example.se`` was never delivered (UnicodeEncodeError, five
    retries, an English error). With SMTPUTF8 it is delivered with a UTF-8 ``To:``; a
    server without it refuses it at once, with a Swedish reason for the editor."""
    from service.mail.addresses import NO_SMTPUTF8
    from subscribers.models import Subscriber

    await add_subscribers(session, 1)
    session.add(Subscriber(email="åsa.lind@exämpel.se", name="Åsa", status="active"))
    await session.commit()
    person = (
        await session.execute(select(Subscriber).where(Subscriber.name == "Åsa"))
    ).scalar_one()
    mlist = await newsletter_list(session)
    session.add(Subscription(subscriber_id=person.id, list_id=mlist.id, status="active"))
    await session.commit()
    for offered, expected in ((True, "sent"), (False, "failed")):
        server = SmtpServer(port=free_port(), smtputf8=offered)
        server.start()
        try:
            settings = make_settings(tmp_path, db_url, INNAN_SMTP_URL=server.url)
            issue = await make_issue(session, slug=f"utf8-{offered}")
            await delivery.start_send(session, settings, issue.id, at=None, actor="test")
            await session.commit()
            await drain(settings, retry_base_seconds=0)
            assert await states(session, issue.id) == Counter(["sent", expected])
            status = await delivery.progress(session, issue.id)
            if offered:
                got = [r for r in server.received if r.rcpt_tos != ["mottagare0@exempel.se"]]
                assert got[0].rcpt_tos == ["åsa.lind@xn--exmpel-cua.se"]
                assert str(got[0].message["To"]) == "åsa.lind@xn--exmpel-cua.se"
            else:
                [problem] = status.problems
                assert problem["reason"] == f"553 {NO_SMTPUTF8}"
                assert problem["attempts"] == 1  # permanent: not retried
        finally:
            server.stop()


async def test_sink_down_is_retried_later_nothing_lost(
    tmp_path: Path, db_url: str, session: AsyncSession
) -> None:
    port = free_port()  # nothing listens here yet: the sink is down
    settings = make_settings(tmp_path, db_url, INNAN_SMTP_URL=f"smtp://127.0.0.1:{port}")
    people = await add_subscribers(session, 5)
    issue = await make_issue(session)
    await delivery.start_send(session, settings, issue.id, at=None, actor="test")
    await session.commit()
    await drain(settings, retry_base_seconds=3600)
    assert await states(session, issue.id) == Counter({"retry": 5})
    sink = SmtpServer(port=port)
    sink.start()
    try:
        # Backoff not yet over: nothing is claimable.
        await drain(settings, retry_base_seconds=3600)
        assert sink.received == []
        await session.execute(
            Delivery.__table__.update().values(next_attempt_at=None)  # the backoff has passed
        )
        await session.commit()
        await drain(settings)
        got = sorted(r.rcpt_tos[0] for r in sink.received)
    finally:
        sink.stop()
    assert got == sorted(p.email for p in people)
    assert await states(session, issue.id) == Counter({"sent": 5})


async def test_unsubscribe_between_snapshot_and_send_is_not_mailed(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer, session: AsyncSession
) -> None:
    settings = smtp_settings(tmp_path, db_url, smtp_server)
    people = await add_subscribers(session, 4)
    issue = await make_issue(session)
    await delivery.start_send(session, settings, issue.id, at=None, actor="test")
    await session.commit()
    await subscribers_service.unsubscribe(session, settings, people[0].id, channel="web")
    await suppress(session, settings, people[1].email, "manual")
    await session.commit()
    await drain(settings)
    got = sorted(r.rcpt_tos[0] for r in smtp_server.received)
    assert got == sorted(p.email for p in people[2:])
    assert await states(session, issue.id) == Counter({"sent": 2, "skipped": 2})
    reasons = {
        p["email"]: p["reason"] for p in (await delivery.progress(session, issue.id)).problems
    }
    assert "avregistrerat" in reasons[people[0].email] or "status" in reasons[people[0].email]
    assert "spärrad" in reasons[people[1].email]


async def test_suppressed_and_narrowed_audience_not_in_snapshot(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer, session: AsyncSession
) -> None:
    settings = smtp_settings(tmp_path, db_url, smtp_server)
    people = await add_subscribers(session, 3, organisation="Region Halland")
    others = await add_subscribers(session, 2, prefix="annan", organisation="Halmstads kommun")
    await suppress(session, settings, people[0].email, "hard-bounce")
    issue = await make_issue(session)
    issue.organisations = ["Region Halland"]
    await session.commit()
    await delivery.start_send(session, settings, issue.id, at=None, actor="test")
    await session.commit()
    await drain(settings)
    got = sorted(r.rcpt_tos[0] for r in smtp_server.received)
    assert got == sorted(p.email for p in people[1:])
    assert not any(o.email in got for o in others)


async def test_rate_limit_per_hour_is_honoured(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer, session: AsyncSession
) -> None:
    settings = smtp_settings(tmp_path, db_url, smtp_server, INNAN_SEND_RATE_PER_HOUR="3")
    await add_subscribers(session, 5)
    issue = await make_issue(session)
    await delivery.start_send(session, settings, issue.id, at=None, actor="test")
    await session.commit()
    await drain(settings)
    await drain(settings)
    assert len(smtp_server.received) == 3
    assert await states(session, issue.id) == Counter({"sent": 3, "queued": 2})


async def test_headers_as_the_receiver_sees_them(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer, session: AsyncSession
) -> None:
    import html

    from service.issues import placeholders
    from service.issues.render import render_issue
    from service.mail.compose import build_message

    settings = smtp_settings(
        tmp_path, db_url, smtp_server, INNAN_REPLY_TO="svar@innanforskapet.test"
    )
    [person] = await add_subscribers(session, 1)
    issue = await make_issue(session)
    await delivery.start_send(session, settings, issue.id, at=None, actor="test")
    await session.commit()
    await drain(settings)
    [got] = smtp_server.received
    msg = got.message
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    raw_subject = got.data.split(b"\r\nSubject: ", 1)[1].split(b"\r\n", 1)[0]
    assert b"=?utf-8?q?" in raw_subject and raw_subject.isascii()
    assert msg["Subject"] == "Nyhetsbrev från Samordningsförbundet – augusti 2019"
    assert msg["Message-ID"].endswith("@innanforskapet.test>")
    assert msg["Date"] is not None
    assert msg["From"] == "Innanförskapet <nyhetsbrev@innanforskapet.test>"
    assert msg["Reply-To"] == "svar@innanforskapet.test"
    assert msg["To"] == person.email
    assert msg["List-Id"].endswith("<nyhetsbrev.innanforskapet.test>")
    unsub = links.unsubscribe_url(settings, person.id, person.token_version)
    mailto = links.unsubscribe_mailto(settings, person.id, person.token_version)
    assert msg["List-Unsubscribe"] == f"<{unsub}>, <{mailto}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Feedback-ID"]
    assert msg["Precedence"] == "bulk"
    assert msg["Auto-Submitted"] == "auto-generated"
    # Same content as a reference message built independently with the email package
    # from the rendering, its placeholders replaced by plain string substitution.
    rendered = await render_issue(session, settings, issue.id)
    prefs = links.preference_url(settings, person.id, person.token_version)

    def filled(body: str, escape: bool) -> str:
        values = {
            placeholders.NAME: f" {person.name}",
            placeholders.PREFS_URL: prefs,
            placeholders.UNSUBSCRIBE_URL: unsub,
        }
        for placeholder, value in values.items():
            body = body.replace(placeholder, html.escape(value) if escape else value)
        return body

    reference = build_message(
        settings,
        to=person.email,
        subject=rendered.subject,
        text=filled(rendered.text, False),
        html=filled(rendered.html, True),
    )
    reparsed = email.message_from_bytes(to_bytes(reference), policy=email.policy.default)
    assert isinstance(reparsed, EmailMessage)
    ref_parts = list(reparsed.iter_parts())
    for ours, theirs in zip(parts, ref_parts, strict=True):
        assert ours.get_content() == theirs.get_content()  # type: ignore[attr-defined]
    for header in ("Subject", "From", "To"):
        assert str(msg[header]) == str(reference[header]), header
    assert msg["Feedback-ID"] == "augusti-2019:nyhetsbrev:innanforskapet"
    text = parts[0].get_content()  # type: ignore[attr-defined]
    assert "Namn 0" in text or "Rapport från Almedalen" in text
    assert links.preference_url(settings, person.id, person.token_version) in text
    assert "\n.En rad som börjar med punkt." in text


async def test_cancel_pause_resume(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer, session: AsyncSession
) -> None:
    settings = smtp_settings(tmp_path, db_url, smtp_server)
    await add_subscribers(session, 3)
    issue = await make_issue(session)
    await delivery.start_send(session, settings, issue.id, at=None, actor="test")
    await delivery.set_paused(session, issue.id, True, actor="test")
    await session.commit()
    await drain(settings)
    assert smtp_server.received == []
    await delivery.set_paused(session, issue.id, False, actor="test")
    await delivery.cancel(session, issue.id, actor="test")
    await session.commit()
    await drain(settings)
    assert smtp_server.received == []
    assert await states(session, issue.id) == Counter({"skipped": 3})


async def test_dkim_signature_verifies(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer, session: AsyncSession
) -> None:
    key = make_key(tmp_path)
    settings = smtp_settings(tmp_path, db_url, smtp_server, **key.env())
    await add_subscribers(session, 2)
    issue = await make_issue(session)
    await delivery.start_send(session, settings, issue.id, at=None, actor="test")
    await session.commit()
    await drain(settings)
    assert len(smtp_server.received) == 2
    for got in smtp_server.received:
        assert got.data.startswith(b"DKIM-Signature:")
        assert key.verifies(got.data)
        tampered = got.data.replace(b"Almedalen", b"Almedalem", 1)
        assert not key.verifies(tampered)


async def test_empty_audience_finishes_and_resend_after_cancel_reaches_everyone(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer, session: AsyncSession
) -> None:
    settings = smtp_settings(tmp_path, db_url, smtp_server)
    lonely_id = (await make_issue(session, slug="tomt")).id
    with pytest.raises(ValidationFailed, match="inte gå till någon"):
        await delivery.start_send(session, settings, lonely_id, at=None, actor="test")
    await session.rollback()
    # A scheduled issue whose audience left before its time: the scheduler's snapshot.
    lonely = await session.get_one(Issue, lonely_id)
    await delivery.snapshot(session, settings, lonely, actor="scheduler")
    await session.commit()
    await drain(settings)
    status = (await session.execute(select(Issue.status).where(Issue.slug == "tomt"))).scalar()
    assert status == "sent"  # nobody to mail: done, not stuck in "sending"

    people = await add_subscribers(session, 2)
    issue = await make_issue(session)
    await delivery.start_send(session, settings, issue.id, at=None, actor="test")
    await delivery.cancel(session, issue.id, actor="test")
    await session.commit()
    await delivery.start_send(session, settings, issue.id, at=None, actor="test")
    await session.commit()
    await drain(settings)
    assert sorted(r.rcpt_tos[0] for r in smtp_server.received) == sorted(p.email for p in people)


async def _worker_on_a_held_server(
    settings: Settings, smtp_server: SmtpServer
) -> tuple[asyncio.Event, asyncio.Task[None], Any]:
    """A running worker whose first message is held at DATA by the server."""
    engine = create_engine(settings.database_url)
    transport = make_transport(settings)
    worker = Worker(
        settings,
        create_session_factory(engine),
        transport,
        WorkerConfig(batch_size=settings.send_batch_size, idle_sleep=0.1, flush_seconds=0.05),
    )
    smtp_server.handler.hold = True
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.to_thread(smtp_server.handler.held.wait, 10)
    assert smtp_server.handler.held.is_set()

    async def close() -> None:
        await transport.close()
        await engine.dispose()

    return stop, task, close


@pytest.mark.parametrize("action", ["pause", "cancel", "stop"])
async def test_claimed_mail_waiting_when_paused_cancelled_or_stopped_is_not_sent(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer, session: AsyncSession, action: str
) -> None:
    # One connection, batches of 4: while the first message hangs at the server, the
    # worker has claimed more that wait in memory. None of those may go out.
    settings = smtp_settings(
        tmp_path, db_url, smtp_server, INNAN_SMTP_POOL_SIZE="1", INNAN_SEND_BATCH_SIZE="4"
    )
    people = await add_subscribers(session, 12)
    issue = await make_issue(session)
    await delivery.start_send(session, settings, issue.id, at=None, actor="test")
    await session.commit()
    stop, task, close = await _worker_on_a_held_server(settings, smtp_server)
    try:
        for _ in range(100):  # the worker claims a second batch while the first is sent
            if (await states(session, issue.id))["sending"] == 8:
                break
            await asyncio.sleep(0.05)
        assert await states(session, issue.id) == Counter({"sending": 8, "queued": 4})
        if action == "pause":
            await delivery.set_paused(session, issue.id, True, actor="test")
        elif action == "cancel":
            await delivery.cancel(session, issue.id, actor="test")
        await session.commit()
        if action == "stop":
            stop.set()
        else:
            await asyncio.sleep(0.5)  # the worker notices between claims
        smtp_server.handler.release.set()
        if action != "stop":
            await asyncio.sleep(0.5)
            stop.set()
        await asyncio.wait_for(task, 10)
    finally:
        await close()
    assert len(smtp_server.received) == 1  # only the message already on the wire
    counts = await states(session, issue.id)
    if action == "cancel":
        assert counts == Counter({"sent": 1, "skipped": 11})
        return
    assert counts == Counter({"sent": 1, "queued": 11})
    # Handed back as never tried: no attempt is counted against them.
    attempts = await session.execute(
        select(Delivery.attempts).where(Delivery.issue_id == issue.id, Delivery.state == "queued")
    )
    assert {int(a) for (a,) in attempts} == {0}
    if action == "pause":
        await delivery.set_paused(session, issue.id, False, actor="test")
        await session.commit()
    smtp_server.handler.hold = False
    await drain(settings)
    got = Counter(r.rcpt_tos[0] for r in smtp_server.received)
    assert got == Counter({p.email: 1 for p in people})
    assert await states(session, issue.id) == Counter({"sent": 12})
