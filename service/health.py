"""Liveness and readiness endpoints."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.migrate import current_revision, head_revision


@get("/healthz", sync_to_thread=False, include_in_schema=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", include_in_schema=False)
async def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
    engine: AsyncEngine = request.app.state.engine
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        current = await current_revision(engine)
    except Exception as exc:  # any database failure means "not ready"
        return Response(
            {"status": "unavailable", "database": type(exc).__name__},
            status_code=HTTP_503_SERVICE_UNAVAILABLE,
        )
    head = head_revision()
    if current != head:
        return Response(
            {"status": "migrations-pending", "current": str(current), "head": head},
            status_code=HTTP_503_SERVICE_UNAVAILABLE,
        )
    return Response({"status": "ready", "revision": head}, status_code=HTTP_200_OK)
