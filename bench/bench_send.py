"""Send benchmark: the whole delivery pipeline versus a raw blast into Postfix's smtp-sink.

(a) raw blast: pre-built messages of the August 2019 issue sent over the same number of
    SMTP connections (the same prepared-DATA path, no database), measured before and
    after every pipeline run: each ratio is against the mean of the two around it;
(b) the full pipeline (snapshot, batched claims, byte-template personalisation, SMTP
    pool, batched outcome writes) for 10 000 and 100 000 recipients on SQLite and on
    PostgreSQL (a database ``innan_bench_*`` created on the ``INNAN_TEST_PG`` server and
    dropped).
Each pipeline run is a fresh subprocess so its peak RSS (psutil) is its own.
Targets: (b)/(a) >= 0.7; peak RSS at 100 000 within 25 % of 10 000 and under 300 MB.

``INNAN_BENCH_SEND_SIZES=10000,100000`` and ``INNAN_BENCH_SEND_BACKENDS=sqlite,postgresql``
choose what runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.databases import scratch_database

POOL = 8
RAW_MESSAGES = 20_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _settings(var_dir: Path, database_url: str, smtp_port: int) -> Any:
    from service.settings import load_settings

    return load_settings(
        {
            "INNAN_ENV": "test",
            "INNAN_VAR_DIR": str(var_dir),
            "INNAN_DATABASE_URL": database_url,
            "INNAN_SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
            "INNAN_BASE_URL": "https://innanforskapet.example.se",
            "INNAN_MAIL_FROM": "Innanförskapet <nyhetsbrev@innanforskapet.example.se>",
            "INNAN_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
            "INNAN_SMTP_POOL_SIZE": str(POOL),
            "INNAN_SMTP_RECYCLE_AFTER": "100000",
            "INNAN_SEND_BATCH_SIZE": "500",
            "INNAN_RUN_WORKERS": "false",
        }
    )


async def _prepare(settings: Any, recipients: int) -> int:
    """Migrated database with the demo issue and ``recipients`` active subscribers."""
    from sqlalchemy import insert, select, update

    from service.db import create_engine, create_session_factory, session_scope, utcnow
    from service.demo import load_all
    from service.issues.demo import AUGUST_SLUG
    from service.issues.models import Issue
    from subscribers.models import MailingList, Subscriber, Subscription

    engine = create_engine(settings.database_url)
    try:
        factory = create_session_factory(engine)
        async with session_scope(factory) as session:
            await load_all(session, settings)
        async with session_scope(factory) as session:
            issue_id = await session.scalar(select(Issue.id).where(Issue.slug == AUGUST_SLUG))
            list_id = await session.scalar(
                select(MailingList.id).where(MailingList.slug == "nyhetsbrev")
            )
            await session.execute(
                update(Issue)
                .where(Issue.id == issue_id)
                .values(status="draft", sent_at=None, scheduled_at=None)
            )
            start = (
                int(
                    await session.scalar(
                        select(Subscriber.id).order_by(Subscriber.id.desc()).limit(1)
                    )
                    or 0
                )
                + 1
            )
        now = utcnow()
        chunk = 5000
        for offset in range(0, recipients, chunk):
            ids = range(start + offset, start + min(recipients, offset + chunk))
            async with session_scope(factory) as session:
                await session.execute(
                    insert(Subscriber),
                    [
                        {
                            "id": i,
                            "email": f"mottagare{i}@bench.example.se",
                            "name": f"Mottagare {i}" if i % 3 else "",
                            "status": "active",
                            "confirmed_at": now,
                            "created_at": now,
                            "updated_at": now,
                            "token_version": 1,
                        }
                        for i in ids
                    ],
                )
                await session.execute(
                    insert(Subscription),
                    [
                        {
                            "subscriber_id": i,
                            "list_id": list_id,
                            "status": "active",
                            "created_at": now,
                        }
                        for i in ids
                    ],
                )
        assert issue_id is not None
        return int(issue_id)
    finally:
        await engine.dispose()


async def _pipeline(settings: Any, issue_id: int) -> dict[str, float]:
    import psutil
    from sqlalchemy import func, select

    from service.db import create_engine, create_session_factory, session_scope
    from service.delivery import service as delivery
    from service.delivery.models import Delivery
    from service.delivery.worker import Worker, WorkerConfig
    from service.issues.models import Issue
    from service.mail.transport import make_transport

    proc = psutil.Process()
    peak = proc.memory_info().rss
    stop_sampling = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop_sampling.is_set():
            peak = max(peak, proc.memory_info().rss)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    engine = create_engine(settings.database_url)
    factory = create_session_factory(engine)
    transport = make_transport(settings)
    try:
        started = time.perf_counter()
        async with session_scope(factory) as session:
            await delivery.start_send(session, settings, issue_id, at=None, actor="bench")
        snapshot_s = time.perf_counter() - started
        worker = Worker(settings, factory, transport, WorkerConfig(batch_size=500))
        stop = asyncio.Event()
        send_started = time.perf_counter()
        task = asyncio.create_task(worker.run(stop))
        while True:
            await asyncio.sleep(0.05)  # the end is seen within 50 ms of the issue being sent
            async with factory() as session:
                status = await session.scalar(select(Issue.status).where(Issue.id == issue_id))
            if status == "sent":
                break
        send_s = time.perf_counter() - send_started
        stop.set()
        await task
        async with factory() as session:
            sent = int(
                await session.scalar(
                    select(func.count()).where(
                        Delivery.issue_id == issue_id, Delivery.state == "sent"
                    )
                )
                or 0
            )
    finally:
        await transport.close()
        await engine.dispose()
        stop_sampling.set()
        sampler.join()
    return {
        "sent": sent,
        "snapshot_s": snapshot_s,
        "send_s": send_s,
        "msgs_per_s": sent / send_s,
        "peak_rss_mb": peak / 1e6,
    }


def _child(backend: str, recipients: int, smtp_port: int) -> None:
    """One pipeline run in this (fresh) process; prints a JSON line."""
    from service.migrate import upgrade

    with scratch_database(backend, "innan-bench-send-") as (url, tmp):
        settings = _settings(tmp, url, smtp_port)
        upgrade(url)
        issue_id = asyncio.run(_prepare(settings, recipients))
        result = asyncio.run(_pipeline(settings, issue_id))
        print(json.dumps(result), flush=True)


def _raw_messages(smtp_port: int) -> tuple[Any, list[tuple[str, bytes]]]:
    """Settings and 2 000 pre-built messages of the August 2019 issue (built once)."""
    from service.db import create_engine, create_session_factory
    from service.issues.message import IssueTemplate, Personal
    from service.issues.render import render_issue
    from service.migrate import upgrade

    async def render(settings: Any, issue_id: int) -> Any:
        engine = create_engine(settings.database_url)
        try:
            async with create_session_factory(engine)() as session:
                return await render_issue(session, settings, issue_id)
        finally:
            await engine.dispose()

    with scratch_database("sqlite", "innan-bench-raw-") as (url, tmp):
        settings = _settings(tmp, url, smtp_port)
        upgrade(url)
        rendered = asyncio.run(render(settings, asyncio.run(_prepare(settings, 0))))
    template = IssueTemplate.build(settings, rendered.mail_source)
    messages = [
        (
            f"mottagare{i}@bench.example.se",
            template.wire(
                Personal(
                    to=f"mottagare{i}@bench.example.se",
                    message_id=f"<raw.{i}@{settings.mail_domain}>",
                    unsubscribe_url=f"{settings.base_url}/avregistrera/tok{i}",
                    unsubscribe_mailto=None,
                    name=f"Mottagare {i}",
                    prefs_url=f"{settings.base_url}/installningar/tok{i}",
                )
            ),
        )
        for i in range(2000)
    ]
    return settings, messages


async def _raw_blast(settings: Any, messages: list[tuple[str, bytes]]) -> float:
    """The pre-built messages over POOL connections, no database: msg/s."""
    from service.mail.transport import make_transport

    transport = make_transport(settings)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(RAW_MESSAGES):
        queue.put_nowait(i)

    async def sender() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            rcpt, wire = messages[i % len(messages)]
            result = await transport.send_prepared("bounce@bench.example.se", [rcpt], wire)
            assert result.all_ok, result

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(POOL)))
    elapsed = time.perf_counter() - started
    await transport.close()
    return RAW_MESSAGES / elapsed


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    sizes = [int(s) for s in os.environ.get("INNAN_BENCH_SEND_SIZES", "10000,100000").split(",")]
    backends = os.environ.get("INNAN_BENCH_SEND_BACKENDS", "sqlite,postgresql").split(",")
    sink_bin = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    port = _free_port()
    sink = subprocess.Popen(
        [sink_bin, "-u", "root", f"127.0.0.1:{port}", "1000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        print(f"smtp-sink on 127.0.0.1:{port}, {POOL} connections", flush=True)
        # The machine's speed drifts over minutes (a shared VM), so each pipeline run is
        # compared with the mean of the raw blasts just before and just after it.
        raw_settings, messages = _raw_messages(port)
        print(f"    message size: {len(messages[0][1]) / 1024:.0f} KB", flush=True)
        raw = asyncio.run(_raw_blast(raw_settings, messages))
        print(f"(a) raw blast: {raw:,.0f} msg/s ({RAW_MESSAGES} messages)", flush=True)
        rss: dict[tuple[str, int], float] = {}
        for backend in backends:
            for size in sizes:
                out = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "bench.bench_send",
                        "--child",
                        backend,
                        str(size),
                        str(port),
                    ],
                    capture_output=True,
                    text=True,
                    timeout=1800,
                    cwd=Path(__file__).resolve().parent.parent,
                )
                before, raw = raw, asyncio.run(_raw_blast(raw_settings, messages))
                print(f"(a) raw blast: {raw:,.0f} msg/s ({RAW_MESSAGES} messages)", flush=True)
                line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
                if out.returncode != 0 or not line.startswith("{"):
                    print(f"(b) {backend} {size}: FAILED\n{out.stderr[-2000:]}", flush=True)
                    continue
                r = json.loads(line)
                rss[(backend, size)] = r["peak_rss_mb"]
                baseline = (before + raw) / 2
                print(
                    f"(b) {backend:10} {size:>7} recipients: {r['msgs_per_s']:,.0f} msg/s "
                    f"(ratio {r['msgs_per_s'] / baseline:.2f} to the raw blasts around it), "
                    f"snapshot {r['snapshot_s']:.1f} s, send {r['send_s']:.1f} s, "
                    f"sent {r['sent']}, peak RSS {r['peak_rss_mb']:.0f} MB",
                    flush=True,
                )
        for backend in backends:
            if len(sizes) >= 2 and (backend, sizes[0]) in rss and (backend, sizes[-1]) in rss:
                small, big = rss[(backend, sizes[0])], rss[(backend, sizes[-1])]
                print(
                    f"    {backend}: RSS {sizes[-1]} vs {sizes[0]}: {big / small - 1:+.0%} "
                    f"(target within 25 %, under 300 MB)",
                    flush=True,
                )
    finally:
        sink.terminate()
        sink.wait(10)


if __name__ == "__main__":
    main()
