"""``migrate-data`` copies a used SQLite database into a fresh PostgreSQL database.

Every table gets at least one row (a generated row per table, following foreign keys,
plus imported subscribers and their consent ledger); the copy must hold the same rows
and PostgreSQL's sequences must continue after the copied ids.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    func,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

import service.models  # noqa: F401 - every table on Base.metadata
from service.cli import main
from service.db import Base, UTCDateTime, create_engine, create_session_factory
from service.ops.import_csv import import_subscribers
from service.settings import Settings
from subscribers.models import Subscriber
from tests.conftest import DatabaseTemplates, make_settings

WHEN = datetime(2019, 8, 15, 9, 30, tzinfo=UTC)


def _value(table: Table, column: Any, generated: dict[str, dict[str, Any]]) -> Any:
    for fk in column.foreign_keys:
        return generated[fk.column.table.name][fk.column.name]
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return WHEN
    if isinstance(kind, Boolean):
        return True
    if isinstance(kind, Date):
        return date(2019, 8, 15)
    if isinstance(kind, (Integer, BigInteger)):
        return 9000 if column.primary_key else 3
    if isinstance(kind, Float):
        return 1.5
    if isinstance(kind, JSON):
        return {"text": "Åsa Öberg", "n": [1, 2]}
    if isinstance(kind, LargeBinary):
        return b"\x00\xffinnan"
    if isinstance(kind, Text):
        return f"Märta Ängström i {table.name}.{column.name}"
    if isinstance(kind, String):
        value = f"{table.name[:8]}-{column.name}-gen"
        return value[: kind.length] if kind.length else value
    return column.type.python_type()


async def _fill_every_table(session: AsyncSession) -> dict[str, dict[str, Any]]:
    generated: dict[str, dict[str, Any]] = {}
    for table in Base.metadata.sorted_tables:
        row = {c.name: _value(table, c, generated) for c in table.columns}
        await session.execute(insert(table), [row])
        generated[table.name] = row
    await session.commit()
    return generated


@pytest.fixture
def source_settings(db_templates: DatabaseTemplates, tmp_path: Path) -> Settings:
    return make_settings(tmp_path, db_templates.new_sqlite(tmp_path))


async def test_sqlite_to_postgresql_copies_every_table(
    source_settings: Settings, db_templates: DatabaseTemplates
) -> None:
    import asyncio

    engine = create_engine(source_settings.database_url)
    async with create_session_factory(engine)() as session:
        generated = await _fill_every_table(session)
        lines = ["e-post;namn"] + [f"p{i}@example.se;Åsa {i}" for i in range(300)]
        await import_subscribers(
            session,
            source_settings,
            io.BytesIO("\n".join(lines).encode("cp1252")),
            list_slug="nyhetsbrev",
            basis="consent",
            source="migrering",
        )
    await engine.dispose()

    target_url = await asyncio.to_thread(db_templates.new_pg)
    result = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["migrate-data", "--from", source_settings.database_url, "--to", target_url],
    )
    assert result.exit_code == 0, result.output
    assert "Alla tabeller är kopierade och antalet rader stämmer." in result.output
    assert "subscribers" in result.output and "SKILJER SIG" not in result.output

    target = create_engine(target_url)
    try:
        async with create_session_factory(target)() as session:
            for table in Base.metadata.sorted_tables:
                expected = generated[table.name]
                pk = list(table.primary_key.columns)
                found = (
                    await session.execute(select(table).where(*[c == expected[c.name] for c in pk]))
                ).one()
                assert dict(found._mapping) == expected, table.name
            people = await session.execute(select(func.count()).select_from(Subscriber))
            assert people.scalar_one() == 301
            # The sequences continue after the copied ids: a new row gets a fresh id.
            newcomer = Subscriber(email="ny@example.se", status="active")
            session.add(newcomer)
            await session.commit()
            assert newcomer.id > 9000
    finally:
        await target.dispose()

    again = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["migrate-data", "--from", source_settings.database_url, "--to", target_url],
    )
    assert again.exit_code == 1
    assert "Måldatabasen innehåller redan data" in again.output
    forced = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["migrate-data", "--from", source_settings.database_url, "--to", target_url, "--force"],
    )
    assert forced.exit_code == 0, forced.output


def test_bad_urls_are_refused() -> None:
    result = CliRunner().invoke(main, ["migrate-data", "--from", "mysql://x", "--to", "y"])
    assert result.exit_code == 2
    assert "--from must be a sqlite+aiosqlite:/// or postgresql+asyncpg:// URL" in result.output


def test_source_without_schema_is_refused(tmp_path: Path, db_templates: DatabaseTemplates) -> None:
    empty = tmp_path / "tom.db"
    empty.touch()
    result = CliRunner().invoke(
        main,
        ["migrate-data", "--from", f"sqlite:///{empty}", "--to", f"sqlite:///{tmp_path / 'b.db'}"],
    )
    assert result.exit_code == 1
    assert "Källdatabasen har inte det senaste schemat" in result.output
