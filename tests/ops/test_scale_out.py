"""Scale-out on PostgreSQL (PostgreSQL ONLY - SQLite is a one-process backend by design).

Two ``innanforskapet serve`` processes (no in-process workers) and two
``innanforskapet worker`` processes run against one fresh PostgreSQL database and a
real aiosmtpd sink. An issue goes to 5 000 confirmed subscribers; mid-send the worker
that holds the scheduler leadership is killed with SIGKILL. The test shows:

* every recipient receives the issue, and at most the messages in flight at the kill
  (one claimed batch) arrive twice - counted by Message-ID at the sink;
* the other worker takes the leadership over within a minute: an issue scheduled after
  the kill is started on time;
* both web instances still answer ``/readyz``.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import create_engine, create_session_factory, utcnow
from service.delivery.models import Delivery
from service.delivery.worker import AHEAD
from service.issues.models import Block, Issue, IssueList
from service.ops.import_csv import import_subscribers
from service.settings import Settings
from subscribers import service as subs
from tests.conftest import DatabaseTemplates, free_port, free_ports, make_settings

RECIPIENTS = 5000
BATCH = 50  # INNAN_SEND_BATCH_SIZE: messages one claim takes
# A worker claims at most two batches ahead of the one it is recording (worker.AHEAD).
IN_FLIGHT = BATCH * (AHEAD + 1)  # at most this many messages are in flight in one worker
LEASE_SECONDS = 15  # worker --lease-seconds: a dead worker's claims are queued again after this
TAKEOVER_SECONDS = 60
BIN = Path(sys.executable).parent / "innanforskapet"
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.I | re.M)


class CountingSink:
    """An aiosmtpd server that keeps only each message's Message-ID (5 000 mails stay small)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.lock = threading.Lock()
        self.ids: Counter[bytes] = Counter()
        self.controller = Controller(self, hostname="127.0.0.1", port=port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        head = bytes(envelope.content).split(b"\r\n\r\n", 1)[0]
        found = MESSAGE_ID.search(head)
        with self.lock:
            self.ids[found.group(1) if found else b"<none>"] += 1
        return "250 OK"

    def total(self) -> int:
        with self.lock:
            return sum(self.ids.values())

    def snapshot(self) -> Counter[bytes]:
        with self.lock:
            return Counter(self.ids)


@pytest.fixture
def sink() -> Iterator[CountingSink]:
    server = CountingSink(free_port())
    server.controller.start()
    yield server
    server.controller.stop()


@pytest.fixture
def pg_settings(db_templates: DatabaseTemplates, tmp_path: Path, sink: CountingSink) -> Settings:
    return make_settings(
        tmp_path,
        db_templates.new_pg(),
        INNAN_SMTP_URL=f"smtp://127.0.0.1:{sink.port}",
        INNAN_SEND_BATCH_SIZE=str(BATCH),
        INNAN_SMTP_POOL_SIZE="2",
    )


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INNAN_")}
    env.update(
        INNAN_ENV="test",
        INNAN_VAR_DIR=str(settings.var_dir),
        INNAN_DATABASE_URL=settings.database_url,
        INNAN_BASE_URL=settings.base_url,
        INNAN_SECRET_KEY=settings.secret_key,
        INNAN_MAIL_FROM=settings.mail_from,
        INNAN_SMTP_URL=settings.smtp_url or "",
        INNAN_SEND_BATCH_SIZE=str(BATCH),
        INNAN_SMTP_POOL_SIZE="2",
        INNAN_LOG_LEVEL="INFO",
    )
    env.update(extra)
    return env


class Processes:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("wb")
        proc = subprocess.Popen([str(BIN), *args], env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.running[name] = proc
        return proc

    def logs(self) -> str:
        parts = []
        for name in self.running:
            text_ = (self.log_dir / f"{name}.log").read_text(errors="replace")
            parts.append(f"--- {name} ---\n{text_[-3000:]}")
        return "\n".join(parts)

    def stop_all(self) -> None:
        for proc in self.running.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.running.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    yield procs
    procs.stop_all()


@pytest.fixture
async def pg_session(pg_settings: Settings) -> AsyncIterator[AsyncSession]:
    engine = create_engine(pg_settings.database_url)
    async with create_session_factory(engine)() as session:
        yield session
    await engine.dispose()


async def _audience(session: AsyncSession, settings: Settings) -> None:
    """5 000 confirmed subscribers on the newsletter, 10 on a second list (bulk import)."""
    rows = ["e-post;namn"] + [f"mottagare{i}@example.se;Mottagare {i}" for i in range(RECIPIENTS)]
    report = await import_subscribers(
        session,
        settings,
        io.BytesIO("\n".join(rows).encode()),
        list_slug="nyhetsbrev",
        basis="consent",
        source="skalning",
    )
    assert report.valid == RECIPIENTS
    await subs.create_list(session, "kalendarium", "Kalendarium")
    await session.commit()
    rows = ["e-post"] + [f"kal{i}@example.se" for i in range(10)]
    await import_subscribers(
        session,
        settings,
        io.BytesIO("\n".join(rows).encode()),
        list_slug="kalendarium",
        basis="consent",
        source="skalning",
    )


async def _issue(session: AsyncSession, slug: str, list_slug: str) -> int:
    mailing_list = await subs.list_by_slug(session, list_slug)
    assert mailing_list is not None
    issue = Issue(
        slug=slug,
        title=f"Nyhetsbrev {slug}",
        subject=f"Nyhetsbrev {slug}",
        issue_date=date(2019, 8, 15),
        status="draft",
        organisations=[],
        roles=[],
    )
    session.add(issue)
    await session.flush()
    session.add(IssueList(issue_id=issue.id, list_id=mailing_list.id))
    session.add(
        Block(
            issue_id=issue.id,
            position=0,
            kind="article",
            data={"heading": "Hej %%INNAN_NAME%%", "body": "Augusti i Halland."},
        )
    )
    await session.commit()
    return issue.id


async def _send_cli(settings: Settings, slug: str, *args: str) -> str:
    """``innanforskapet issues send SLUG [--at ISO] --yes`` as an operator's script runs it."""
    completed = await asyncio.to_thread(
        subprocess.run,
        [str(BIN), "issues", "send", slug, *args, "--yes"],
        env=_env(settings),
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


async def _leader_pid(session: AsyncSession, workers: list[psutil.Process]) -> int | None:
    """The worker process whose database connection holds an advisory lock."""
    ports = (
        await session.execute(
            text(
                "SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()"
            )
        )
    ).scalars()
    wanted = {int(p) for p in ports if p is not None}
    await session.rollback()
    for proc in workers:
        try:
            local = {c.laddr.port for c in proc.net_connections(kind="tcp") if c.laddr}
        except psutil.NoSuchProcess:
            continue
        if local & wanted:
            return proc.pid
    return None


async def _wait_for(predicate: Any, timeout: float, what: str, procs: Processes) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{procs.logs()}")
        await asyncio.sleep(0.1)


async def test_two_web_two_workers_survive_killing_the_leader(
    pg_settings: Settings,
    pg_session: AsyncSession,
    sink: CountingSink,
    processes: Processes,
) -> None:
    settings, session = pg_settings, pg_session
    await _audience(session, settings)
    big = await _issue(session, "augusti-2019", "nyhetsbrev")
    later = await _issue(session, "kalendarium-september", "kalendarium")
    await session.close()

    web_ports = free_ports(2)
    for n, port in enumerate(web_ports, 1):
        processes.start(
            f"web{n}",
            ["serve", "--host", "127.0.0.1", "--port", str(port), "--no-workers"],
            _env(settings, INNAN_RUN_WORKERS="false"),
        )
    worker_args = ["worker", "--lease-seconds", str(LEASE_SECONDS)]
    workers = [processes.start(f"worker{n}", worker_args, _env(settings)) for n in (1, 2)]
    handles = [psutil.Process(p.pid) for p in workers]

    async with httpx.AsyncClient(timeout=5) as http:

        async def webs_ready() -> bool:
            for port in web_ports:
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code != 200:
                        return False
                except httpx.TransportError:
                    return False
            return True

        await _wait_for(webs_ready, 60, "both web instances ready", processes)
        first_leader = await _wait_for(
            lambda: _leader_pid(session, handles), 60, "a scheduler leader", processes
        )

        assert "skickas nu" in await _send_cli(settings, "augusti-2019")
        await _wait_for(
            lambda: _async_value(sink.total() >= RECIPIENTS // 5),
            120,
            "sending to begin",
            processes,
        )
        os.kill(first_leader, signal.SIGKILL)
        killed_at = utcnow()
        received_at_kill = sink.total()
        assert received_at_kill < RECIPIENTS, "the send finished before the kill; nothing shown"

        # A send scheduled after the kill must still be started by the new leader.
        due = (killed_at + timedelta(seconds=5)).isoformat()
        scheduled = await _send_cli(settings, "kalendarium-september", "--at", due)
        assert "schemalagt" in scheduled
        survivors = [h for h in handles if h.pid != first_leader]
        new_leader = await _wait_for(
            lambda: _leader_pid(session, survivors),
            TAKEOVER_SECONDS,
            "the surviving worker to take over the leadership",
            processes,
        )
        assert new_leader != first_leader

        async def later_started() -> bool:
            session.expire_all()
            issue = await session.get(Issue, later)
            return issue is not None and issue.status in ("sending", "sent")

        await _wait_for(later_started, TAKEOVER_SECONDS + 10, "the scheduled send", processes)

        async def all_sent() -> bool:
            open_rows = (
                await session.execute(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.issue_id == big, Delivery.state != "sent")
                )
            ).scalar_one()
            await session.rollback()
            return int(open_rows) == 0

        await _wait_for(all_sent, 300, "every delivery of the big issue to be sent", processes)

        for port in web_ports:
            ready = await http.get(f"http://127.0.0.1:{port}/readyz")
            assert ready.status_code == 200 and ready.json()["status"] == "ready"

    expected = {
        mid.encode()
        for (mid,) in (
            await session.execute(select(Delivery.message_id).where(Delivery.issue_id == big))
        ).all()
    }
    assert len(expected) == RECIPIENTS
    received = sink.snapshot()
    missing = expected - set(received)
    duplicates = sum(n - 1 for mid, n in received.items() if mid in expected and n > 1)
    print(
        f"received at kill: {received_at_kill}, total received: {sum(received.values())}, "
        f"duplicates: {duplicates}, leader {first_leader} -> {new_leader}"
    )
    assert not missing, f"{len(missing)} recipients never received the issue"
    assert duplicates <= IN_FLIGHT, f"{duplicates} duplicates; at most {IN_FLIGHT} were in flight"
    later_ids = {
        mid.encode()
        for (mid,) in (
            await session.execute(select(Delivery.message_id).where(Delivery.issue_id == later))
        ).all()
    }
    assert len(later_ids) == 10


async def _async_value(value: bool) -> bool:
    return value
