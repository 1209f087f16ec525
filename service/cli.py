"""The ``innanforskapet`` command: database, server, and each domain's commands.

Domains add their command groups through ``register(main)`` in their ``cli.py``.
Every command reads the settings from the environment; a bad setting ends the command
with a message naming the variable and exit status 2.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession

import service.models  # noqa: F401 - every model registered (foreign keys across domains)
from service.db import create_engine, create_session_factory, session_scope
from service.errors import DomainError
from service.settings import Settings, SettingsError, load_settings

T = TypeVar("T")

CLI_MODULES = (
    "service.demo",
    "subscribers.cli",
    "service.editor.cli",
    "service.issues.cli",
    "service.calendar.cli",
    "service.events.cli",
    "service.delivery.cli",
    "archive.cli",
    "service.ops.cli",
)


OUTBOX_NOTICE = (
    "OBS: INNAN_SMTP_URL är inte satt. Inga brev lämnar maskinen: de skrivs som filer i "
    "{outbox} (utkorgen, för utveckling och prov) och tas bort efter {days} dagar. "
    "Sätt INNAN_SMTP_URL för att skicka på riktigt."
)


def get_settings() -> Settings:
    try:
        settings = load_settings()
    except SettingsError as exc:
        click.echo(f"Fel i inställningarna: {exc}", err=True)
        sys.exit(2)
    # INNAN_LOG_LEVEL: the service's own log lines as well as uvicorn's (uvicorn_options).
    logging.getLogger().setLevel(settings.log_level)
    return settings


def run_in_session(settings: Settings, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``fn(session)`` in one committed transaction; domain errors exit with status 1."""

    async def runner() -> T:
        engine = create_engine(settings.database_url)
        try:
            async with session_scope(create_session_factory(engine)) as session:
                return await fn(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(runner())
    except DomainError as exc:
        click.echo(f"Fel: {exc.message}", err=True)
        for field, problem in exc.fields.items():
            click.echo(f"  {field}: {problem}", err=True)
        sys.exit(1)


@click.group()
def main() -> None:
    """Innanförskapet – nyhetsbrev och medlemskommunikation."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # APScheduler logs every run of every job at INFO; only its problems are worth reading.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Run the schema migrations (SQLite or PostgreSQL)."""
    settings = get_settings()  # first: it sets the log level alembic logs at on import
    from service.migrate import upgrade

    if settings.is_sqlite:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url, revision)
    click.echo(f"Databasen är uppgraderad till {revision}.")


SQLITE_PROCESSES_NOTICE = (
    "OBS: flera processer på SQLite. Processernas skrivningar (anmälningar, sessioner) "
    "möts i SQLites väntan på låset och utskicken kräver en separat "
    "`innanforskapet worker`; en process är att föredra på SQLite."
)


@main.command()
@click.option("--host", default=None, help="Override INNAN_HOST")
@click.option("--port", type=int, default=None, help="Override INNAN_PORT")
@click.option("--workers/--no-workers", default=None, help="Run delivery workers in-process")
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Web server processes (uvicorn workers) sharing the port; above 1 the in-process "
    "delivery worker and scheduler are off: run `innanforskapet worker`",
)
def serve(host: str | None, port: int | None, workers: bool | None, processes: int) -> None:
    """Start the web service."""
    import uvicorn

    settings = get_settings()
    if processes > 1:
        if workers:
            click.echo(
                "Fel: --workers går inte med --processes över 1 (utskicken skulle köras en "
                "gång per process). Kör `innanforskapet worker` vid sidan av.",
                err=True,
            )
            sys.exit(2)
        workers = False
        if settings.is_sqlite:
            click.echo(SQLITE_PROCESSES_NOTICE)
    if workers is not None:
        settings = settings.with_overrides(run_workers=workers)
    if settings.smtp_url is None:
        click.echo(OUTBOX_NOTICE.format(outbox=settings.outbox_dir, days=settings.outbox_keep_days))
    options = uvicorn_options(settings, host, port)
    if processes > 1:
        # Each process builds its own app from the environment; none runs the workers.
        os.environ["INNAN_RUN_WORKERS"] = "false"
        uvicorn.run("service.cli:process_app", factory=True, workers=processes, **options)
        return
    uvicorn.run(_frozen(_create_app(settings)), **options)


def _create_app(settings: Settings) -> Any:
    from service.app import create_app

    return create_app(settings)


def process_app() -> Any:
    """The app of one ``serve --processes N`` process (uvicorn's factory), from the
    environment the parent left (``INNAN_RUN_WORKERS=false``)."""
    return _frozen(_create_app(get_settings()))


def _frozen(app: T) -> T:
    # Everything built so far (routes, templates, models) lives as long as the process:
    # keep it out of the cyclic collector, whose full passes otherwise stall requests
    # (archive p99 at 32 connections: ~90 ms without, ~14 ms with; bench/bench_archive.py).
    gc.collect()
    gc.freeze()
    return app


def uvicorn_options(settings: Settings, host: str | None, port: int | None) -> dict[str, Any]:
    """How ``serve`` runs uvicorn (the archive benchmark runs its yardstick app the same way)."""
    return {
        "host": host or settings.host,
        "port": port or settings.port,
        "log_level": settings.log_level.lower(),
        "proxy_headers": True,
        "forwarded_allow_ips": list(settings.trusted_proxies),
    }


for _module_name in CLI_MODULES:
    _module = importlib.import_module(_module_name)
    _module.register(main)
