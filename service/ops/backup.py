"""Backup and restore: SQLite online backup (``sqlite3.Connection.backup``), pg_dump/pg_restore.

A SQLite backup is consistent while the service is running (the backup API copies a
snapshot page by page). A restore refuses to overwrite a database that holds data
unless forced, and accepts only a SQLite file carrying our schema.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from service.errors import Conflict, ValidationFailed

SQLITE_MAGIC = b"SQLite format 3\x00"
# Tables the first migration fills with seed rows: their rows do not make a database "used".
SEED_TABLES = {"alembic_version", "mailing_lists", "consent_texts"}
REQUIRED_TABLES = {"alembic_version", "subscribers", "consent_events", "mailing_lists"}


@dataclass
class BackupResult:
    path: Path
    counts: dict[str, int]
    command: list[str] | None = None


def sqlite_path(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise ValidationFailed("Databasen ligger i minnet och kan inte säkerhetskopieras.")
    return Path(database)


def libpq_url(database_url: str) -> str:
    """``postgresql://...`` for pg_dump/pg_restore, without the password (that goes in
    PGPASSWORD, so it never shows in the process list)."""
    url = make_url(database_url).set(drivername="postgresql", password=None)
    return url.render_as_string(hide_password=False)


def libpq_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    password = make_url(database_url).password
    if password:
        env["PGPASSWORD"] = str(password)
    return env


def table_counts(connection: sqlite3.Connection) -> dict[str, int]:
    names = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            " ORDER BY name"
        )
    ]
    return {n: connection.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


def has_data(counts: dict[str, int]) -> bool:
    return any(count for name, count in counts.items() if name not in SEED_TABLES)


def backup_sqlite(database_url: str, target: Path, *, force: bool = False) -> BackupResult:
    source_path = sqlite_path(database_url)
    if not source_path.exists():
        raise ValidationFailed(f"Databasfilen {source_path} finns inte.")
    if target.exists() and not force:
        raise Conflict(f"{target} finns redan. Välj ett annat namn eller använd --force.")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    destination = sqlite3.connect(partial)
    try:
        source.backup(destination, pages=1024)
        check = destination.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise ValidationFailed(f"Kopian klarade inte kontrollen: {check}")
        counts = table_counts(destination)
    finally:
        destination.close()
        source.close()
    partial.replace(target)
    target.chmod(0o600)
    return BackupResult(path=target, counts=counts)


def validate_sqlite_backup(path: Path) -> dict[str, int]:
    """Table counts of a SQLite backup; ValidationFailed unless it is one with our schema."""
    if not path.is_file():
        raise ValidationFailed(f"Filen {path} finns inte.")
    with path.open("rb") as handle:
        if handle.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
            raise ValidationFailed(f"{path} är ingen SQLite-databas.")
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        counts = table_counts(connection)
        missing = REQUIRED_TABLES - set(counts)
        if missing:
            raise ValidationFailed(
                f"{path} är en SQLite-databas men inte en säkerhetskopia av Innanförskapet "
                f"(tabeller saknas: {', '.join(sorted(missing))})."
            )
        if connection.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise ValidationFailed(f"{path} är skadad (PRAGMA quick_check misslyckades).")
    except sqlite3.DatabaseError as exc:
        raise ValidationFailed(f"{path} går inte att läsa som SQLite-databas: {exc}") from None
    finally:
        connection.close()
    return counts


def restore_sqlite(database_url: str, backup: Path, *, force: bool = False) -> BackupResult:
    counts = validate_sqlite_backup(backup)
    target_path = sqlite_path(database_url)
    if target_path.exists() and target_path.stat().st_size > 0 and not force:
        try:
            existing = sqlite3.connect(f"file:{target_path}?mode=ro", uri=True)
            try:
                used = has_data(table_counts(existing))
            finally:
                existing.close()
        except sqlite3.DatabaseError:
            used = True
        if used:
            raise Conflict(
                f"Databasen {target_path} innehåller redan data. Stoppa tjänsten och kör "
                "igen med --force för att skriva över den."
            )
    target_path.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    destination = sqlite3.connect(target_path, timeout=30)
    try:
        source.backup(destination)
        restored = table_counts(destination)
    finally:
        destination.close()
        source.close()
    if restored != counts:
        raise ValidationFailed("Återläsningen gav inte samma antal rader som säkerhetskopian.")
    return BackupResult(path=target_path, counts=restored)


def pg_dump_command(database_url: str, target: Path) -> list[str]:
    return [
        "pg_dump",
        "--format=custom",
        "--no-owner",
        "--file",
        str(target),
        libpq_url(database_url),
    ]


def pg_restore_command(database_url: str, backup: Path) -> list[str]:
    return [
        "pg_restore",
        "--clean",
        "--if-exists",
        "--no-owner",
        "--exit-on-error",
        "--single-transaction",
        "--dbname",
        libpq_url(database_url),
        str(backup),
    ]


def shown(command: list[str]) -> str:
    """The command as text with any password masked."""
    out = []
    for part in command:
        if part.startswith("postgresql://"):
            part = make_url(part).render_as_string(hide_password=True)
        out.append(part)
    return " ".join(out)


def run_pg(command: list[str], database_url: str) -> tuple[bool, str]:
    """Run pg_dump/pg_restore; (False, guidance) when the program is missing."""
    if shutil.which(command[0]) is None:
        return False, (
            f"{command[0]} finns inte på den här datorn. Installera PostgreSQL-klienten "
            f"(Debian: apt-get install postgresql-client) och kör (med lösenordet i "
            f"PGPASSWORD eller ~/.pgpass):\n  {shown(command)}"
        )
    completed = subprocess.run(  # noqa: S603 - fixed program, our own arguments
        command, capture_output=True, text=True, check=False, env=libpq_env(database_url)
    )
    if completed.returncode != 0:
        raise ValidationFailed(
            f"{command[0]} misslyckades (status {completed.returncode}): "
            f"{completed.stderr.strip()[:2000]}"
        )
    return True, shown(command)
