"""Backup -> wipe -> restore finds every subscriber and consent record (both backends)."""

from __future__ import annotations

import asyncio
import io
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import create_engine, create_session_factory
from service.ops.backup import sqlite_path
from service.ops.import_csv import import_subscribers
from service.settings import Settings
from subscribers.models import ConsentEvent, Subscriber
from tests.conftest import DatabaseTemplates, make_settings
from tests.ops.helpers import arun


async def _fill(session: AsyncSession, settings: Settings) -> None:
    lines = ["e-post;namn;organisation"] + [
        f"person{i}@example.se;Märta {i} Ängström;Förbund {i % 7}" for i in range(120)
    ]
    await import_subscribers(
        session,
        settings,
        io.BytesIO("\r\n".join(lines).encode("cp1252")),
        list_slug="nyhetsbrev",
        basis="consent",
        source="backup-test",
    )


async def _snapshot(database_url: str) -> tuple[int, int, Any, Any]:
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            people = (await session.execute(select(func.count()).select_from(Subscriber))).scalar()
            events = (
                await session.execute(select(func.count()).select_from(ConsentEvent))
            ).scalar()
            person = (
                await session.execute(
                    select(Subscriber.email, Subscriber.name, Subscriber.organisation).where(
                        Subscriber.email == "person42@example.se"
                    )
                )
            ).one()
            event = (
                await session.execute(
                    select(ConsentEvent.lawful_basis, ConsentEvent.source, ConsentEvent.event)
                    .order_by(ConsentEvent.id.desc())
                    .limit(1)
                )
            ).one()
    finally:
        await engine.dispose()
    return int(people or 0), int(events or 0), tuple(person), tuple(event)


async def _wipe(settings: Settings) -> None:
    if settings.is_sqlite:
        path = sqlite_path(settings.database_url)
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return
    engine = create_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


async def test_backup_wipe_restore_same_counts(
    settings: Settings, session: AsyncSession, tmp_path: Path
) -> None:
    await _fill(session, settings)
    before = await _snapshot(settings.database_url)
    assert before[0] == 120 and before[1] == 120
    assert before[2] == ("person42@example.se", "Märta 42 Ängström", "Förbund 0")
    assert before[3] == ("consent", "import:backup-test", "confirmed")

    target = tmp_path / "kopia" / "innan.backup"
    made = await arun(settings, "backup", str(target))
    assert made.exit_code == 0, made.output
    assert "Säkerhetskopian är skriven till" in made.output
    assert target.stat().st_size > 0
    again = await arun(settings, "backup", str(target))
    assert again.exit_code == 1 and "finns redan" in again.output

    await _wipe(settings)
    restored = await arun(settings, "restore", str(target))
    assert restored.exit_code == 0, restored.output
    assert "återläst" in restored.output
    assert await _snapshot(settings.database_url) == before

    # A database with data is never overwritten by mistake.
    refused = await arun(settings, "restore", str(target))
    assert refused.exit_code == 1
    assert "innehåller redan data" in refused.output
    forced = await arun(settings, "restore", str(target), "--force")
    assert forced.exit_code == 0, forced.output
    assert await _snapshot(settings.database_url) == before


@pytest.fixture
def sqlite_settings(db_templates: DatabaseTemplates, tmp_path: Path) -> Settings:
    return make_settings(tmp_path, db_templates.new_sqlite(tmp_path))


async def test_restore_of_a_missing_file(settings: Settings, tmp_path: Path) -> None:
    missing = await arun(settings, "restore", str(tmp_path / "nope.dump"))
    assert missing.exit_code == 1 and "finns inte" in missing.output


async def test_restore_refuses_files_that_are_not_our_backups(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    settings = sqlite_settings
    await _wipe(settings)
    text_file = tmp_path / "inte.db"
    text_file.write_text("hej", encoding="utf-8")
    wrong = await arun(settings, "restore", str(text_file))
    assert wrong.exit_code == 1 and "är ingen SQLite-databas" in wrong.output
    other = tmp_path / "annan.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.commit()
    conn.close()
    foreign = await arun(settings, "restore", str(other))
    assert foreign.exit_code == 1
    assert "inte en säkerhetskopia av Innanförskapet" in foreign.output


async def test_sqlite_backup_while_a_writer_is_busy(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    """The online backup is consistent while the service keeps writing."""
    settings = sqlite_settings
    engine = create_engine(settings.database_url)
    stop = asyncio.Event()

    async def writer() -> None:
        n = 0
        while not stop.is_set():
            async with create_session_factory(engine)() as s:
                s.add(Subscriber(email=f"w{n}@example.se", status="active"))
                await s.commit()
            n += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(writer())
    try:
        await asyncio.sleep(0.05)
        made = await arun(settings, "backup", str(tmp_path / "live.db"))
    finally:
        stop.set()
        await task
        await engine.dispose()
    assert made.exit_code == 0, made.output
    conn = sqlite3.connect(tmp_path / "live.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM subscribers").fetchone()[0] > 0
    finally:
        conn.close()


async def test_backup_without_postgresql_client_tools(settings: Settings, tmp_path: Path) -> None:
    """SQLite needs no outside program; for PostgreSQL the exact pg_dump command is printed."""
    target = tmp_path / "utan-verktyg.backup"
    result = await arun(settings, "backup", str(target), PATH=str(tmp_path / "tom-path"))
    if settings.is_sqlite:
        assert result.exit_code == 0, result.output
        assert target.is_file()
        return
    assert result.exit_code == 1
    assert "pg_dump finns inte på den här datorn" in result.output
    assert "pg_dump --format=custom --no-owner --file" in result.output
    assert "postgresql://postgres@127.0.0.1:5432/" in result.output
