"""``serve --processes N``: several web processes on one port, no in-process workers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import httpx
import psutil
from click.testing import CliRunner
from sqlalchemy import func, select

from service.cli import main
from service.db import create_engine
from service.delivery.models import WorkerHeartbeat
from service.settings import Settings
from tests.conftest import cli_env, free_port

CLI = (sys.executable, "-c", "from service.cli import main; main()")


async def _heartbeats(url: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return int(
                (await conn.execute(select(func.count()).select_from(WorkerHeartbeat))).scalar_one()
            )
    finally:
        await engine.dispose()


def test_processes_refuse_the_in_process_worker(settings: Settings) -> None:
    result = CliRunner(env=cli_env(settings)).invoke(
        main, ["serve", "--processes", "2", "--workers"]
    )
    assert result.exit_code == 2
    assert "innanforskapet worker" in result.output


def test_two_processes_serve_one_port(settings: Settings) -> None:
    port = free_port()
    env = {**cli_env(settings), "INNAN_RUN_WORKERS": "true", "INNAN_LOG_LEVEL": "WARNING"}
    subprocess.run([*CLI, "demo", "load"], env=env, check=True, capture_output=True, timeout=120)
    server = subprocess.Popen(
        [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "--processes", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.2)
        for _ in range(4):
            page = httpx.get(f"http://127.0.0.1:{port}/arkiv", timeout=10)
            assert page.status_code == 200 and "augusti 2019" in page.text.lower()
        children = psutil.Process(server.pid).children(recursive=True)
        # uvicorn's two web processes (multiprocessing may add its resource tracker)
        assert len([c for c in children if "resource_tracker" not in " ".join(c.cmdline())]) == 2
        # INNAN_RUN_WORKERS=true, yet no process runs the delivery worker (no heartbeat).
        time.sleep(1.0)
        assert asyncio.run(_heartbeats(settings.database_url)) == 0
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    text = output.decode(errors="replace")
    if settings.database_url.startswith("sqlite"):
        assert "en process är att föredra på SQLite" in text
