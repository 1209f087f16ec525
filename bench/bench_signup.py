"""Signup benchmark: signups per second and latency with a healthy and with a hung mail server.

The probe that opened the hardening issue found that the signup form sent its
confirmation mail inside its write transaction: with a mail server that accepts and never
answers, other writes waited 14.6 s and signups failed with "database is locked"; with a
healthy sink, 20 s of concurrent signups pushed write p99 to 3.6-5.4 s. Signups now write
one row to the transactional mail queue and the worker sends after commit.

For each database (SQLite, then PostgreSQL) and each mail server, one ``innanforskapet
serve`` process runs with its in-process delivery worker:

* *healthy*: Postfix's ``smtp-sink`` (the worker sends every confirmation);
* *hung*: a listener that accepts connections and never sends its greeting (the worker's
  sends hang for the SMTP timeout, 30 s, while it holds its connections);
* *apart*: the healthy sink, with ``serve --no-workers`` and a separate ``innanforskapet
  worker`` process (the production layout: the second core sends).

``wrk`` posts the signup form with a new address per request (16 connections,
``BENCH_SIGNUP_SECONDS``, default 10 s, after a 2 s warm-up): the most signups per
second and their p50/p99 under that saturating load. Then a paced phase posts
``BENCH_SIGNUP_RATE`` (default 40) signups per second for as long, open loop, with each
latency counted from when its request was due: what a signup costs under a steady load
that the service can carry. The mail servers are printed side by side, with ratios. The hung
server should change neither beyond noise. Afterwards the queue is counted: with the
healthy sink nearly everything is sent; with the hung one everything waits, nothing lost.
``INNAN_BENCH_SIGNUP_BACKENDS=sqlite,postgresql`` chooses the databases.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from bench.databases import scratch_database

CONNECTIONS = 16
RATE = float(os.environ.get("BENCH_SIGNUP_RATE", "40"))  # signups/s of the paced phase
WARMUP_SECONDS = 2
LUA = """
counter = 0
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
local prefix = tostring(math.random(1, 1000000000))
request = function()
  counter = counter + 1
  local body = "email=b" .. prefix .. "n" .. counter .. "%40example.se&lists=1"
  return wrk.format("POST", "/prenumerera",
    {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _HungServer:
    """Accepts and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.conns:
            conn.close()


def _env(work: Path, url: str, port: int, smtp_port: int) -> dict[str, str]:
    return {
        "INNAN_ENV": "development",
        "INNAN_VAR_DIR": str(work),
        "INNAN_DATABASE_URL": url,
        "INNAN_BASE_URL": f"http://127.0.0.1:{port}",
        "INNAN_SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
        "INNAN_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "INNAN_RUN_WORKERS": "true",
        "INNAN_LOG_LEVEL": "WARNING",
        "INNAN_SIGNUP_IP_PER_HOUR": "100000000",
        "INNAN_SIGNUP_GLOBAL_PER_HOUR": "100000000",
    }


def _wrk(url: str, seconds: int, script: Path) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{CONNECTIONS}",
            f"-d{seconds}s",
            "--latency",
            "--timeout",
            "60s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=True,
    ).stdout
    bad = re.search(r"(Non-2xx or 3xx responses|Socket errors):.*", out)
    if bad:
        raise RuntimeError(f"{url}: {bad.group(0)}\n{out}")

    def ms(label: str) -> float:
        value, unit = re.search(rf"^\s*{label}%\s+([0-9.]+)(us|ms|s)\s*$", out, re.M).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50": ms("50"), "p99": ms("99")}


async def _paced(base: str, rate: float, seconds: int) -> dict[str, float]:
    """Signups at a fixed rate (open loop): each latency is measured from the moment the
    request was due, so a stall counts fully (no coordinated omission)."""
    import uuid

    total = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        start = time.perf_counter() + 0.2

        async def one(n: int) -> None:
            nonlocal errors
            due = start + n / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            address = f"p{uuid.uuid4().hex[:12]}@example.se"
            response = await client.post("/prenumerera", data={"email": address, "lists": "1"})
            latencies.append((time.perf_counter() - due) * 1000)
            if response.status_code != 200:
                errors += 1

        await asyncio.gather(*(one(n) for n in range(total)))
    latencies.sort()
    return {
        "paced p50": latencies[len(latencies) // 2],
        "paced p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "paced errors": float(errors),
    }


async def _queue_counts(url: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from service.db import create_engine, create_session_factory
    from service.mail.models import QueuedMail

    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            rows = await session.execute(
                select(QueuedMail.state, func.count()).group_by(QueuedMail.state)
            )
            return {str(state): int(n) for state, n in rows}
    finally:
        await engine.dispose()


def _run_one(
    url: str, work: Path, smtp_port: int, seconds: int, *, separate_worker: bool = False
) -> dict[str, float]:
    port = _free_port()
    env = {**os.environ, **_env(work, url, port, smtp_port)}
    cli = [sys.executable, "-c", "from service.cli import main; main()"]
    log = open(work / f"server-{smtp_port}.log", "wb")  # noqa: SIM115 - closed below
    serve = [*cli, "serve", "--port", str(port), *(["--no-workers"] if separate_worker else [])]
    server = subprocess.Popen(serve, env=env, stdout=subprocess.DEVNULL, stderr=log)
    worker = (
        subprocess.Popen([*cli, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=log)
        if separate_worker
        else None
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("the service did not start")
        script = work / "signup.lua"
        script.write_text(LUA)
        asyncio.run(_paced(base, RATE, WARMUP_SECONDS))  # warm-up
        time.sleep(2)  # the worker catches up: the paced phase starts with an empty queue
        figures = asyncio.run(_paced(base, RATE, seconds))
        figures.update(_wrk(base + "/prenumerera", seconds, script))
        time.sleep(3)  # let the worker catch up before counting
        figures.update({f"queue {k}": float(v) for k, v in asyncio.run(_queue_counts(url)).items()})
        return figures
    finally:
        for proc in (server, worker):
            if proc is None:
                continue
            proc.terminate()
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


def _measure(backend: str, seconds: int) -> None:
    from service.migrate import upgrade

    sink_bin = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    results: dict[str, dict[str, float]] = {}
    for name in ("healthy", "hung", "apart"):
        with scratch_database(backend, "innan-bench-signup-") as (url, work):
            upgrade(url)
            subprocess.run(
                [sys.executable, "-c", "from service.cli import main; main()", "demo", "load"],
                env={**os.environ, **_env(work, url, 8000, 25)},
                check=True,
                capture_output=True,
            )
            if name in ("healthy", "apart"):
                sink_port = _free_port()
                sink = subprocess.Popen(
                    [sink_bin, "-u", "root", f"127.0.0.1:{sink_port}", "1000"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                try:
                    time.sleep(0.3)
                    results[name] = _run_one(
                        url, work, sink_port, seconds, separate_worker=name == "apart"
                    )
                finally:
                    sink.terminate()
                    sink.wait()
            else:
                hung = _HungServer()
                try:
                    results[name] = _run_one(url, work, hung.port, seconds)
                finally:
                    hung.close()
    healthy, hung_, apart = results["healthy"], results["hung"], results["apart"]
    print(
        f"\n{backend}: POST /prenumerera, wrk -t2 -c{CONNECTIONS} -d{seconds}s; "
        "healthy/hung: one serve process with its worker; apart: serve + a worker process"
    )
    print(f"{'':20}{'healthy':>10}{'hung':>10}{'hung/healthy':>14}{'apart':>10}")
    rows = (
        ("rps", "max signups/s"),
        ("p50", "p50 ms"),
        ("p99", "p99 ms"),
        ("paced p50", f"at {RATE:.0f}/s p50 ms"),
        ("paced p99", f"at {RATE:.0f}/s p99 ms"),
        ("paced errors", "errors"),
    )
    for key, label in rows:
        ratio = hung_[key] / healthy[key] if healthy[key] else float("nan")
        print(
            f"{label:20}{healthy[key]:>10.1f}{hung_[key]:>10.1f}{ratio:>14.2f}{apart[key]:>10.1f}"
        )
    states = sorted({k for r in results.values() for k in r if k.startswith("queue ")})
    for key in states:
        print(
            f"{key:20}{healthy.get(key, 0):>10.0f}{hung_.get(key, 0):>10.0f}{'':>14}"
            f"{apart.get(key, 0):>10.0f}"
        )


def main() -> None:
    if shutil.which("wrk") is None:
        print("wrk is not installed (make bench installs it); skipped")
        return
    seconds = int(os.environ.get("BENCH_SIGNUP_SECONDS", "10"))
    backends = os.environ.get("INNAN_BENCH_SIGNUP_BACKENDS", "sqlite,postgresql").split(",")
    for backend in backends:
        _measure(backend.strip(), seconds)


if __name__ == "__main__":
    main()
