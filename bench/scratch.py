"""A throw-away database for one benchmark run: a SQLite file or a PostgreSQL database.

PostgreSQL databases are named ``innan_bench_*``, created on the local server
(127.0.0.1:5432, trust auth) and dropped afterwards, like the tests' own.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


@contextmanager
def scratch_database(backend: str, prefix: str) -> Iterator[tuple[str, Path]]:
    """(database URL, a temporary directory); both are removed on leaving."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    pg_name = None
    try:
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{work / 'bench.db'}"
        else:
            pg_name = f"innan_bench_{uuid.uuid4().hex[:8]}"
            asyncio.run(_pg(f'CREATE DATABASE "{pg_name}"'))
            url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{pg_name}"
        yield url, work
    finally:
        if pg_name:
            asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
        shutil.rmtree(work, ignore_errors=True)


async def _pg(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()
