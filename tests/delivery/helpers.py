"""Helpers for the delivery tests: running a worker until the queue is empty."""

from __future__ import annotations

from service.db import create_engine, create_session_factory
from service.delivery.worker import Worker, WorkerConfig
from service.mail.transport import make_transport
from service.settings import Settings


async def drain(settings: Settings, **config: float) -> int:
    """Run one worker until nothing is claimable now."""
    engine = create_engine(settings.database_url)
    transport = make_transport(settings)
    try:
        worker = Worker(
            settings,
            create_session_factory(engine),
            transport,
            WorkerConfig(batch_size=settings.send_batch_size, **config),  # type: ignore[arg-type]
        )
        return await worker.drain()
    finally:
        await transport.close()
        await engine.dispose()
