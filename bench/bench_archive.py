"""Archive benchmark: public pages and feeds against the real limits of this machine.

A temporary database (SQLite, then PostgreSQL) gets the demo content plus copies of
the August 2019 issue (500 archived issues) and 300 calendar items. Three servers run
side by side on loopback ports, all answering the same bytes:

* **app**: ``innanforskapet serve --no-workers`` (uvicorn, one process);
* **bare**: a bare ASGI app (``bench/bare_asgi.py``) on the same uvicorn with the same
  options and process count, answering each body from memory: what uvicorn alone costs;
* **nginx**: nginx (one worker, ``sendfile``, access log off) serving each body as a
  static file: what the machine can do at all.

For each URL (archive index, an issue page, RSS, Atom, the .ics feed) each server gets
an untimed ``WARMUP_SECONDS`` run of ``wrk -t2 -c32``, then ``BENCH_ARCHIVE_ROUNDS``
(default 3) timed runs of ``BENCH_ARCHIVE_SECONDS`` (default 5) each, interleaved (the
order rotates every round), so the machine's noise falls on all three alike. Printed:
the median requests/s and p99 of each, and app/bare and app/nginx requests/s. Goal
(issue 15): app ≥ 0.5× bare and p99 < 20 ms at 32 connections on both backends.

``INNAN_BENCH_ARCHIVE_PROCESSES=1,2`` also measures app and bare with two uvicorn
processes each (``serve --processes 2``); ``INNAN_BENCH_ARCHIVE_BACKENDS=sqlite,postgresql``
chooses the databases (PostgreSQL: a temporary ``innan_bench_*`` database on the
``INNAN_TEST_PG`` server, dropped afterwards). Without nginx (``make bench-deps``) its
column is left out.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

import httpx

from bench.databases import scratch_database

ISSUES = 500
WARMUP_SECONDS = 2
CALENDAR_ITEMS = 300
CONNECTIONS = 32
GOAL_RATIO = 0.5
GOAL_P99_MS = 20.0
TARGETS = (
    "/arkiv",
    "/arkiv/2019/nyhetsbrev-augusti-2019",
    "/arkiv/rss.xml",
    "/arkiv/atom.xml",
    "/kalender.ics",
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

    from service.calendar.models import CalendarItem
    from service.core.dates import STOCKHOLM
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
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", url],
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


@dataclass
class Server:
    """One server under test: its process and how a target path maps to its URL."""

    name: str
    base: str
    process: subprocess.Popen[bytes]
    files: dict[str, str] = field(default_factory=dict)  # nginx: target path -> file path

    def url(self, path: str) -> str:
        return self.base + self.files.get(path, path)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _wait_ready(server: Server, probe: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(server.url(probe), timeout=2).raise_for_status()
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline or server.process.poll() is not None:
                raise RuntimeError(f"{server.name} did not start") from None
            time.sleep(0.2)


def _start_app(env: dict[str, str], work: Path, processes: int) -> Server:
    port = _free_port()
    log = open(work / f"app-{processes}.log", "wb")  # noqa: SIM115 - the child keeps it
    command = [sys.executable, "-c", "from service.cli import main; main()", "serve"]
    command += ["--no-workers", "--port", str(port)]
    if processes > 1:
        command += ["--processes", str(processes)]
    env = {**os.environ, **env, "INNAN_BASE_URL": f"http://127.0.0.1:{port}"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
    log.close()
    server = Server(f"app x{processes}", f"http://127.0.0.1:{port}", process)
    _wait_ready(server, "/healthz")
    return server


def _start_bare(env: dict[str, str], work: Path, bodies: Path, processes: int) -> Server:
    port = _free_port()
    log = open(work / f"bare-{processes}.log", "wb")  # noqa: SIM115 - the child keeps it
    command = [sys.executable, "-m", "bench.bare_asgi", str(port), str(processes)]
    env = {**os.environ, **env, "INNAN_BENCH_BARE_DIR": str(bodies)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
    log.close()
    server = Server(f"bare x{processes}", f"http://127.0.0.1:{port}", process)
    _wait_ready(server, TARGETS[0])
    return server


NGINX_CONF = """
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        root {prefix}/root;
    }}
}}
"""


def _nginx() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None
    )


def _start_nginx(binary: str, bodies: Path, manifest: dict[str, list[str]]) -> Server:
    """nginx, one worker, in the foreground with its own prefix, config and temp dirs."""
    prefix = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
    (prefix / "tmp").mkdir()
    (prefix / "root").mkdir()
    files = {}
    for path, (name, _media_type) in manifest.items():
        shutil.copyfile(bodies / name, prefix / "root" / name)
        (prefix / "root" / name).chmod(0o644)
        files[path] = "/" + name
    for folder in (prefix, prefix / "root"):  # the worker may run as nobody
        folder.chmod(0o755)
    port = _free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=prefix, port=port), encoding="utf-8")
    command = [binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server("nginx", f"http://127.0.0.1:{port}", process, files)
    try:
        _wait_ready(server, TARGETS[0])
    except RuntimeError:
        server.stop()
        raise RuntimeError(f"nginx did not start: {(prefix / 'error.log').read_text()}") from None
    return server


def _bodies(app: Server, folder: Path) -> dict[str, list[str]]:
    """Fetch every target from the app (which warms its caches); write them for the others."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for n, path in enumerate(TARGETS):
        answer = httpx.get(app.url(path), timeout=30)
        answer.raise_for_status()
        name = f"body-{n}.bin"
        (folder / name).write_bytes(answer.content)
        manifest[path] = [name, answer.headers["content-type"]]
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return manifest


def _compare(servers: list[Server], path: str, seconds: int, rounds: int) -> dict[str, Any]:
    """Median (requests/s, p99) per server for ``path``, the runs interleaved."""
    for server in servers:  # the first burst of 32 connections grows heaps and buffers once
        _wrk(server.url(path), WARMUP_SECONDS)
    runs: dict[str, list[tuple[float, float]]] = {s.name: [] for s in servers}
    for n in range(rounds):
        for server in servers[n % len(servers) :] + servers[: n % len(servers)]:
            runs[server.name].append(_wrk(server.url(path), seconds))
    return {
        name: (
            statistics.median(r for r, _ in found),
            statistics.median(p for _, p in found),
        )
        for name, found in runs.items()
    }


def _measure(backend: str, url: str, work: Path, seconds: int, rounds: int) -> list[str]:
    """Seed ``url``, serve it three ways, print one table; the goals missed, as lines."""
    from service.migrate import upgrade

    upgrade(url)
    env = _env(work, url, 0)
    asyncio.run(_seed(env))
    counts = [int(n) for n in os.environ.get("INNAN_BENCH_ARCHIVE_PROCESSES", "1").split(",")]
    servers: list[Server] = []
    missed = []
    try:
        apps = {n: _start_app(env, work, n) for n in counts}
        servers += apps.values()
        bodies = work / "bodies"
        manifest = _bodies(apps[counts[0]], bodies)
        bares = {n: _start_bare(env, work, bodies, n) for n in counts}
        servers += bares.values()
        binary = _nginx()
        nginx = _start_nginx(binary, bodies, manifest) if binary else None
        if nginx is not None:
            servers.append(nginx)
        order = [s for n in counts for s in (bares[n], apps[n])] + ([nginx] if nginx else [])
        print(
            f"{ISSUES} issues, {CALENDAR_ITEMS} calendar items, {backend}; "
            f"wrk -t2 -c{CONNECTIONS}, median of {rounds} interleaved {seconds}s runs; "
            f"req/s (p99 ms)"
        )
        names = [s.name for s in order]
        header = f"{'url':<37} {'bytes':>6} " + " ".join(f"{n:>15}" for n in names)
        ratios = [f"x{n}/bare" for n in counts] + ([f"x{n}/nginx" for n in counts] if nginx else [])
        print(header + " " + " ".join(f"{r:>8}" for r in ratios), flush=True)
        for path in TARGETS:
            found = _compare(order, path, seconds, rounds)
            size = (bodies / manifest[path][0]).stat().st_size
            cells = " ".join(f"{found[n][0]:>7.0f} ({found[n][1]:>5.1f})" for n in names)
            values = []
            for n in counts:
                app_rps, app_p99 = found[apps[n].name]
                ratio = app_rps / found[bares[n].name][0]
                values.append(ratio)
                if ratio < GOAL_RATIO or app_p99 >= GOAL_P99_MS:
                    missed.append(f"{backend} {path} x{n}: {ratio:.2f}x bare, p99 {app_p99:.1f} ms")
            if nginx is not None:
                values += [found[apps[n].name][0] / found["nginx"][0] for n in counts]
            print(
                f"{path:<37} {size:>6} {cells} " + " ".join(f"{v:>8.2f}" for v in values),
                flush=True,
            )
    finally:
        for server in servers:
            server.stop()
    return missed


def main() -> None:
    if shutil.which("wrk") is None:
        print("wrk is not installed (make system-deps); skipping the archive benchmark")
        return
    if _nginx() is None:
        print("nginx is not installed (make bench-deps): measured without its column")
    seconds = int(os.environ.get("BENCH_ARCHIVE_SECONDS", "5"))
    rounds = int(os.environ.get("BENCH_ARCHIVE_ROUNDS", "3"))
    backends = os.environ.get("INNAN_BENCH_ARCHIVE_BACKENDS", "sqlite,postgresql").split(",")
    missed = []
    for backend in backends:
        with scratch_database(backend, "bench-archive-") as (url, work):
            missed += _measure(backend, url, work, seconds, rounds)
    goal = f"goal: >= {GOAL_RATIO}x bare ASGI and p99 < {GOAL_P99_MS:.0f} ms"
    print(f"{goal}: met" if not missed else f"{goal}: missed by\n  " + "\n  ".join(missed))


if __name__ == "__main__":
    main()
