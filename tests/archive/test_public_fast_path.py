"""The cheap fingerprint checks and the replayed responses are never stale.

``archive/cache.py`` answers a repeated public GET before the framework sees it, skips
the fingerprint query on SQLite while ``PRAGMA data_version`` is unchanged, and asks
PostgreSQL on a held connection. Each test changes content the way another instance or
the CLI would — another connection, or another process — and checks that the very next
plain request (the one the fast path answers) shows it, on both backends.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from archive import cache as cache_module
from archive.cache import PublicCache
from service.calendar.models import CalendarItem
from service.db import create_engine, create_session_factory
from service.demo import load_all
from service.issues.models import Issue
from service.settings import Settings
from tests.conftest import DatabaseTemplates, cli_env

Client = AsyncTestClient[Litestar]
AUGUST = "/arkiv/2019/nyhetsbrev-augusti-2019"
CLI = (sys.executable, "-c", "from service.cli import main; main()")
URLS = ("/arkiv", AUGUST, "/arkiv/rss.xml", "/arkiv/atom.xml", "/kalender", "/kalender.ics")


@pytest.fixture
async def demo(session: AsyncSession, settings: Settings) -> AsyncSession:
    await load_all(session, settings)
    await session.commit()
    return session


def _public(app: Litestar) -> PublicCache:
    found: PublicCache = app.state.public_cache
    return found


async def _august(session: AsyncSession) -> Issue:
    issue = await session.scalar(select(Issue).where(Issue.slug == "nyhetsbrev-augusti-2019"))
    assert issue is not None
    return issue


def _comparable(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k not in ("date", "server")}


async def test_a_replayed_response_is_the_handlers_response(
    demo: AsyncSession, app: Litestar, client: Client
) -> None:
    public = _public(app)
    for url in URLS:
        first = await client.get(url)
        assert first.status_code == 200, url
        replayed = public.replayed
        again = await client.get(url)
        assert public.replayed == replayed + 1, url  # answered by PublicFastPath
        assert again.content == first.content, url
        assert _comparable(dict(again.headers)) == _comparable(dict(first.headers)), url
        head = await client.head(url)
        assert public.replayed == replayed + 2, url
        assert head.status_code == 200 and head.content == b"", url
        assert head.headers["etag"] == first.headers["etag"], url
        assert "set-cookie" not in again.headers, url


async def test_an_edit_by_another_connection_is_replayed_no_more(
    demo: AsyncSession, app: Litestar, client: Client
) -> None:
    before = {url: (await client.get(url), await client.get(url)) for url in URLS[:4]}
    issue = await _august(demo)
    issue.title = "Nyhetsbrev augusti 2019 – rättad utgåva"
    issue.version += 1
    issue.updated_at = datetime.now(UTC)
    await demo.commit()
    for url, (first, _second) in before.items():
        after = await client.get(url)
        assert after.headers["etag"] != first.headers["etag"], url
        assert "rättad utgåva" in after.text, url
    replayed = _public(app).replayed
    assert "rättad utgåva" in (await client.get(AUGUST)).text  # and replayed from now on
    assert _public(app).replayed == replayed + 1


async def test_a_withdrawal_by_another_process_is_seen_at_once(
    demo: AsyncSession, settings: Settings, app: Litestar, client: Client
) -> None:
    for _ in range(2):  # the second of each is replayed
        assert (await client.get(AUGUST)).status_code == 200
        assert "nyhetsbrev-augusti-2019" in (await client.get("/arkiv")).text
    assert _public(app).replayed >= 2
    issue_id = (await _august(demo)).id
    done = subprocess.run(
        [*CLI, "archive", "withdraw", str(issue_id)],
        env=cli_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (await client.get(AUGUST)).status_code == 404
    assert "nyhetsbrev-augusti-2019" not in (await client.get("/arkiv")).text


async def test_conditional_requests_and_searches_go_to_the_handler(
    demo: AsyncSession, app: Litestar, client: Client
) -> None:
    public = _public(app)
    first = await client.get("/arkiv")
    replayed = public.replayed
    etag = first.headers["etag"]
    assert (await client.get("/arkiv", headers={"If-None-Match": etag})).status_code == 304
    modified = first.headers["last-modified"]
    assert (await client.get("/arkiv", headers={"If-Modified-Since": modified})).status_code == 304
    for _ in range(2):
        assert (await client.get("/arkiv", params={"q": "augusti"})).status_code == 200
    assert public.replayed == replayed


async def test_a_replay_is_rederived_after_memo_seconds(
    demo: AsyncSession, app: Litestar, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever else a key depends on (the calendar's date) is derived anew that often."""
    public = _public(app)
    await client.get("/kalender")
    monkeypatch.setattr(cache_module, "MEMO_SECONDS", -1.0)
    replayed = public.replayed
    assert (await client.get("/kalender")).status_code == 200
    assert public.replayed == replayed  # expired: the handler answered (and re-recorded)
    monkeypatch.setattr(cache_module, "MEMO_SECONDS", 60.0)
    assert (await client.get("/kalender")).status_code == 200
    assert public.replayed == replayed + 1


async def test_the_fingerprint_query_is_skipped_only_while_nothing_was_committed(
    session: AsyncSession, settings: Settings
) -> None:
    """SQLite: no query while data_version stands still; any commit elsewhere ends that.
    PostgreSQL: only the snapshot is asked while it stands still, which depends on the
    whole server being quiet (other databases on it too), so only the answers are
    checked there."""
    engine = create_engine(settings.database_url)
    cache = PublicCache()
    sqlite = settings.database_url.startswith("sqlite")
    try:
        first = await cache.fingerprint(engine)
        queries = cache.queries
        for _ in range(3):
            assert await cache.fingerprint(engine) == first
        if sqlite:
            assert cache.queries == queries
        for n in range(5):
            session.add(
                CalendarItem(uid=f"dv-{n}@test", title=f"Träff {n}", start_date=date.today())
            )
            await session.commit()
            found = await cache.fingerprint(engine)
            assert found.value.split("|")[1].startswith(f"{n + 1}:"), (n, found.value)
    finally:
        await cache.close()
        await engine.dispose()


@pytest.fixture
def pg_only_url(db_templates: DatabaseTemplates) -> Iterator[str]:
    """A fresh PostgreSQL database (only PostgreSQL holds a connection for this)."""
    url = db_templates.new_pg()
    yield url
    name = url.rsplit("/", 1)[1]
    db_templates.drop_pg(name)
    db_templates.pg_databases.remove(name)


async def test_a_lost_held_connection_is_replaced(pg_only_url: str) -> None:
    """PostgreSQL: the held connection killed under it (a server restart, an idle
    timeout) costs one retry, not an error, and the answer is current."""
    engine = create_engine(pg_only_url)
    cache = PublicCache()
    try:
        await cache.fingerprint(engine)
        async with create_session_factory(engine)() as session:
            await session.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            session.add(CalendarItem(uid="held@test", title="Träff", start_date=date.today()))
            await session.commit()
        await asyncio.sleep(0.2)
        found = await cache.fingerprint(engine)
        assert found.value.split("|")[1].startswith("1:")
    finally:
        await cache.close()
        await engine.dispose()
