"""Running delivery: a worker plus the scheduler candidate, in one process.

Used by ``innanforskapet worker`` and, when ``INNAN_RUN_WORKERS`` is true, by the web
app's lifespan (that is how ``make run`` sends).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncEngine

from service.db import create_engine, create_session_factory
from service.delivery.scheduler import Scheduler
from service.delivery.worker import Worker, WorkerConfig
from service.mail.transport import make_transport
from service.settings import Settings

log = logging.getLogger(__name__)


async def run(
    settings: Settings,
    stop: asyncio.Event,
    *,
    lease_seconds: float = 120.0,
    retry_base_seconds: float = 60.0,
    scheduler: bool = True,
    engine: AsyncEngine | None = None,
) -> None:
    """Run until ``stop``. ``engine``: the web app's, when running inside it; one engine
    per process means one queue of SQLite writers (``service.db.SqliteWriteQueue``), so
    the worker's writes and the requests' never meet in SQLite's busy handler."""
    own_engine = engine is None
    engine = engine or create_engine(settings.database_url)
    factory = create_session_factory(engine)
    transport = make_transport(settings)
    worker = Worker(
        settings,
        factory,
        transport,
        WorkerConfig(
            batch_size=settings.send_batch_size,
            lease_seconds=lease_seconds,
            retry_base_seconds=retry_base_seconds,
        ),
    )
    tasks = [asyncio.create_task(worker.run(stop))]
    if scheduler:
        tasks.append(asyncio.create_task(Scheduler(settings, engine, factory).run(stop)))
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await transport.close()
        if own_engine:
            await engine.dispose()


@contextlib.asynccontextmanager
async def in_app(app: Litestar) -> AsyncIterator[None]:
    """Lifespan hook: workers and the scheduler candidate run while the app does."""
    settings: Settings = app.state.settings
    if not settings.run_workers:
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(run(settings, stop, engine=app.state.engine))
    try:
        yield
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, 30)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
        except Exception:
            log.exception("delivery stopped with an error")
