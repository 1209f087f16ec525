"""Run every benchmark (``make bench``), or those named: ``python -m bench render send``."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def main() -> None:
    wanted = set(sys.argv[1:])
    names = sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name.startswith("bench_")
    )
    for name in names:
        short = name.removeprefix("bench_")
        if wanted and short not in wanted:
            continue
        print(f"\n=== {short} ===", flush=True)
        started = time.perf_counter()
        importlib.import_module(f"bench.{name}").main()
        print(f"(took {time.perf_counter() - started:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
