"""Copy every table from one database to another (SQLite -> PostgreSQL), then verify counts.

The target is migrated to head first and must hold no data (the seed rows of the first
migration are replaced by the source's) unless forced. Tables are copied in foreign-key
order (``Base.metadata.sorted_tables``) in batches; PostgreSQL sequences are moved past
the highest copied id afterwards, so new rows do not collide.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Integer, Table, delete, func, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import service.models  # noqa: F401 - registers every table on Base.metadata
from service.db import Base, create_engine
from service.errors import Conflict, ValidationFailed
from service.migrate import current_revision, head_revision, upgrade
from service.ops.backup import SEED_TABLES

BATCH = 1000


@dataclass
class CopyReport:
    source_counts: dict[str, int] = field(default_factory=dict)
    target_counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.source_counts == self.target_counts

    def lines(self) -> list[str]:
        width = max((len(n) for n in self.source_counts), default=10)
        out = [f"{'tabell'.ljust(width)}  {'källa':>9}  {'mål':>9}"]
        for name, count in self.source_counts.items():
            target = self.target_counts.get(name, -1)
            mark = "" if target == count else "  <- SKILJER SIG"
            out.append(f"{name.ljust(width)}  {count:>9}  {target:>9}{mark}")
        return out


def tables() -> list[Table]:
    return list(Base.metadata.sorted_tables)


async def count_rows(connection: AsyncConnection) -> dict[str, int]:
    existing = set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    counts: dict[str, int] = {}
    for table in tables():
        if table.name in existing:
            counts[table.name] = int(
                (await connection.execute(select(func.count()).select_from(table))).scalar_one()
            )
    return counts


async def has_data(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        counts = await count_rows(connection)
    return any(n for name, n in counts.items() if name not in SEED_TABLES)


async def _reset_sequences(connection: AsyncConnection) -> None:
    for table in tables():
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or not isinstance(pk[0].type, Integer) or pk[0].autoincrement is False:
            continue
        column = pk[0].name
        sequence = (
            await connection.execute(
                text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column}
            )
        ).scalar_one_or_none()
        if sequence is None:
            continue
        await connection.execute(
            text(
                f'SELECT setval(:s, COALESCE((SELECT max("{column}") FROM "{table.name}"), 1), '
                f'(SELECT max("{column}") FROM "{table.name}") IS NOT NULL)'
            ),
            {"s": sequence},
        )


async def copy_database(
    source_url: str,
    target_url: str,
    *,
    force: bool = False,
    progress: Callable[[str, int], None] | None = None,
) -> CopyReport:
    """Copy all rows from ``source_url`` to ``target_url`` and compare counts per table."""
    source = create_engine(source_url)
    try:
        head = head_revision()
        if await current_revision(source) != head:
            raise ValidationFailed(
                "Källdatabasen har inte det senaste schemat. Kör först "
                "INNAN_DATABASE_URL=<källa> innanforskapet db upgrade."
            )
        upgrade(target_url)
        target = create_engine(target_url)
        try:
            if await has_data(target) and not force:
                raise Conflict(
                    "Måldatabasen innehåller redan data. Använd en tom databas eller --force "
                    "(då raderas allt i målet först)."
                )
            report = CopyReport()
            async with source.connect() as src, target.begin() as dst:
                report.source_counts = await count_rows(src)
                for table in reversed(tables()):
                    await dst.execute(delete(table))
                for table in tables():
                    copied = 0
                    result = await src.stream(select(table))
                    async for partition in result.partitions(BATCH):
                        rows = [dict(row._mapping) for row in partition]
                        await dst.execute(table.insert(), rows)
                        copied += len(rows)
                        if progress is not None:
                            progress(table.name, copied)
                if dst.dialect.name == "postgresql":
                    await _reset_sequences(dst)
                report.target_counts = await count_rows(dst)
                if not report.ok:
                    raise ValidationFailed(
                        "Antalet rader skiljer sig mellan källa och mål:\n"
                        + "\n".join(report.lines())
                    )
            return report
        finally:
            await target.dispose()
    finally:
        await source.dispose()
