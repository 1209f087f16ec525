"""Registration benchmark: registrations per second through the public event form
against signups per second through the newsletter form, in the same run.

For each database (SQLite, then PostgreSQL) one ``innanforskapet serve`` process runs
with its in-process worker and Postfix's ``smtp-sink`` (the machinery of
:mod:`bench.bench_signup`), on the demo content. ``CONNECTIONS`` clients, each with its
own cookie jar, loop for ``BENCH_REGISTRATION_SECONDS`` (default 10 s, after a warm-up)
doing what a browser does: GET the form (for the CSRF cookie and token), then POST it
with a new address. First the signup form (``/prenumerera``), then the registration
form of the demo conference (``/kalender/<id>/anmalan``). Printed: completed
GET+POST pairs per second, p50/p99 of the pair, errors, and registrations/signups
(target ≥ 0.8). ``INNAN_BENCH_REGISTRATION_BACKENDS`` chooses the databases.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import os
import re
import shutil
import subprocess
import sys
import time

import httpx

from bench.bench_signup import _env, _free_port
from bench.databases import scratch_database

CONNECTIONS = 8
WARMUP_SECONDS = 2
_COUNTER = itertools.count()


def _form_data(page: str, address: str) -> dict[str, object]:
    data: dict[str, object] = {"email": address, "name": "Bench Bänk", "consent": "1"}
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page)
    if token:
        data["_csrf_token"] = html.unescape(token.group(1))
    for name, value in re.findall(r'name="(svar-[^"]+)" value="([^"]*)"', page):
        data.setdefault(name, html.unescape(value))  # the first choice of each question
    lists = re.search(r'name="lists" value="(\d+)"', page)
    if lists:
        data["lists"] = lists.group(1)
    return data


async def _client(base: str, path: str, until: float, latencies: list[float]) -> int:
    errors = 0
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while time.perf_counter() < until:
            started = time.perf_counter()
            try:
                page = await client.get(path)
                address = f"r{os.getpid()}n{next(_COUNTER)}@example.se"
                done = await client.post(path, data=_form_data(page.text, address))
                ok = page.status_code == 200 and done.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                errors += 1
    return errors


async def _load(base: str, path: str, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    until = time.perf_counter() + seconds
    errors = await asyncio.gather(
        *(_client(base, path, until, latencies) for _ in range(CONNECTIONS))
    )
    latencies.sort()

    def pct(p: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0
        )

    return {
        "rps": len(latencies) / seconds,
        "p50": pct(0.50),
        "p99": pct(0.99),
        "errors": float(sum(errors)),
    }


def _measure(backend: str, seconds: int) -> None:
    from service.migrate import upgrade

    sink_bin = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    cli = [sys.executable, "-c", "from service.cli import main; main()"]
    with scratch_database(backend, "innan-bench-registration-") as (url, work):
        upgrade(url)
        subprocess.run(
            [*cli, "demo", "load"],
            env={**os.environ, **_env(work, url, 8000, 25)},
            check=True,
            capture_output=True,
        )
        sink_port, port = _free_port(), _free_port()
        sink = subprocess.Popen(
            [sink_bin, "-u", "root", f"127.0.0.1:{sink_port}", "1000"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        env = {
            **os.environ,
            **_env(work, url, port, sink_port),
            "INNAN_REGISTRATION_IP_PER_HOUR": "100000000",
            "INNAN_REGISTRATION_GLOBAL_PER_HOUR": "100000000",
        }
        log = open(work / "server.log", "wb")  # noqa: SIM115 - closed below
        server = subprocess.Popen(
            [*cli, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=log
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
            found = re.search(r'href="(/kalender/\d+/anmalan)"', httpx.get(base + "/kalender").text)
            if found is None:
                raise RuntimeError("no registration form on /kalender (demo content?)")
            results = {}
            for name, path in (("signup", "/prenumerera"), ("registration", found.group(1))):
                asyncio.run(_load(base, path, WARMUP_SECONDS))
                time.sleep(2)  # the worker catches up
                results[name] = asyncio.run(_load(base, path, seconds))
        finally:
            server.terminate()
            try:
                server.wait(timeout=40)
            except subprocess.TimeoutExpired:
                server.kill()
            sink.terminate()
            sink.wait()
            log.close()
    signup, registration = results["signup"], results["registration"]
    ratio = registration["rps"] / signup["rps"] if signup["rps"] else float("nan")
    print(f"\n{backend}: GET+POST per form, {CONNECTIONS} clients, {seconds}s each")
    print(f"{'':16}{'signup':>10}{'registration':>14}")
    for key, label in (
        ("rps", "forms/s"),
        ("p50", "p50 ms"),
        ("p99", "p99 ms"),
        ("errors", "errors"),
    ):
        print(f"{label:16}{signup[key]:>10.1f}{registration[key]:>14.1f}")
    verdict = "ok" if ratio >= 0.8 else "BELOW TARGET"
    print(f"registration/signup: {ratio:.2f} (target >= 0.80: {verdict})")


def main() -> None:
    seconds = int(os.environ.get("BENCH_REGISTRATION_SECONDS", "10"))
    backends = os.environ.get("INNAN_BENCH_REGISTRATION_BACKENDS", "sqlite,postgresql")
    for backend in backends.split(","):
        _measure(backend.strip(), seconds)


if __name__ == "__main__":
    main()
