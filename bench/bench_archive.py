"""Archive benchmark: requests/s and p99 for public pages and feeds vs a static file.

A temporary database (SQLite, then PostgreSQL) gets the demo content plus copies of
the August 2019 issue (500 archived issues) and 300 calendar items. The app is served
by uvicorn (one process) on a loopback port; for each measured URL a static file of the
same size is placed under the app's ``/media`` static route, and
``wrk -t2 -c32 -d10s --latency`` is run against both in the same run, each after a
2-second untimed warm-up run. Targets: feeds and issue pages ≥ 0.5× the static file,
p99 < 50 ms at 32 connections. ``BENCH_ARCHIVE_SECONDS`` shortens the runs;
``INNAN_BENCH_ARCHIVE_BACKENDS=sqlite,postgresql`` chooses the databases (PostgreSQL: a
temporary ``innan_bench_*`` database, dropped afterwards).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

import httpx

from bench.databases import scratch_database

ISSUES = 500
WARMUP_SECONDS = 2
CALENDAR_ITEMS = 300
TARGETS = (
    ("/arkiv", "arkiv"),
    ("/arkiv/2019/nyhetsbrev-augusti-2019", "issue page"),
    ("/arkiv/rss.xml", "rss"),
    ("/kalender.ics", "kalender.ics"),
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(work: Path, url: str, port: int) -> dict[str, str]:
    return {
        "INNAN_ENV": "development",
        "INNAN_VAR_DIR": str(work),
        "INNAN_DATABASE_URL": url,
        "INNAN_BASE_URL": f"http://127.0.0.1:{port}",
        "INNAN_SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
        "INNAN_RUN_WORKERS": "false",
        "INNAN_LOG_LEVEL": "WARNING",
    }


async def _seed(env: dict[str, str]) -> None:
    from sqlalchemy import select

    from service.calendar.format import STOCKHOLM
    from service.calendar.models import CalendarItem
    from service.db import create_engine, create_session_factory, session_scope
    from service.demo import load_all
    from service.issues.models import Block, Issue
    from service.settings import load_settings

    settings = load_settings(env)
    engine = create_engine(settings.database_url)
    factory = create_session_factory(engine)
    async with session_scope(factory) as session:
        await load_all(session, settings)
    async with session_scope(factory) as session:
        august = await session.scalar(select(Issue).where(Issue.slug == "nyhetsbrev-augusti-2019"))
        assert august is not None
        existing = int(
            await session.scalar(select(Issue.id).order_by(Issue.id.desc()).limit(1)) or 0
        )
        have = len((await session.scalars(select(Issue.id))).all())
        for n in range(ISSUES - have):
            day = date(2010, 1, 1) + timedelta(days=7 * n)
            session.add(
                Issue(
                    slug=f"nyhetsbrev-{n}-{existing}",
                    title=f"Nyhetsbrev nr {n}",
                    subject=f"Nyhetsbrev nr {n}",
                    preheader=august.preheader,
                    issue_date=day,
                    status="sent",
                    sent_at=datetime.combine(day, dtime(8), tzinfo=UTC),
                    web_published_at=datetime.combine(day, dtime(8), tzinfo=UTC),
                    search_text=august.search_text,
                    blocks=[
                        Block(position=b.position, kind=b.kind, data=dict(b.data))
                        for b in august.blocks
                    ],
                )
            )
        have_items = len((await session.scalars(select(CalendarItem.id))).all())
        base = date.today() - timedelta(days=150)
        for n in range(CALENDAR_ITEMS - have_items):
            day = base + timedelta(days=n)
            if n % 3 == 0:
                session.add(
                    CalendarItem(
                        uid=f"bench-{n}@innanforskapet",
                        title=f"Heldag om samverkan och återgång i arbete {n}",
                        all_day=True,
                        start_date=day,
                        place="Folkets Hus Varberg",
                        organiser="Samordningsförbundet i Halland",
                    )
                )
            else:
                start = datetime.combine(day, dtime(9, 30), tzinfo=STOCKHOLM)
                session.add(
                    CalendarItem(
                        uid=f"bench-{n}@innanforskapet",
                        title=f"Utbildning i försäkringsmedicin, grupp {n}",
                        all_day=False,
                        starts_at=start,
                        ends_at=start + timedelta(hours=3),
                        start_date=day,
                        place="Stadsbiblioteket i Halmstad, hörsal Ärlan",
                        link="https://sfhalland.se/samverkansguiden/kalendarium",
                        registration_deadline=day - timedelta(days=7),
                        organiser="Samordningsförbundet i Halland",
                        description="Anmälan via länken. Fika ingår.",
                    )
                )
    await engine.dispose()


def _wrk(url: str, seconds: int) -> tuple[float, float]:
    """(requests/s, p99 ms) from ``wrk -t2 -c32 --latency``; errors abort the run."""
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    bad = re.search(r"(Non-2xx or 3xx responses|Socket errors):.*", out)
    if bad:  # fast error pages would flatter the figures
        raise RuntimeError(f"{url}: {bad.group(0)}")
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"^\s*99%\s+([0-9.]+)(us|ms|s)\s*$", out, re.M).groups()  # type: ignore[union-attr]
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rps, p99


def _measure(backend: str, url: str, work: Path, seconds: int) -> None:
    """Seed ``url``, serve it with one uvicorn process and print one table."""
    from service.migrate import upgrade

    upgrade(url)
    port = _free_port()
    env = _env(work, url, port)
    asyncio.run(_seed(env))
    log = open(work / "server.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from service.cli import main; main()",
            "serve",
            "--no-workers",
            "--port",
            str(port),
        ],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "/healthz", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.2)
        media = work / "media"
        media.mkdir(parents=True, exist_ok=True)
        print(
            f"{ISSUES} issues, {CALENDAR_ITEMS} calendar items, {backend}, uvicorn x1, "
            f"wrk -t2 -c32 -d{seconds}s"
        )
        print(
            f"{'url':<40} {'bytes':>7} {'req/s':>8} {'p99 ms':>7} "
            f"{'static req/s':>12} {'static p99':>10} {'ratio':>6}"
        )
        for path, name in TARGETS:
            body = httpx.get(base + path, timeout=30).content  # warms the caches
            static = media / f"bench-{re.sub(r'[^a-z]', '', name)}.bin"
            static.write_bytes(b"x" * len(body))
            # A short untimed run first, for the static file and the page alike: the
            # first burst of 32 connections grows the heap and socket buffers once.
            _wrk(f"{base}/media/{static.name}", WARMUP_SECONDS)
            s_rps, s_p99 = _wrk(f"{base}/media/{static.name}", seconds)
            _wrk(base + path, WARMUP_SECONDS)
            rps, p99 = _wrk(base + path, seconds)
            print(
                f"{path:<40} {len(body):>7} {rps:>8.0f} {p99:>7.1f} {s_rps:>12.0f} "
                f"{s_p99:>10.1f} {rps / s_rps:>6.2f}",
                flush=True,
            )
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def main() -> None:
    if shutil.which("wrk") is None:
        print("wrk is not installed (make system-deps); skipping the archive benchmark")
        return
    seconds = int(os.environ.get("BENCH_ARCHIVE_SECONDS", "10"))
    backends = os.environ.get("INNAN_BENCH_ARCHIVE_BACKENDS", "sqlite,postgresql").split(",")
    for backend in backends:
        with scratch_database(backend, "bench-archive-") as (url, work):
            _measure(backend, url, work, seconds)


if __name__ == "__main__":
    main()
