"""Shared fixtures: real databases on both backends, the app, and a real SMTP server.

* ``db_url`` is parametrised over ``sqlite`` and ``postgresql``: every test that uses it
  (directly or through ``settings``/``app``/``client``/``session``) runs on both.
  The schema is migrated once per run into a template (a SQLite file, a PostgreSQL
  template database); each test gets a fresh copy. PostgreSQL databases are created on
  127.0.0.1:5432 with a per-run prefix and dropped at the end.
* ``smtp_server`` is an in-process aiosmtpd server that records what it receives and
  answers with injected 4xx/5xx replies on demand.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import click.testing
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import create_app
from service.db import create_engine, create_session_factory
from service.migrate import upgrade
from service.settings import Settings, load_settings
from tests.browser import browser_page, live_server  # noqa: F401 - shared fixtures
from tests.smtp import SmtpServer

PG_ADMIN_DSN = os.environ.get("INNAN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
RUN_ID = f"innan_t{os.getpid()}_{uuid.uuid4().hex[:6]}"


def _pg_admin_url() -> str:
    return PG_ADMIN_DSN


async def _pg_exec(statements: list[str], database: str | None = None) -> None:
    import asyncpg

    dsn = _pg_admin_url()
    if database is not None:
        dsn = dsn.rsplit("/", 1)[0] + "/" + database
    conn = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def pg_url(database: str) -> str:
    base = _pg_admin_url().replace("postgresql://", "postgresql+asyncpg://", 1)
    return base.rsplit("/", 1)[0] + "/" + database


class DatabaseTemplates:
    """Migrated template databases, made once per run and copied per test."""

    def __init__(self, tmp_root: Path) -> None:
        self.tmp_root = tmp_root
        self._sqlite: Path | None = None
        self._pg: str | None = None
        self.pg_databases: list[str] = []

    def sqlite_template(self) -> Path:
        if self._sqlite is None:
            path = self.tmp_root / "template.db"
            upgrade(f"sqlite+aiosqlite:///{path}")
            self._sqlite = path
        return self._sqlite

    def new_sqlite(self, directory: Path) -> str:
        target = directory / "innanforskapet.db"
        shutil.copyfile(self.sqlite_template(), target)
        return f"sqlite+aiosqlite:///{target}"

    def pg_template(self) -> str:
        if self._pg is None:
            name = f"{RUN_ID}_tpl"
            asyncio.run(_pg_exec([f'CREATE DATABASE "{name}"']))
            self.pg_databases.append(name)
            upgrade(pg_url(name))
            self._pg = name
        return self._pg

    def new_pg(self) -> str:
        template = self.pg_template()
        name = f"{RUN_ID}_{uuid.uuid4().hex[:8]}"
        asyncio.run(_pg_exec([f'CREATE DATABASE "{name}" TEMPLATE "{template}"']))
        self.pg_databases.append(name)
        return pg_url(name)

    def drop_pg(self, name: str) -> None:
        asyncio.run(_pg_exec([f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)']))

    def drop_all(self) -> None:
        for name in reversed(self.pg_databases):
            self.drop_pg(name)
        self.pg_databases.clear()


@pytest.fixture(scope="session")
def db_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseTemplates]:
    templates = DatabaseTemplates(tmp_path_factory.mktemp("db-templates"))
    yield templates
    templates.drop_all()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, db_templates: DatabaseTemplates, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database on the parametrised backend."""
    if backend == "sqlite":
        yield db_templates.new_sqlite(tmp_path)
        return
    url = db_templates.new_pg()
    yield url
    name = url.rsplit("/", 1)[1]
    db_templates.drop_pg(name)
    db_templates.pg_databases.remove(name)


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment a CLI command needs to act on the same database and directories."""
    env = {
        "INNAN_ENV": "test",
        "INNAN_VAR_DIR": str(settings.var_dir),
        "INNAN_DATABASE_URL": settings.database_url,
        "INNAN_BASE_URL": settings.base_url,
        "INNAN_SECRET_KEY": settings.secret_key,
        "INNAN_MAIL_FROM": settings.mail_from,
        "INNAN_OUTBOX_DIR": str(settings.outbox_dir),
        "INNAN_RUN_WORKERS": "false",
    }
    if settings.smtp_url:
        env["INNAN_SMTP_URL"] = settings.smtp_url
    env.update(extra)
    return env


def run_cli(
    settings: Settings, *args: str, input: str | None = None, **extra_env: str
) -> click.testing.Result:
    """``innanforskapet ARGS`` through click, on the test's database and directories."""
    from service.cli import main

    return click.testing.CliRunner().invoke(
        main, list(args), env=cli_env(settings, **extra_env), input=input
    )


@pytest.fixture
def demo_loaded(settings: Settings) -> Settings:
    """The test's settings, after ``innanforskapet demo load`` on its database."""
    result = run_cli(settings, "demo", "load")
    assert result.exit_code == 0, result.output
    return settings


def make_settings(tmp_path: Path, db_url: str, **env: str) -> Settings:
    base = {
        "INNAN_ENV": "test",
        "INNAN_VAR_DIR": str(tmp_path / "var"),
        "INNAN_DATABASE_URL": db_url,
        "INNAN_BASE_URL": "http://testserver.local",
        "INNAN_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "INNAN_MAIL_FROM": "Innanförskapet <nyhetsbrev@innanforskapet.test>",
        "INNAN_RUN_WORKERS": "false",
    }
    base.update(env)
    return load_settings(base)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return make_settings(tmp_path, db_url)


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as c:
        yield c


@pytest.fixture
async def session(settings: Settings) -> AsyncIterator[AsyncSession]:
    """A session on the test database (commit explicitly to make changes visible)."""
    engine = create_engine(settings.database_url)
    factory = create_session_factory(engine)
    async with factory() as s:
        yield s
    await engine.dispose()


async def drain_mail_queue(settings: Settings) -> int:
    """Let a worker send what the transactional mail queue holds now (as the delivery
    worker does within seconds in production); returns the rows handled."""
    from service.delivery.outbound import OutboundWorker
    from service.mail.transport import make_transport

    engine = create_engine(settings.database_url, pool_size=2)
    transport = make_transport(settings)
    try:
        worker = OutboundWorker(
            settings,
            create_session_factory(engine),
            transport,
            worker_id=f"{socket.gethostname()}:{os.getpid()}:tests",
        )
        return await worker.drain()
    finally:
        await transport.close()
        await engine.dispose()


def deliver_queued(settings: Settings) -> int:
    """:func:`drain_mail_queue` from synchronous code, also while an event loop runs here
    (a thread with a loop of its own, so the test's loop and app stay untouched)."""
    handled: list[int] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            handled.append(asyncio.run(drain_mail_queue(settings)))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, name="drain-mail-queue")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return handled[0]


def outbox_messages(settings: Settings) -> list[bytes]:
    """The .eml files the outbox transport wrote, oldest first."""
    directory = settings.outbox_dir
    if not directory.exists():
        return []
    files = sorted(directory.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    return [p.read_bytes() for p in files]


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports.

    All sockets stay bound until every port is known: ports taken one at a time can
    repeat (the kernel may hand out a port again once its probe socket is closed), and
    a server given the same port twice fails with "duplicate listener".
    """
    with contextlib.ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]


def free_port() -> int:
    return free_ports(1)[0]


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(port=free_port())
    server.start()
    yield server
    server.stop()
