"""A throw-away database for one benchmark run: a SQLite file or a PostgreSQL database.

PostgreSQL databases are named ``innan_bench_*``, created on the server that
``INNAN_TEST_PG`` names (its admin URL, as for the tests; default
``postgresql://postgres@127.0.0.1:5432/test``, trust auth) and dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DEFAULT_PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def pg_admin_url() -> str:
    """The PostgreSQL admin URL (``INNAN_TEST_PG``), read when a database is made."""
    return os.environ.get("INNAN_TEST_PG") or DEFAULT_PG_ADMIN


def pg_database_url(name: str) -> str:
    """The asyncpg URL of database ``name`` on the admin URL's server, same credentials."""
    base = pg_admin_url()
    for scheme in ("postgresql://", "postgres://"):
        if base.startswith(scheme):
            base = "postgresql+asyncpg://" + base.removeprefix(scheme)
            break
    return base.rsplit("/", 1)[0] + "/" + name


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
            url = pg_database_url(pg_name)
        yield url, work
    finally:
        if pg_name:
            asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
        shutil.rmtree(work, ignore_errors=True)


async def _pg(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(pg_admin_url())
    try:
        await conn.execute(statement)
    finally:
        await conn.close()
