"""Helpers for the delivery tests: running a worker until the queue is empty, sending
through the delivery page and its confirmation."""

from __future__ import annotations

import html
import re

from httpx import Response

from service.db import create_engine, create_session_factory
from service.delivery.worker import Worker, WorkerConfig
from service.mail.transport import make_transport
from service.settings import Settings
from tests.pages import Client, csrf


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


_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)" ?/?>')


def confirm_fields(page: str) -> dict[str, str]:
    """The hidden fields of the confirmation page's form (CSRF token, time, version…),
    as the browser sends them back when the editor presses the confirm button."""
    form = page.split('/leverans/skicka">', 1)[1].split("</form>", 1)[0]
    return {name: html.unescape(value) for name, value in _HIDDEN.findall(form)}


async def send_via_page(client: Client, issue_id: int, *, at: str = "") -> Response:
    """Press "Skicka nu" (or "Schemalägg" with ``at``) on the delivery page, then the
    confirmation's button, as an editor does; the delivery page it ends on."""
    url = f"/redaktion/utskick/{issue_id}/leverans"
    page = await client.get(url)
    data = {"_csrf_token": csrf(page.text), "satt": "schema" if at else "nu", "at": at}
    question = await client.post(f"{url}/skicka", data=data)
    assert question.status_code == 200, question.text
    assert "Inget har skickats än" in question.text
    return await client.post(f"{url}/skicka", data=confirm_fields(question.text))
