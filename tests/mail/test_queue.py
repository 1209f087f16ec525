"""The transactional mail queue: every single mail is written in the request's transaction
and sent after commit by the worker, retried, visible to editors, and DKIM-signed.

Real parts: SQLite and PostgreSQL, an aiosmtpd server with injected replies, a listener
that accepts and never answers (a hung mail server), the app over HTTP, the CLI.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import subprocess
from pathlib import Path

from click.testing import CliRunner
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import create_app
from service.cli import main
from service.db import create_engine, create_session_factory, utcnow
from service.delivery.outbound import OutboundWorker
from service.editor import service as editors
from service.editor.mails import queue_password_link
from service.issues.testsend import test_send as queue_test_send
from service.mail.addresses import NO_SMTPUTF8
from service.mail.models import QueuedMail
from service.mail.transport import make_transport
from service.settings import Settings
from subscribers import service as subscribers
from tests.conftest import cli_env, deliver_queued, free_port, make_settings
from tests.editor.helpers import login, make_editor, make_token
from tests.factories import make_issue
from tests.mail.dkimkeys import make_key
from tests.mails import text_of
from tests.pages import csrf
from tests.smtp import HungSmtpServer, SmtpServer
from tests.subscribers.helpers import link, signup

Client = AsyncTestClient  # type: ignore[type-arg]


async def queue_rows(session: AsyncSession) -> list[QueuedMail]:
    await session.commit()  # a fresh snapshot
    query = select(QueuedMail).order_by(QueuedMail.id).execution_options(populate_existing=True)
    return list((await session.execute(query)).scalars())


def form(address: str) -> dict[str, object]:
    return {"email": address, "lists": ["1"]}


async def test_a_hung_mail_server_blocks_no_request(
    tmp_path: Path, db_url: str, session: AsyncSession
) -> None:
    """The probe's fault: with a mail server that accepts and never answers, signups got
    500 "database is locked" and unrelated writes waited. Now the web requests never talk
    to the mail server, and the worker that does holds no database lock while it waits."""
    hung = HungSmtpServer(free_port())
    hung.start()
    # A long SMTP timeout: were a write lock held while waiting for the server, SQLite
    # writers would fail after their 15 s busy timeout, long before the send gives up.
    settings = make_settings(tmp_path, db_url, INNAN_SMTP_URL=hung.url, INNAN_SMTP_TIMEOUT="300")
    await make_editor(session)
    auth = {"Authorization": f"Bearer {await make_token(session)}"}
    engine = create_engine(settings.database_url)
    transport = make_transport(settings)
    worker = OutboundWorker(
        settings, create_session_factory(engine), transport, worker_id="test-host:1:hung"
    )
    stop = asyncio.Event()
    try:
        async with AsyncTestClient(
            app=create_app(settings), base_url="http://testserver.local"
        ) as c:
            first = await c.post("/prenumerera", data=form("forsta@example.se"))
            assert first.status_code == 200
            assert hung.connections == 0  # the request did not try to send anything
            running = asyncio.create_task(worker.run(stop))
            assert await asyncio.to_thread(hung.accepted.wait, 60), "the worker never connected"
            # The worker now waits for a greeting that never comes. Meanwhile:
            for n in range(5):
                answer = await c.post("/prenumerera", data=form(f"person{n}@example.se"))
                assert answer.status_code == 200, answer.text
                assert "Kontrollera din e-post" in answer.text
            created = await c.post(
                "/api/v1/issues",
                json={"title": "Medan servern hänger", "issue_date": "2026-12-03"},
                headers=auth,
            )
            assert created.status_code == 201, created.text
            assert hung.connections == 1  # only the worker's
            states = [row.state for row in await queue_rows(session)]
            assert states == ["sending"] + ["queued"] * 5
            stop.set()
            hung.stop()  # the worker's connection is reset: a temporary failure
            await running
    finally:
        await transport.close()
        await engine.dispose()
    rows = await queue_rows(session)
    assert rows[0].state == "retry"
    assert rows[0].last_reply is not None and rows[0].last_reply.startswith("451")
    assert rows[0].message is not None  # kept for the retry
    assert [row.state for row in rows[1:]] == ["queued"] * 5  # nothing lost


async def test_a_confirmation_refused_for_now_is_retried_and_not_sent_twice(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer, session: AsyncSession
) -> None:
    settings = make_settings(tmp_path, db_url, INNAN_SMTP_URL=smtp_server.url)
    smtp_server.fail_next_data("451 4.3.0 Try again later")
    async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as c:
        await signup(c, "senare@example.se")
        assert smtp_server.received == []
        [row] = await queue_rows(session)
        assert (row.kind, row.state, row.attempts) == ("confirm", "retry", 1)
        assert row.last_reply == "451 4.3.0 Try again later"
        assert row.next_attempt_at is not None and row.next_attempt_at > utcnow()
        # Asking again at once: a confirmation is still on its way, so no second one.
        await signup(c, "senare@example.se")
        rows = await queue_rows(session)
        assert [r.state for r in rows] == ["retry", "skipped"]
        assert "det senaste dygnet" in (rows[1].last_reply or "")
        # The retry falls due; the worker sends it and the link works.
        await session.execute(
            update(QueuedMail).where(QueuedMail.id == row.id).values(next_attempt_at=utcnow())
        )
        await session.commit()
        deliver_queued(settings)
        assert len(smtp_server.received) == 1
        url = link(text_of(smtp_server.received[0].message), "/bekrafta/")
        done = await c.post(url)
        assert done.status_code == 200
        assert "senare@example.se" in done.text
    rows = await queue_rows(session)
    assert rows[0].state == "sent" and rows[0].message is None and rows[0].payload is None


async def test_a_refused_confirmation_does_not_stop_the_next_request(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer, session: AsyncSession
) -> None:
    """The throttle ("one confirmation per address per 24 h") counts mails that were
    sent: a mail the server refused for good does not keep the person waiting a day."""
    settings = make_settings(tmp_path, db_url, INNAN_SMTP_URL=smtp_server.url)
    smtp_server.fail_next_rcpt("550 5.2.2 Mailbox full")
    async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as c:
        await signup(c, "full@example.se")
        [row] = await queue_rows(session)
        assert row.state == "failed" and row.last_reply == "550 5.2.2 Mailbox full"
        await signup(c, "full@example.se")
    assert len(smtp_server.received) == 1
    assert smtp_server.received[0].message["Subject"] == "Bekräfta din prenumeration"


async def test_editors_see_a_failed_mail_and_send_it_again(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer, session: AsyncSession
) -> None:
    settings = make_settings(tmp_path, db_url, INNAN_SMTP_URL=smtp_server.url)
    smtp_server.fail_next_rcpt("550 5.1.1 No such user")
    await make_editor(session)
    async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as c:
        await signup(c, "felstavad@example.se")
        await login(c)
        page = await c.get("/redaktion/e-post")
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        text = page.text
        assert "Väntar på nytt försök eller misslyckades" in text
        assert "felstavad@example.se" in text
        assert "Misslyckades" in text and "550 5.1.1 No such user" in text
        assert "Bekräftelse av prenumeration" in text
        [row] = await queue_rows(session)
        again = await c.post(
            f"/redaktion/e-post/{row.id}/forsok-igen",
            data={"_csrf_token": csrf(text)},
            follow_redirects=False,
        )
        assert again.status_code == 303
        deliver_queued(settings)
        assert len(smtp_server.received) == 1
        after = await c.get("/redaktion/e-post")
        assert "Inga – alla brev har kommit fram eller är på väg." in after.text


def test_cli_mail_status_names_failures(tmp_path: Path, db_url: str) -> None:
    settings = make_settings(tmp_path, db_url)

    async def setup() -> None:
        engine = create_engine(settings.database_url)
        async with create_session_factory(engine)() as session:
            session.add(
                QueuedMail(
                    kind="welcome",
                    recipient="borta@example.se",
                    subject="Välkommen",
                    message=b"Subject: x\r\n\r\nx\r\n",
                    state="failed",
                    attempts=5,
                    last_reply="550 5.1.1 User unknown",
                )
            )
            await session.commit()
        await engine.dispose()

    asyncio.run(setup())
    runner = CliRunner(env=cli_env(settings))
    status = runner.invoke(main, ["mail", "status"])
    assert status.exit_code == 1, status.output
    assert "Misslyckades: 1" in status.output
    assert "Välkomstbrev till borta@example.se: Misslyckades efter 5 försök" in status.output
    assert "550 5.1.1 User unknown" in status.output
    retry = runner.invoke(main, ["mail", "retry", "1"])
    assert retry.exit_code == 0, retry.output
    assert "1 av 1 brev köades" in retry.output
    assert runner.invoke(main, ["mail", "status"]).exit_code == 0
    bad = runner.invoke(main, ["mail", "retry", "inte-ett-id"])
    assert bad.exit_code == 2


async def test_every_single_mail_is_dkim_signed(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer, session: AsyncSession
) -> None:
    key = make_key(tmp_path)
    settings = make_settings(tmp_path, db_url, INNAN_SMTP_URL=smtp_server.url, **key.env())
    async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as c:
        await signup(c, "signerad@example.se")  # confirmation
        url = link(text_of(smtp_server.received[-1].message), "/bekrafta/")
        await c.post(url)  # welcome
    subscriber = await subscribers.find_by_address(session, "signerad@example.se")
    assert subscriber is not None
    await subscribers.request_address_change(session, settings, subscriber, "ny@example.se")
    link_ = await editors.invite_editor(session, "ny.redaktor@example.se", actor="test")
    queue_password_link(session, settings, link_, new_account=True)
    issue = await make_issue(session)
    await queue_test_send(session, settings, issue.id, ["prov@example.se"], actor="test")
    await session.commit()
    deliver_queued(settings)
    subjects = [got.message["Subject"] for got in smtp_server.received]
    assert len(subjects) == 5, subjects
    for got in smtp_server.received:
        assert got.data.startswith(b"DKIM-Signature:"), got.message["Subject"]
        assert key.verifies(got.data), got.message["Subject"]


async def test_erasure_takes_the_persons_mails_with_it(
    tmp_path: Path, db_url: str, session: AsyncSession
) -> None:
    settings = make_settings(tmp_path, db_url)
    async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as c:
        await signup(c, "glom@example.se")  # composed and sent: a logged row
        await c.post("/prenumerera", data=form("glom@example.se"))  # not yet composed
    assert {row.recipient for row in await queue_rows(session)} == {"glom@example.se"}
    person = await subscribers.find_by_address(session, "glom@example.se")
    assert person is not None
    await subscribers.erase(session, settings, person.id, actor="test")
    await session.commit()
    assert await queue_rows(session) == []


# ---------------------------------------------------------------------- addresses


def _received(server: SmtpServer) -> email.message.EmailMessage:
    msg = email.message_from_bytes(server.received[-1].data, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


async def test_an_address_beyond_ascii_goes_out_with_smtputf8(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer
) -> None:
    settings = make_settings(tmp_path, db_url, INNAN_SMTP_URL=smtp_server.url)
    async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as c:
        response = await signup(c, "Åsa.Lind@Exämpel.se")
    assert response.status_code == 200
    assert smtp_server.received[-1].rcpt_tos == ["åsa.lind@xn--exmpel-cua.se"]
    assert str(_received(smtp_server)["To"]) == "åsa.lind@xn--exmpel-cua.se"


async def test_a_server_without_smtputf8_gets_no_such_mail_and_editors_read_why(
    tmp_path: Path, db_url: str, session: AsyncSession
) -> None:
    server = SmtpServer(port=free_port(), smtputf8=False)
    server.start()
    try:
        settings = make_settings(tmp_path, db_url, INNAN_SMTP_URL=server.url)
        async with AsyncTestClient(
            app=create_app(settings), base_url="http://testserver.local"
        ) as c:
            await signup(c, "åsa@example.se")
            await signup(c, "lind@exämpel.se")  # only the domain is beyond ASCII: IDNA
        rows = await queue_rows(session)
        assert rows[0].state == "failed"  # permanent: not retried five times
        assert rows[0].last_reply == f"553 {NO_SMTPUTF8}"
        assert rows[1].state == "sent"
        assert server.received[-1].rcpt_tos == ["lind@xn--exmpel-cua.se"]
        assert str(_received(server)["To"]) == "lind@xn--exmpel-cua.se"
    finally:
        server.stop()


# ---------------------------------------------------------------------- leases


async def test_a_restarted_worker_takes_back_what_a_dead_worker_here_had_claimed(
    settings: Settings, session: AsyncSession
) -> None:
    import socket

    from service.delivery.worker import Worker

    host = socket.gethostname()
    dead = subprocess.Popen(["true"])
    dead.wait()
    alive = subprocess.Popen(["sleep", "60"])
    try:
        claims = {
            "dead": f"{host}:{dead.pid}:aaaaaa",
            "alive": f"{host}:{alive.pid}:bbbbbb",
            "elsewhere": "annan-maskin:1:cccccc",
        }
        for name, owner in claims.items():
            session.add(
                QueuedMail(
                    kind="welcome",
                    recipient=f"{name}@example.se",
                    subject="x",
                    message=b"x",
                    state="sending",
                    attempts=1,
                    claimed_by=owner,
                    claimed_at=utcnow(),
                )
            )
        await session.commit()
        engine = create_engine(settings.database_url)
        try:
            worker = Worker(settings, create_session_factory(engine), make_transport(settings))
            assert await worker.reclaim_dead_local() == 1
        finally:
            await engine.dispose()
        states = {row.recipient: row.state for row in await queue_rows(session)}
        assert states == {
            "dead@example.se": "retry",  # its process is gone: nothing can be in flight
            "alive@example.se": "sending",
            "elsewhere@example.se": "sending",  # another machine: wait for the lease
        }
    finally:
        alive.kill()
        alive.wait()
