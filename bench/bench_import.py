"""Import benchmark: rows/second and peak RSS for 10 000- and 100 000-row Excel-style CSVs.

Each size is imported in a fresh subprocess (so peak RSS figures are separate) into a
new SQLite database migrated with ``service.migrate.upgrade``. The files are
Windows-1252, semicolon-separated, CRLF, with Swedish names and about 1 % bad rows
and 1 % duplicates, like a real member register exported from Excel.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = (10_000, 100_000)
FIRST = ["Åsa", "Märta", "Björn", "Örjan", "Lena", "Göran", "Ingrid", "Pär", "Sofia", "Jönsson"]
LAST = ["Öberg", "Ängström", "Lindqvist", "Åkesson", "Nyström", "Hägg", "Sjöberg", "Karlsson"]
ORGS = ["Region Halland", "Halmstads kommun", "Försäkringskassan", "Arbetsförmedlingen"]
ROLES = ["Samordnare", "Handläggare", "Enhetschef", "Processledare", ""]


def make_csv(path: Path, rows: int, seed: int = 2019) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="cp1252", newline="") as out:
        out.write("Namn;E-post;Organisation;Roll\r\n")
        for i in range(rows):
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            if i % 100 == 37:
                email = f"trasig-adress-{i}"
            elif i % 100 == 71 and i > 100:
                email = f"person{i - 50}@example.se"
            else:
                email = f"person{i}@example.se"
            out.write(f"{name};{email};{rng.choice(ORGS)};{rng.choice(ROLES)}\r\n")


def child(csv_path: str) -> None:
    """Run in a fresh process: migrate a new database, import, print JSON figures."""
    from service.db import create_engine, create_session_factory
    from service.migrate import upgrade
    from service.ops.import_csv import import_subscribers
    from service.settings import load_settings

    work = Path(tempfile.mkdtemp(prefix="bench-import-"))
    url = f"sqlite+aiosqlite:///{work / 'bench.db'}"
    upgrade(url)
    settings = load_settings(
        {"INNAN_VAR_DIR": str(work), "INNAN_DATABASE_URL": url, "INNAN_ENV": "test"}
    )

    async def run() -> dict[str, int]:
        engine = create_engine(url)
        try:
            async with create_session_factory(engine)() as session:
                with open(csv_path, "rb") as stream, open(work / "rejects.csv", "w") as rejects:
                    report = await import_subscribers(
                        session,
                        settings,
                        stream,
                        list_slug="nyhetsbrev",
                        basis="consent",
                        source="bench",
                        reject_out=rejects,
                    )
        finally:
            await engine.dispose()
        return {
            "rows": report.rows_read,
            "valid": report.valid,
            "invalid": report.invalid,
            "duplicate": report.duplicate,
        }

    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    counts = asyncio.run(run())
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak_kib = after.ru_maxrss
    print(
        json.dumps(
            {**counts, "seconds": elapsed, "cpu_seconds": cpu, "peak_rss_mib": peak_kib / 1024}
        )
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        results = []
        for size in SIZES:
            path = Path(tmp) / f"medlemmar-{size}.csv"
            make_csv(path, size)
            completed = subprocess.run(
                [sys.executable, "-m", "bench.bench_import", "--child", str(path)],
                capture_output=True,
                text=True,
                check=True,
            )
            figures = json.loads(completed.stdout.strip().splitlines()[-1])
            rate = figures["rows"] / figures["seconds"]
            cpu_rate = figures["rows"] / max(figures["cpu_seconds"], 1e-9)
            results.append((size, rate, figures["peak_rss_mib"]))
            print(
                f"import {size:>7} rows (SQLite, cp1252, ';'): {rate:8.0f} rows/s wall, "
                f"{cpu_rate:8.0f} rows per CPU-second, {figures['seconds']:.2f} s, "
                f"peak RSS {figures['peak_rss_mib']:.1f} MiB "
                f"(valid {figures['valid']}, invalid {figures['invalid']}, "
                f"duplicate {figures['duplicate']})",
                flush=True,
            )
        (small, _, small_rss), (big, big_rate, big_rss) = results[0], results[-1]
        print(
            f"peak RSS {big} vs {small} rows: {big_rss - small_rss:+.1f} MiB; "
            f"target >= 5000 rows/s: {'met' if big_rate >= 5000 else 'NOT met'} "
            f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs: other work on "
            "the machine lowers the wall-clock rate; rows per CPU-second does not depend on it)"
        )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        main()
