"""Registration benchmark: registrations per second through the public event form
against signups per second through the newsletter form, in the same run, interleaved;
then 50 concurrent confirmations over HTTP for the last 5 seats of an event.

For each database (SQLite, then PostgreSQL) one ``innanforskapet serve`` process runs
with its in-process worker and the outbox transport (every mail is composed and
written as an ``.eml`` file, as ``make run`` does), on the demo content.

*Throughput.* ``CONNECTIONS`` clients, each with its own cookie jar, do what a browser
does: GET the form (the CSRF cookie and token), then POST it with a new address. After
a warm-up of both forms, ``BENCH_REGISTRATION_ROUNDS`` (3) rounds of
``BENCH_REGISTRATION_SECONDS`` (5 s) per form alternate between the signup form
(``/prenumerera``) and the demo conference's registration form
(``/kalender/<id>/anmalan``), the order swapping every round, so both see the same
machine. Printed: completed GET+POST pairs per second, p50/p99 of a pair, errors, and
**registrations/signups** (target ≥ 0.8, issue 14). Then the worker is let finish and
the mails composed into the outbox are counted: every registration and every signup
must have got its confirmation mail.

*Race.* An event with 10 seats, 5 of them taken, and 50 registrations waiting for
confirmation; their 50 confirmation links are POSTed all at once to the running
server. Printed: HTTP statuses, the registrations' states and the seat counter;
**expected exactly 5 confirmed, 45 waitlisted, no 5xx**.

``INNAN_BENCH_REGISTRATION_BACKENDS`` chooses the databases.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import os
import re
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta

import httpx

from bench.bench_signup import _env, _free_port
from bench.databases import scratch_database

CONNECTIONS = 8
WARMUP_SECONDS = 2
RACERS = 50
RACE_CAPACITY = 10
RACE_TAKEN = 5
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


async def _load(base: str, path: str, seconds: float) -> tuple[list[float], int]:
    latencies: list[float] = []
    until = time.perf_counter() + seconds
    errors = await asyncio.gather(
        *(_client(base, path, until, latencies) for _ in range(CONNECTIONS))
    )
    return latencies, sum(errors)


def _summary(latencies: list[float], errors: int, seconds: float) -> dict[str, float]:
    latencies = sorted(latencies)

    def pct(p: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "rps": len(latencies) / seconds,
        "p50": pct(0.50),
        "p99": pct(0.99),
        "errors": float(errors),
        "done": float(len(latencies)),
    }


async def _queue(url: str) -> Counter[tuple[str, str]]:
    from sqlalchemy import func, select

    from service.db import create_engine, create_session_factory
    from service.mail.models import QueuedMail

    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            rows = await session.execute(
                select(QueuedMail.kind, QueuedMail.state, func.count()).group_by(
                    QueuedMail.kind, QueuedMail.state
                )
            )
            return Counter({(str(k), str(s)): int(n) for k, s, n in rows})
    finally:
        await engine.dispose()


def _drained(url: str, timeout: float = 120) -> Counter[tuple[str, str]]:
    """The mail queue once the worker has nothing left to send (or ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        counts = asyncio.run(_queue(url))
        waiting = sum(
            n for (_k, state), n in counts.items() if state in ("queued", "retry", "sending")
        )
        if not waiting or time.monotonic() > deadline:
            return counts
        time.sleep(0.5)


async def _race_setup(url: str, env: dict[str, str]) -> tuple[int, list[str]]:
    """An event with ``RACE_CAPACITY`` seats, ``RACE_TAKEN`` taken, and ``RACERS``
    registrations waiting for confirmation; returns its id and their raw tokens."""
    from service.calendar import service as calendar
    from service.db import create_engine, create_session_factory, session_scope, utcnow
    from service.events import service as events
    from service.events.forms import RegistrationSettings
    from service.events.models import Registration
    from service.security.signing import hash_token
    from service.settings import load_settings

    settings = load_settings({k: v for k, v in env.items() if k.startswith("INNAN_")})
    engine = create_engine(url)
    tokens = [f"bench-race-{os.getpid()}-{n}" for n in range(RACERS)]
    try:
        async with session_scope(create_session_factory(engine)) as session:
            now = utcnow()
            item = await calendar.create_item(
                session,
                settings,
                calendar.ItemFields(
                    title="Kapplöpningen om de sista platserna",
                    start_date=(now + timedelta(days=30)).date(),
                    all_day=True,
                ),
                actor="bench",
            )
            event = await events.configure(
                session,
                settings,
                item.id,
                RegistrationSettings(capacity=RACE_CAPACITY, waitlist=True),
                actor="bench",
            )
            for n in range(RACE_TAKEN):
                assert await events._take_seat(session, event.id)
                session.add(
                    Registration(
                        event_id=event.id,
                        email=f"tidig{n}@example.se",
                        name=f"Tidig {n}",
                        status="confirmed",
                        confirmed_at=now,
                    )
                )
            for n, token in enumerate(tokens):
                session.add(
                    Registration(
                        event_id=event.id,
                        email=f"racer{n}@example.se",
                        name=f"Racer {n}",
                        status="pending",
                        confirm_token_hash=hash_token(token),
                        confirm_expires_at=now + timedelta(days=7),
                    )
                )
            return event.id, tokens
    finally:
        await engine.dispose()


async def _race_result(url: str, event_id: int) -> tuple[Counter[str], int]:
    from sqlalchemy import select

    from service.db import create_engine, create_session_factory
    from service.events.models import Event, Registration

    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            statuses = Counter(
                str(s)
                for s in (
                    await session.execute(
                        select(Registration.status).where(
                            Registration.event_id == event_id,
                            Registration.email.like("racer%"),
                        )
                    )
                ).scalars()
            )
            seats = await session.scalar(select(Event.seats_taken).where(Event.id == event_id))
            return statuses, int(seats or 0)
    finally:
        await engine.dispose()


async def _race(base: str, tokens: list[str]) -> Counter[int]:
    limits = httpx.Limits(max_connections=RACERS, max_keepalive_connections=RACERS)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        start = asyncio.Event()

        async def one(token: str) -> int:
            await start.wait()
            response = await client.post(f"/evenemang/anmalan/bekrafta/{token}")
            return response.status_code

        racers = [asyncio.create_task(one(token)) for token in tokens]
        await asyncio.sleep(0)
        start.set()  # every POST leaves at once
        return Counter(await asyncio.gather(*racers))


def _wait_ready(base: str) -> None:
    for _ in range(200):
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the service did not start")


def _measure(backend: str, seconds: int, rounds: int) -> None:
    from service.migrate import upgrade

    cli = [sys.executable, "-c", "from service.cli import main; main()"]
    with scratch_database(backend, "innan-bench-registration-") as (url, work):
        upgrade(url)
        port = _free_port()
        env = {
            **os.environ,
            **_env(work, url, port, 25),
            "INNAN_REGISTRATION_IP_PER_HOUR": "100000000",
            "INNAN_REGISTRATION_GLOBAL_PER_HOUR": "100000000",
        }
        env.pop("INNAN_SMTP_URL")  # the outbox transport: mails are composed to .eml files
        subprocess.run([*cli, "demo", "load"], env=env, check=True, capture_output=True)
        log = open(work / "server.log", "wb")  # noqa: SIM115 - closed below
        server = subprocess.Popen(
            [*cli, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=log
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_ready(base)
            found = re.search(r'href="(/kalender/\d+/anmalan)"', httpx.get(base + "/kalender").text)
            if found is None:
                raise RuntimeError("no registration form on /kalender (demo content?)")
            forms = {"signup": "/prenumerera", "registration": found.group(1)}
            for path in forms.values():
                asyncio.run(_load(base, path, WARMUP_SECONDS))
            _drained(url)  # the worker catches up: the rounds start with an empty queue
            before = _drained(url)
            got: dict[str, tuple[list[float], int]] = {name: ([], 0) for name in forms}
            for n in range(rounds):
                order = list(forms) if n % 2 == 0 else list(reversed(forms))
                for name in order:
                    latencies, errors = asyncio.run(_load(base, forms[name], seconds))
                    got[name][0].extend(latencies)
                    got[name] = (got[name][0], got[name][1] + errors)
            after = _drained(url)
            event_id, tokens = asyncio.run(_race_setup(url, env))
            http = asyncio.run(_race(base, tokens))
            statuses, seats = asyncio.run(_race_result(url, event_id))
            outbox = len(list((work / "outbox").glob("*.eml")))
        finally:
            server.terminate()
            try:
                server.wait(timeout=40)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()
    total = seconds * rounds
    signup = _summary(*got["signup"], total)
    registration = _summary(*got["registration"], total)
    ratio = registration["rps"] / signup["rps"] if signup["rps"] else float("nan")
    print(
        f"\n{backend}: GET+POST per form, {CONNECTIONS} clients, {rounds} interleaved "
        f"rounds of {seconds}s per form"
    )
    print(f"{'':22}{'signup':>10}{'registration':>14}")
    for key, label in (
        ("rps", "forms/s"),
        ("p50", "p50 ms"),
        ("p99", "p99 ms"),
        ("errors", "errors"),
        ("done", "forms sent"),
    ):
        print(f"{label:22}{signup[key]:>10.1f}{registration[key]:>14.1f}")

    def composed(kind: str) -> int:
        return after[(kind, "sent")] - before[(kind, "sent")]

    waiting = sum(n for (_k, s), n in after.items() if s not in ("sent",))
    print(
        f"{'mails composed':22}{composed('confirm'):>10}{composed('registration-confirm'):>14}"
        f"   (not sent: {waiting}; .eml files in the outbox: {outbox})"
    )
    verdict = "ok" if ratio >= 0.8 else "BELOW TARGET"
    print(f"registration/signup: {ratio:.2f} (target >= 0.80: {verdict})")
    fivexx = sum(n for code, n in http.items() if code >= 500)
    exact = statuses == Counter(
        {"confirmed": RACE_CAPACITY - RACE_TAKEN, "waitlisted": RACERS - RACE_CAPACITY + RACE_TAKEN}
    )
    print(
        f"race: {RACERS} POSTs for the last {RACE_CAPACITY - RACE_TAKEN} seats: HTTP "
        + ", ".join(f"{code}×{n}" for code, n in sorted(http.items()))
        + f"; {statuses['confirmed']} confirmed, {statuses['waitlisted']} waitlisted"
        + (f", other {dict(statuses - Counter(['confirmed', 'waitlisted']))}" if not exact else "")
        + f"; seats {seats}/{RACE_CAPACITY}; 5xx: {fivexx} "
        + ("(ok)" if exact and seats == RACE_CAPACITY and not fivexx else "(WRONG)")
    )


def main() -> None:
    seconds = int(os.environ.get("BENCH_REGISTRATION_SECONDS", "5"))
    rounds = int(os.environ.get("BENCH_REGISTRATION_ROUNDS", "3"))
    backends = os.environ.get("INNAN_BENCH_REGISTRATION_BACKENDS", "sqlite,postgresql")
    for backend in backends.split(","):
        _measure(backend.strip(), seconds, rounds)


if __name__ == "__main__":
    main()
