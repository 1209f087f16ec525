"""Operator commands: ``subscribers import``, ``backup``, ``restore``, ``migrate-data``,
``check-config``."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click

from service.errors import DomainError


def _fail(exc: DomainError) -> None:
    click.echo(f"Fel: {exc.message}", err=True)
    for fld, problem in exc.fields.items():
        if problem != exc.message:
            click.echo(f"  {fld}: {problem}", err=True)
    sys.exit(1)


def _subscribers_group(main: click.Group) -> click.Group:
    group = main.commands.get("subscribers")
    if isinstance(group, click.Group):
        return group

    @main.group("subscribers")
    def subscribers_group() -> None:
        """Subscribers."""

    return subscribers_group


def _echo_counts(counts: dict[str, int]) -> None:
    """The row counts an operator checks after a backup or restore."""
    for name in ("subscribers", "consent_events", "issues"):
        if name in counts:
            click.echo(f"  {name}: {counts[name]} rader")


def register(main: click.Group) -> None:
    subscribers = _subscribers_group(main)

    @subscribers.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--list", "list_slug", required=True, help="Slug of the list to add to.")
    @click.option(
        "--basis",
        type=click.Choice(["consent", "legitimate-interest"]),
        required=True,
        help="Lawful basis recorded in the consent ledger.",
    )
    @click.option("--source", required=True, help="Where the addresses come from (recorded).")
    @click.option("--dry-run", is_flag=True, help="Report only; write nothing.")
    @click.option(
        "--reject-file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Where to write rejected rows (default: FILE.avvisade.csv).",
    )
    def import_command(
        file: Path,
        list_slug: str,
        basis: str,
        source: str,
        dry_run: bool,
        reject_file: Path | None,
    ) -> None:
        """Import subscribers from a CSV file (UTF-8 or Windows-1252; , ; or tab)."""
        from service.cli import get_settings
        from service.db import create_engine, create_session_factory
        from service.ops.import_csv import import_subscribers

        settings = get_settings()
        reject_path = reject_file or file.with_name(file.stem + ".avvisade.csv")
        size = file.stat().st_size
        show_bar = sys.stderr.isatty()

        async def runner(bar: Any) -> Any:
            engine = create_engine(settings.database_url)
            position = [0]

            def progress(done: int) -> None:
                if bar is not None:
                    bar.update(done - position[0])
                position[0] = done

            try:
                async with create_session_factory(engine)() as session:
                    with (
                        file.open("rb") as stream,
                        reject_path.open("w", encoding="utf-8-sig", newline="") as rejects,
                    ):
                        return await import_subscribers(
                            session,
                            settings,
                            stream,
                            list_slug=list_slug,
                            basis=basis,
                            source=source,
                            dry_run=dry_run,
                            reject_out=rejects,
                            actor="cli",
                            progress=progress,
                        )
            finally:
                await engine.dispose()

        try:
            if show_bar:
                with click.progressbar(
                    length=size, label="Importerar", file=sys.stderr, show_percent=True
                ) as bar:
                    report = asyncio.run(runner(bar))
            else:
                report = asyncio.run(runner(None))
        except DomainError as exc:
            reject_path.unlink(missing_ok=True)
            _fail(exc)
            return
        for line in report.lines():
            click.echo(line)
        if report.rejected:
            click.echo(f"Avvisade rader med orsak: {reject_path}")
        else:
            reject_path.unlink(missing_ok=True)

    @main.command("backup")
    @click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
    def backup_command(path: Path, force: bool) -> None:
        """Back up the database (SQLite online backup, or pg_dump -Fc) to PATH."""
        from service.cli import get_settings
        from service.ops import backup

        settings = get_settings()
        try:
            if settings.is_sqlite:
                result = backup.backup_sqlite(settings.database_url, path, force=force)
                click.echo(f"Säkerhetskopian är skriven till {result.path}.")
                _echo_counts(result.counts)
                return
            if path.exists() and not force:
                click.echo(f"Fel: {path} finns redan. Använd --force.", err=True)
                sys.exit(1)
            path.parent.mkdir(parents=True, exist_ok=True)
            ran, text = backup.run_pg(
                backup.pg_dump_command(settings.database_url, path), settings.database_url
            )
            if ran:
                path.chmod(0o600)
        except DomainError as exc:
            _fail(exc)
            return
        if not ran:
            click.echo(text, err=True)
            sys.exit(1)
        click.echo(f"Säkerhetskopian är skriven till {path} ({text}).")

    @main.command("restore")
    @click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--force", is_flag=True, help="Overwrite a database that holds data.")
    def restore_command(path: Path, force: bool) -> None:
        """Restore the database from a backup made by ``backup`` (stop the service first)."""
        from service.cli import get_settings
        from service.db import create_engine
        from service.ops import backup
        from service.ops.migrate_data import has_data

        settings = get_settings()
        try:
            if settings.is_sqlite:
                result = backup.restore_sqlite(settings.database_url, path, force=force)
                click.echo(f"Databasen {result.path} är återläst från {path}.")
                _echo_counts(result.counts)
                return
            if not path.is_file():
                click.echo(f"Fel: Filen {path} finns inte.", err=True)
                sys.exit(1)

            async def used() -> bool:
                engine = create_engine(settings.database_url)
                try:
                    return await has_data(engine)
                finally:
                    await engine.dispose()

            if not force and asyncio.run(used()):
                click.echo(
                    "Fel: Databasen innehåller redan data. Stoppa tjänsten och kör igen med "
                    "--force för att skriva över den.",
                    err=True,
                )
                sys.exit(1)
            ran, text = backup.run_pg(
                backup.pg_restore_command(settings.database_url, path), settings.database_url
            )
        except DomainError as exc:
            _fail(exc)
            return
        if not ran:
            click.echo(text, err=True)
            sys.exit(1)
        click.echo(f"Databasen är återläst från {path} ({text}).")

    @main.command("migrate-data")
    @click.option("--from", "source", required=True, help="Source database URL (e.g. SQLite).")
    @click.option("--to", "target", required=True, help="Target database URL (PostgreSQL).")
    @click.option("--force", is_flag=True, help="Empty a target that already holds data.")
    def migrate_data_command(source: str, target: str, force: bool) -> None:
        """Copy every table from one database to another and verify the row counts."""
        from service.ops.migrate_data import copy_database
        from service.settings import SettingsError, _database_url

        try:
            source_url = _database_url("--from", source)
            target_url = _database_url("--to", target)
        except SettingsError as exc:
            click.echo(f"Fel: {exc}", err=True)
            sys.exit(2)

        def progress(table: str, copied: int) -> None:
            if sys.stderr.isatty():
                click.echo(f"\r{table}: {copied}", err=True, nl=False)

        try:
            report = asyncio.run(
                copy_database(source_url, target_url, force=force, progress=progress)
            )
        except DomainError as exc:
            _fail(exc)
            return
        if sys.stderr.isatty():
            click.echo("", err=True)
        for line in report.lines():
            click.echo(line)
        click.echo("Alla tabeller är kopierade och antalet rader stämmer.")

    @main.command("check-config")
    def check_config_command() -> None:
        """Check settings, database, directories, SMTP login and DKIM key."""
        from service.ops.check_config import run_checks

        checks = asyncio.run(run_checks())
        for check in checks:
            click.echo(check.line())
        failed = [c for c in checks if not c.ok]
        if failed:
            click.echo(f"{len(failed)} kontroll(er) misslyckades.")
            sys.exit(1)
        click.echo("Allt ser bra ut.")
