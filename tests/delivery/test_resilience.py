"""Several workers, a worker killed mid-send, and a send that fell due while nothing ran."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import create_engine, create_session_factory, utcnow
from service.delivery import service as delivery
from service.delivery.models import Delivery
from service.delivery.scheduler import Scheduler
from service.delivery.worker import Worker, WorkerConfig
from service.issues.models import Issue
from service.mail.transport import make_transport
from service.settings import Settings
from tests.conftest import DatabaseTemplates, cli_env, make_settings
from tests.factories import add_subscribers, make_issue
from tests.smtp import SmtpServer

REPO = Path(__file__).resolve().parents[2]


def env_of(settings: Settings, **extra: str) -> dict[str, str]:
    """For a subprocess: this process's environment plus the test's settings."""
    return {**os.environ, **cli_env(settings, INNAN_RUN_WORKERS="true", **extra)}


async def states(session: AsyncSession, issue_id: int) -> Counter[str]:
    await session.commit()
    rows = await session.execute(select(Delivery.state).where(Delivery.issue_id == issue_id))
    return Counter(str(r[0]) for r in rows)


@pytest.fixture
def pg_only_url(db_templates: DatabaseTemplates) -> Iterator[str]:
    """A fresh PostgreSQL database (SKIP LOCKED sharing is inherently PostgreSQL)."""
    url = db_templates.new_pg()
    yield url
    name = url.rsplit("/", 1)[1]
    db_templates.drop_pg(name)
    db_templates.pg_databases.remove(name)


@pytest.fixture
async def pg_session(pg_only_url: str) -> AsyncIterator[AsyncSession]:
    engine = create_engine(pg_only_url)
    async with create_session_factory(engine)() as s:
        yield s
    await engine.dispose()


async def test_two_workers_on_postgresql_send_nobody_twice(
    tmp_path: Path, pg_only_url: str, smtp_server: SmtpServer, pg_session: AsyncSession
) -> None:
    session = pg_session
    settings = make_settings(
        tmp_path, pg_only_url, INNAN_SMTP_URL=smtp_server.url, INNAN_SEND_BATCH_SIZE="10"
    )
    people = await add_subscribers(session, 120)
    issue = await make_issue(session)
    await delivery.start_send(session, settings, issue.id, at=None, actor="test")
    await session.commit()

    async def one_worker(name: str) -> int:
        engine = create_engine(settings.database_url)
        transport = make_transport(settings)
        try:
            worker = Worker(
                settings,
                create_session_factory(engine),
                transport,
                WorkerConfig(batch_size=10),
                worker_id=name,
            )
            return await worker.drain()
        finally:
            await transport.close()
            await engine.dispose()

    handled = await asyncio.gather(one_worker("a"), one_worker("b"), one_worker("c"))
    assert sum(handled) == 120
    assert all(n > 0 for n in handled)  # they really shared the work
    got = Counter(r.rcpt_tos[0] for r in smtp_server.received)
    assert set(got) == {p.email for p in people}
    assert max(got.values()) == 1
    assert await states(session, issue.id) == Counter({"sent": 120})


async def test_worker_killed_mid_send_resumes_nobody_skipped(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer, session: AsyncSession
) -> None:
    settings = make_settings(tmp_path, db_url, INNAN_SMTP_URL=smtp_server.url)
    people = await add_subscribers(session, 60)
    issue = await make_issue(session)
    await delivery.start_send(session, settings, issue.id, at=None, actor="test")
    await session.commit()
    command = [sys.executable, "-m", "service.cli", "worker", "--no-scheduler"]
    slow = env_of(
        settings, INNAN_SEND_RATE_PER_SECOND="15", INNAN_SEND_BATCH_SIZE="20", PYTHONPATH=str(REPO)
    )
    first = subprocess.Popen(
        [sys.executable, "-c", "from service.cli import main; main()", *command[3:]],
        env=slow,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while len(smtp_server.received) < 10 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert len(smtp_server.received) >= 10
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert (await states(session, issue.id))["sent"] < 60  # it really died mid-send
    second = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from service.cli import main; main()",
            "worker",
            "--no-scheduler",
            "--lease-seconds",
            "2",
        ],
        env=env_of(settings, PYTHONPATH=str(REPO)),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if (await states(session, issue.id)) == Counter({"sent": 60}):
                break
            await asyncio.sleep(0.2)
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(30)
        except subprocess.TimeoutExpired:
            second.kill()
    assert await states(session, issue.id) == Counter({"sent": 60})
    received = smtp_server.received
    got = Counter(r.rcpt_tos[0] for r in received)
    assert set(got) == {p.email for p in people}  # nobody skipped
    # Only what was in flight at the kill may repeat, and then with the same Message-ID.
    assert sum(got.values()) - 60 <= 20
    ids: dict[str, set[str]] = {}
    for r in received:
        ids.setdefault(r.rcpt_tos[0], set()).add(str(r.message["Message-ID"]))
    assert all(len(v) == 1 for v in ids.values())


async def test_send_due_while_down_starts_on_start_up(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer, session: AsyncSession
) -> None:
    settings = make_settings(tmp_path, db_url, INNAN_SMTP_URL=smtp_server.url)
    await add_subscribers(session, 3)
    issue = await make_issue(session)
    issue_id = issue.id
    future = utcnow() + timedelta(hours=1)
    await delivery.start_send(session, settings, issue_id, at=future, actor="test")
    await session.commit()
    assert (await session.execute(select(Issue.status).where(Issue.id == issue_id))).scalar() == (
        "scheduled"
    )
    # The service was down when it fell due.
    await session.execute(
        Issue.__table__.update()
        .where(Issue.__table__.c.id == issue_id)
        .values(scheduled_at=utcnow() - timedelta(minutes=30))
    )
    await session.commit()
    engine = create_engine(settings.database_url)
    stop = asyncio.Event()
    scheduler = Scheduler(settings, engine, create_session_factory(engine))
    task = asyncio.create_task(scheduler.run(stop))
    try:
        for _ in range(200):
            await session.commit()
            status = (
                await session.execute(select(Issue.status).where(Issue.id == issue_id))
            ).scalar()
            if status == "sending":
                break
            await asyncio.sleep(0.05)
        assert status == "sending"
    finally:
        stop.set()
        await task
        await engine.dispose()
    assert await states(session, issue_id) == Counter({"queued": 3})
