"""The archive benchmark's yardstick: a bare ASGI app answering fixed bodies from memory.

``python -m bench.bare_asgi PORT [PROCESSES]`` serves, on uvicorn with the options of
``innanforskapet serve`` (``service.cli.uvicorn_options``, from the same ``INNAN_*``
environment), the bodies listed in ``$INNAN_BENCH_BARE_DIR/manifest.json``
(``{path: [file name, content type]}``), read once at start-up: no framework, no
routing beyond one dict lookup, no database. What uvicorn alone costs per request.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

Scope = dict[str, Any]
NOT_FOUND = b"not found"


def _load() -> dict[str, tuple[list[tuple[bytes, bytes]], bytes]]:
    folder = Path(os.environ["INNAN_BENCH_BARE_DIR"])
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    answers = {}
    for path, (name, media_type) in manifest.items():
        body = (folder / name).read_bytes()
        headers = [
            (b"content-type", media_type.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        answers[path] = (headers, body)
    return answers


ANSWERS = _load() if "INNAN_BENCH_BARE_DIR" in os.environ else {}


async def app(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    found = ANSWERS.get(scope["path"])
    if found is None:
        headers, body, status = [(b"content-type", b"text/plain")], NOT_FOUND, 404
    else:
        (headers, body), status = found, 200
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    import uvicorn

    from service.cli import uvicorn_options
    from service.settings import load_settings

    port = int(sys.argv[1])
    processes = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    options = uvicorn_options(load_settings(), None, port)
    if processes > 1:  # uvicorn's own process manager, as ``serve --processes`` uses
        uvicorn.run("bench.bare_asgi:app", workers=processes, **options)
    else:
        uvicorn.run(app, **options)


if __name__ == "__main__":
    main()
