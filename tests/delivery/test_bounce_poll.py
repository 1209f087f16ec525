"""``bounces poll`` against a real Dovecot over IMAP and POP3 (see tests/delivery/mailbox.py).

Reports are delivered into the Maildir as an MDA would; ``poll`` reads them through the
server; the database (both backends) and the Maildir on disk are checked afterwards.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from service.cli import main
from service.db import create_engine, create_session_factory
from service.delivery import verp
from service.delivery.bounces import NOT_BOUNCE_KEYWORD, MailboxError, PollResult, poll
from service.delivery.models import BounceEvent, Delivery
from service.settings import Settings
from subscribers.models import Subscriber
from subscribers.suppression import is_suppressed
from tests.conftest import cli_env, free_port
from tests.delivery.mailbox import PASSWORD, Dovecot
from tests.delivery.test_bounces import Person, Row, arf, dsn, sent_issue
from tests.smtp import SmtpServer

SCHEMES = pytest.mark.parametrize("scheme", ["imap", "pop3"])


def reply(subject: str, to: str = "nyhetsbrev@innanforskapet.test") -> bytes:
    """A person answering the newsletter: no report, nothing for a machine to act on."""
    return (
        f"From: Lisa Läsare <mottagare0@exempel.se>\r\nTo: {to}\r\n"
        f"Subject: {subject}\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Hej! Tack för brevet, kan ni skicka programmet för Almedalen?\r\n"
    ).encode()


def out_of_office(to: str) -> bytes:
    """An RFC 3834 auto-reply sent to the return path (the VERP address)."""
    return (
        f"From: mottagare0@exempel.se\r\nTo: {to}\r\nSubject: Frånvaro: Nyhetsbrev\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Jag är på semester till och med 15 augusti.\r\n"
    ).encode()


async def bounce_kinds(session: AsyncSession) -> list[str]:
    session.expire_all()
    return [str(k) for (k,) in await session.execute(select(BounceEvent.kind))]


async def subscriber(session: AsyncSession, person: Person) -> Subscriber:
    session.expire_all()
    found = await session.get(Subscriber, person.id)
    assert found is not None
    return found


async def setup(
    tmp_path: Path,
    db_url: str,
    smtp_server: SmtpServer,
    session: AsyncSession,
    dovecot: Dovecot,
    scheme: str,
) -> tuple[Settings, list[Person], list[Row]]:
    settings, people, rows = await sent_issue(tmp_path, db_url, smtp_server, session, 2)
    return settings.with_overrides(bounce_mailbox_url=dovecot.url(scheme)), people, rows


@SCHEMES
async def test_hard_bounce_to_verp_suppresses_and_is_removed(
    scheme: str,
    tmp_path: Path,
    db_url: str,
    smtp_server: SmtpServer,
    session: AsyncSession,
    dovecot: Dovecot,
) -> None:
    settings, people, rows = await setup(tmp_path, db_url, smtp_server, session, dovecot, scheme)
    assert settings.bounce_threshold == 1
    return_path = verp.return_path(settings, rows[0].id)
    dovecot.deliver(dsn(rows[0].message_id, people[0].email, "5.1.1", "failed"), to=return_path)

    assert await poll(settings) == PollResult(handled=1)

    person = await subscriber(session, people[0])
    assert (person.status, person.hard_bounces) == ("bounced", 1)
    assert await is_suppressed(session, settings, people[0].email)
    assert not await is_suppressed(session, settings, people[1].email)
    state = await session.scalar(select(Delivery.state).where(Delivery.id == rows[0].id))
    assert state == "bounced"
    assert await bounce_kinds(session) == ["hard"]
    assert dovecot.stored() == []  # deleted on the server, not just hidden

    # A second poll finds nothing and counts nothing again.
    assert await poll(settings) == PollResult()
    assert (await subscriber(session, people[0])).hard_bounces == 1
    assert await bounce_kinds(session) == ["hard"]


@SCHEMES
async def test_a_second_poll_does_not_count_a_bounce_twice(
    scheme: str,
    tmp_path: Path,
    db_url: str,
    smtp_server: SmtpServer,
    session: AsyncSession,
    dovecot: Dovecot,
) -> None:
    settings, people, rows = await setup(tmp_path, db_url, smtp_server, session, dovecot, scheme)
    settings = settings.with_overrides(bounce_threshold=2)
    report = dsn(rows[1].message_id, people[1].email, "5.1.1", "failed")
    dovecot.deliver(report, to=verp.return_path(settings, rows[1].id))

    assert await poll(settings) == PollResult(handled=1)
    assert await poll(settings) == PollResult()
    person = await subscriber(session, people[1])
    assert (person.status, person.hard_bounces) == ("active", 1)
    assert not await is_suppressed(session, settings, people[1].email)

    # The very same mail again, as when a crash came between the commit and the delete:
    # it is removed, and not counted again.
    dovecot.deliver(report, to=verp.return_path(settings, rows[1].id))
    assert await poll(settings) == PollResult(handled=1)
    person = await subscriber(session, people[1])
    assert (person.status, person.hard_bounces) == ("active", 1)

    # The next issue bounces too (a new report): now the threshold is reached.
    report = dsn(rows[1].message_id, people[1].email, "5.1.1", "failed")
    dovecot.deliver(report, to=verp.return_path(settings, rows[1].id))
    assert await poll(settings) == PollResult(handled=1)
    person = await subscriber(session, people[1])
    assert (person.status, person.hard_bounces) == ("bounced", 2)
    assert await is_suppressed(session, settings, people[1].email)


async def test_arf_complaint_suppresses(
    tmp_path: Path,
    db_url: str,
    smtp_server: SmtpServer,
    session: AsyncSession,
    dovecot: Dovecot,
) -> None:
    settings, people, rows = await setup(tmp_path, db_url, smtp_server, session, dovecot, "imap")
    dovecot.deliver(arf(rows[1].message_id, people[1].email), to="fbl@innanforskapet.test")

    assert await poll(settings) == PollResult(handled=1)

    person = await subscriber(session, people[1])
    assert person.status == "bounced"
    assert await is_suppressed(session, settings, people[1].email)
    assert await bounce_kinds(session) == ["complaint"]
    assert (await subscriber(session, people[0])).status == "active"
    assert dovecot.stored() == []


@SCHEMES
async def test_mail_that_is_no_bounce_is_left_for_a_person(
    scheme: str,
    tmp_path: Path,
    db_url: str,
    smtp_server: SmtpServer,
    session: AsyncSession,
    dovecot: Dovecot,
) -> None:
    settings, people, rows = await setup(tmp_path, db_url, smtp_server, session, dovecot, scheme)
    return_path = verp.return_path(settings, rows[0].id)
    dovecot.deliver(reply("Sv: Nyhetsbrev augusti"), to="nyhetsbrev@innanforskapet.test")
    dovecot.deliver(out_of_office(return_path), to=return_path)
    dovecot.deliver(
        reply("Ta bort mig", to="unsubscribe@innanforskapet.test"),
        to="unsubscribe@innanforskapet.test",
    )
    dovecot.deliver(
        dsn(rows[1].message_id, people[1].email, "5.1.1", "failed"),
        to=verp.return_path(settings, rows[1].id),
    )

    assert await poll(settings) == PollResult(handled=1, left=3)

    assert await bounce_kinds(session) == ["hard"]  # the DSN only
    person = await subscriber(session, people[0])
    assert (person.status, person.hard_bounces, person.soft_bounces) == ("active", 0, 0)
    assert not await is_suppressed(session, settings, people[0].email)
    left = dovecot.stored()
    assert len(left) == 3
    assert all(b"multipart/report" not in raw for raw in left)

    if scheme == "imap":
        # Unread for the person who reads the mailbox, and skipped by the next poll.
        flags = dovecot.flags()
        assert set(flags) == {"Sv: Nyhetsbrev augusti", "Frånvaro: Nyhetsbrev", "Ta bort mig"}
        for subject_flags in flags.values():
            assert "\\Seen" not in subject_flags
            assert NOT_BOUNCE_KEYWORD in subject_flags
        assert await poll(settings) == PollResult()
    else:
        # POP3 has no flags: looked at again, left again, still not counted.
        assert await poll(settings) == PollResult(left=3)
    assert len(dovecot.stored()) == 3
    assert await bounce_kinds(session) == ["hard"]


@SCHEMES
async def test_wrong_password_or_server_down_is_a_clear_error_and_loses_nothing(
    scheme: str,
    tmp_path: Path,
    db_url: str,
    smtp_server: SmtpServer,
    session: AsyncSession,
    dovecot: Dovecot,
) -> None:
    settings, people, rows = await setup(tmp_path, db_url, smtp_server, session, dovecot, scheme)
    report = dsn(rows[0].message_id, people[0].email, "5.1.1", "failed")
    dovecot.deliver(report, to=verp.return_path(settings, rows[0].id))

    wrong = settings.with_overrides(bounce_mailbox_url=dovecot.url(scheme, password="fel-lösen"))
    with pytest.raises(MailboxError) as refused:
        await poll(wrong)
    assert "INNAN_BOUNCE_MAILBOX_URL" in str(refused.value)
    assert "inloggningen" in str(refused.value)
    assert "fel-lösen" not in str(refused.value)

    if scheme == "imap":
        missing = settings.with_overrides(bounce_mailbox_url=dovecot.url(folder="Studsar"))
        with pytest.raises(MailboxError, match="Mappen 'Studsar' finns inte"):
            await poll(missing)

    dovecot.stop()
    with pytest.raises(MailboxError) as down:
        await poll(settings)
    assert "Kunde inte ansluta" in str(down.value)
    assert "INNAN_BOUNCE_MAILBOX_URL" in str(down.value)
    assert PASSWORD not in str(down.value)

    # Nothing was counted and nothing was lost: once the server is back, poll handles it.
    assert await bounce_kinds(session) == []
    assert len(dovecot.stored()) == 1
    dovecot.start()
    assert await poll(settings) == PollResult(handled=1)
    assert await is_suppressed(session, settings, people[0].email)
    assert dovecot.stored() == []


@SCHEMES
async def test_database_away_leaves_the_mail_in_the_mailbox(
    scheme: str,
    backend: str,
    tmp_path: Path,
    db_url: str,
    smtp_server: SmtpServer,
    session: AsyncSession,
    dovecot: Dovecot,
) -> None:
    settings, people, rows = await setup(tmp_path, db_url, smtp_server, session, dovecot, scheme)
    dovecot.deliver(
        dsn(rows[0].message_id, people[0].email, "5.1.1", "failed"),
        to=verp.return_path(settings, rows[0].id),
    )
    away = (
        f"sqlite+aiosqlite:///{tmp_path}/finns-inte/innanforskapet.db"
        if backend == "sqlite"
        else db_url.rsplit("/", 1)[0] + "/innan_finns_inte"
    )
    with pytest.raises(DBAPIError):
        await poll(settings.with_overrides(database_url=away))
    assert len(dovecot.stored()) == 1

    assert await poll(settings) == PollResult(handled=1)
    assert await is_suppressed(session, settings, people[0].email)
    assert dovecot.stored() == []


def test_bad_url_is_a_clear_error() -> None:
    from service.delivery.bounces import _open_mailbox

    for url in ("https://mail.exempel.se/INBOX", "imap:///INBOX", "imap://u:p@host:99999/"):
        with pytest.raises(MailboxError, match="INNAN_BOUNCE_MAILBOX_URL"):
            _open_mailbox(url, allow_plaintext=False)


async def _setup_cli(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer, dovecot: Dovecot
) -> tuple[Settings, list[Person]]:
    engine = create_engine(db_url)
    try:
        async with create_session_factory(engine)() as session:
            settings, people, rows = await sent_issue(tmp_path, db_url, smtp_server, session, 2)
    finally:
        await engine.dispose()
    dovecot.deliver(
        dsn(rows[0].message_id, people[0].email, "5.1.1", "failed"),
        to=verp.return_path(settings, rows[0].id),
    )
    dovecot.deliver(reply("Fråga om kalendariet"), to="nyhetsbrev@innanforskapet.test")
    return settings, people


async def _suppressed_and_events(settings: Settings, address: str) -> tuple[bool, int]:
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            events = await session.scalar(select(func.count()).select_from(BounceEvent))
            return await is_suppressed(session, settings, address), int(events or 0)
    finally:
        await engine.dispose()


def test_cli_poll(tmp_path: Path, db_url: str, smtp_server: SmtpServer, dovecot: Dovecot) -> None:
    settings, people = asyncio.run(_setup_cli(tmp_path, db_url, smtp_server, dovecot))
    runner = CliRunner()

    refused = runner.invoke(
        main,
        ["bounces", "poll"],
        env=cli_env(settings, INNAN_BOUNCE_MAILBOX_URL=dovecot.url("imap", password="fel-lösen")),
    )
    assert refused.exit_code == 1
    assert "INNAN_BOUNCE_MAILBOX_URL" in refused.output
    assert "fel-lösen" not in refused.output
    down = runner.invoke(
        main,
        ["bounces", "poll"],
        env=cli_env(settings, INNAN_BOUNCE_MAILBOX_URL=f"pop3://studs:x@127.0.0.1:{free_port()}"),
    )
    assert down.exit_code == 1
    assert "Kunde inte ansluta till studsbrevlådan" in down.output
    assert asyncio.run(_suppressed_and_events(settings, people[0].email)) == (False, 0)
    assert len(dovecot.stored()) == 2

    ok = runner.invoke(
        main,
        ["bounces", "poll"],
        env=cli_env(settings, INNAN_BOUNCE_MAILBOX_URL=dovecot.url("imap")),
    )
    assert ok.exit_code == 0, ok.output
    assert "1 studsar, klagomål och avregistreringar behandlade." in ok.output
    assert "1 brev var inga studsar och ligger kvar i brevlådan" in ok.output
    assert asyncio.run(_suppressed_and_events(settings, people[0].email)) == (True, 1)
    assert len(dovecot.stored()) == 1

    unset = runner.invoke(
        main, ["bounces", "poll"], env=cli_env(settings, INNAN_BOUNCE_MAILBOX_URL="")
    )
    assert unset.exit_code == 2
    assert "INNAN_BOUNCE_MAILBOX_URL" in unset.output


@pytest.mark.parametrize("scheme", ["imaps", "pop3s", "imap", "pop3"])
async def test_the_server_certificate_is_checked_before_the_password_is_sent(
    scheme: str,
    tmp_path: Path,
    db_url: str,
    smtp_server: SmtpServer,
    session: AsyncSession,
    dovecot_tls: Dovecot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # imaps/pop3s: TLS from the start. imap/pop3: the server offers STARTTLS/STLS and, like
    # a careful server, refuses a login without TLS; we upgrade before sending the password.
    settings, people, rows = await sent_issue(tmp_path, db_url, smtp_server, session, 1)
    settings = settings.with_overrides(bounce_mailbox_url=dovecot_tls.url(scheme))
    report = dsn(rows[0].message_id, people[0].email, "5.1.1", "failed")
    dovecot_tls.deliver(report, to=verp.return_path(settings, rows[0].id))

    # A self-signed certificate nobody trusts (a man in the middle, say): no login.
    with pytest.raises(MailboxError) as refused:
        await poll(settings)
    message = str(refused.value)
    assert "certifikat som inte går att lita på" in message
    assert "self-signed certificate" in message
    assert PASSWORD not in message
    assert "Login: user=<" not in dovecot_tls.diagnostics()
    assert (await subscriber(session, people[0])).hard_bounces == 0
    assert len(dovecot_tls.stored()) == 1

    # Trusted (the certificate is in the CA file): read over TLS, counted, removed.
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot_tls.cert))
    assert await poll(settings) == PollResult(handled=1)
    assert (await subscriber(session, people[0])).hard_bounces == 1
    assert dovecot_tls.stored() == []
    assert "TLS" in dovecot_tls.diagnostics()


@SCHEMES
async def test_no_clear_text_password_to_another_host_without_starttls(
    scheme: str,
    tmp_path: Path,
    db_url: str,
    smtp_server: SmtpServer,
    session: AsyncSession,
    dovecot_remote: Dovecot,
) -> None:
    # A server across a network that offers no STARTTLS/STLS: the password would travel in
    # clear text, so nothing is sent until an operator says the network is trusted.
    settings, people, rows = await sent_issue(tmp_path, db_url, smtp_server, session, 1)
    settings = settings.with_overrides(bounce_mailbox_url=dovecot_remote.url(scheme))
    assert not dovecot_remote.host.startswith("127.")
    report = dsn(rows[0].message_id, people[0].email, "5.1.1", "failed")
    dovecot_remote.deliver(report, to=verp.return_path(settings, rows[0].id))

    with pytest.raises(MailboxError) as refused:
        await poll(settings)
    message = str(refused.value)
    offer = "STARTTLS" if scheme == "imap" else "STLS"
    assert f"erbjuder inte {offer}" in message
    assert "INNAN_BOUNCE_MAILBOX_ALLOW_PLAINTEXT=true" in message
    assert PASSWORD not in message
    log = dovecot_remote.diagnostics()
    assert "no auth attempts" in log
    assert "Login: user=<" not in log
    assert (await subscriber(session, people[0])).hard_bounces == 0
    assert len(dovecot_remote.stored()) == 1

    # The operator trusts that network: the bounce is read, counted and removed.
    allowed = settings.with_overrides(bounce_mailbox_allow_plaintext=True)
    assert await poll(allowed) == PollResult(handled=1)
    assert (await subscriber(session, people[0])).hard_bounces == 1
    assert dovecot_remote.stored() == []
