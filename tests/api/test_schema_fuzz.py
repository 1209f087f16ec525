"""Fuzz the JSON API (``/api/v1``) against its own OpenAPI schema with schemathesis.

Every operation in the schema is one test per backend (``db_url`` is parametrised over
SQLite and PostgreSQL), on a fresh database with the demo content loaded (lists, calendar
items, the August 2019 issue and its images) and a valid API key. Schemathesis sends
the schema's examples, boundary/coverage cases and random valid and invalid requests,
and checks every answer with its default checks: no server error (5xx), the status code
and content type are documented, the body matches the documented schema, a request the
schema calls valid is not rejected as malformed, one it calls invalid is rejected, a
request without the API key gets 401, and unsupported methods and ``OPTIONS`` answer
with a correct ``Allow`` header.

Deterministic and bounded: fixed seed, derandomized Hypothesis, no example database, at
most ``MAX_EXAMPLES`` random examples per operation and phase, no deadline. Mail goes to
the outbox directory (the test settings have no SMTP server) and no worker runs, so
``send`` only queues a delivery.

The schema is loaded once, at import, from an app built for that purpose (the document
does not depend on the database); ``test_served_schema_is_the_fuzzed_one`` checks that
the running app serves the same document at ``/api/schema/openapi.json``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from litestar import Litestar
from litestar.testing import AsyncTestClient
from litestar.types import Receive, Scope, Send
from schemathesis.config import SchemathesisConfig
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import create_app
from service.calendar.models import CalendarItem
from service.demo import load_all
from service.events.models import Event, Registration
from service.issues.models import Block, Issue
from service.settings import Settings
from subscribers.models import MailingList
from tests.conftest import make_settings
from tests.editor.helpers import make_editor, make_token

SCHEMA_PATH = "/api/schema/openapi.json"
IN_A_MONTH = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0).isoformat()
MAX_EXAMPLES = 25
# What the demo content holds on a fresh database (checked by the ``api_token`` fixture):
# issue 1 (sent, blocks 1-10), issue 2 (a draft, blocks 11-14), calendar items 1-6 and
# lists 1-3, events 1-2 (registrations from 1). Random ids would almost always be 404;
# these let most requests reach the handlers' real work (edit, render, test-send, send, publish).
DEMO = {
    "issue-ids": [1, 2],
    "block-ids": [11, 12, 13, 14, 15, 1],
    "calendar-ids": [1, 2, 3, 4, 5, 6],
    "list-ids": [1, 2, 3],
    "event-ids": [1, 2],
    "registration-ids": [1, 2, 3, 4, 5],
}
CONFIG: dict[str, Any] = {
    "seed": 20190801,
    "generation": {
        "max-examples": MAX_EXAMPLES,
        "deterministic": True,
        "database": "none",
        # Unknown query parameters are ignored, as HTTP APIs do; not a failure to accept.
        "allow-extra-parameters": False,
    },
    "checks": {
        # A request can be schema-valid and still wrong as a whole: an end before its
        # start, an address that is no e-mail address, a title of only spaces. The API
        # answers those with 422 and `fields`; 400 (malformed) stays a failure here.
        "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409", "422"]},
    },
    "dictionaries": {
        **{name: {"values": values} for name, values in DEMO.items()},
        "addresses": {"values": ["red@example.org", "Provlasare@Example.org"]},
        # A send time a month ahead (accepted), one past and one years ahead (422), now.
        "times": {"values": [IN_A_MONTH, "2020-12-01 08:00", "2099-01-01T08:00:00+01:00", ""]},
        "clock": {"values": ["09:00", "16:30"]},
        "links": {"values": ["https://www.example.org/anmalan", ""]},
        "kinds": {"values": ["divider", "heading", "notice", "calendar", "intro"]},
    },
    "parameters": {
        "path.issue_id": {"dictionary": "issue-ids", "probability": 0.75},
        "path.block_id": {"dictionary": "block-ids", "probability": 0.75},
        "path.item_id": {"dictionary": "calendar-ids", "probability": 0.75},
        "path.event_id": {"dictionary": "event-ids", "probability": 0.75},
        "path.registration_id": {"dictionary": "registration-ids", "probability": 0.75},
        "body.list_ids[*]": {"dictionary": "list-ids", "probability": 0.75},
        "body.block_ids[*]": {"dictionary": "block-ids", "probability": 0.5},
        "body.addresses[*]": {"dictionary": "addresses", "probability": 0.75},
        "body.at": {"dictionary": "times", "probability": 0.5},
        "body.start_time": {"dictionary": "clock", "probability": 0.5},
        "body.end_time": {"dictionary": "clock", "probability": 0.5},
        "body.link": {"dictionary": "links", "probability": 0.5},
        "body.kind": {"dictionary": "kinds", "probability": 0.75},
    },
}


def _schema_document() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(Path(tmp), f"sqlite+aiosqlite:///{tmp}/unused.db")
        return create_app(settings).openapi_schema.to_schema()


class CurrentApp:
    """The ASGI app schemathesis calls: the app of the test that is running.

    Lifespan events go to that app too, so its engine is disposed when schemathesis
    ends the lifespan at the end of the test.
    """

    def __init__(self) -> None:
        self.app: Litestar | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "no app: use the fuzz_app fixture"
        await self.app(scope, receive, send)


CURRENT = CurrentApp()
DOCUMENT = _schema_document()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=SchemathesisConfig.from_dict(CONFIG))
schema.app = CURRENT


@pytest.fixture
async def api_token(session: AsyncSession, settings: Settings) -> str:
    await load_all(session, settings)
    await session.commit()
    found = {
        "issue-ids": list(await session.scalars(select(Issue.id).order_by(Issue.id))),
        "block-ids": sorted(await session.scalars(select(Block.id).where(Block.issue_id == 2))),
        "calendar-ids": list(await session.scalars(select(CalendarItem.id).order_by("id"))),
        "list-ids": list(await session.scalars(select(MailingList.id).order_by("id"))),
        "event-ids": list(await session.scalars(select(Event.id).order_by("id"))),
        "registration-ids": list(
            await session.scalars(select(Registration.id).order_by("id").limit(5))
        ),
    }
    assert found == {**DEMO, "block-ids": DEMO["block-ids"][:5]}, "update DEMO to the demo content"
    await make_editor(session)
    return await make_token(session)


@pytest.fixture
def fuzz_app(app: Litestar, api_token: str) -> Iterator[Litestar]:
    CURRENT.app = app
    yield app
    CURRENT.app = None


@schema.parametrize()
@hypothesis.settings(
    # One database per operation and backend, shared by that operation's examples.
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
)
def test_api_conforms_to_schema(
    case: schemathesis.Case, fuzz_app: Litestar, api_token: str
) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {api_token}"})


async def test_served_schema_is_the_fuzzed_one(app: Litestar) -> None:
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        response = await client.get(SCHEMA_PATH)
    assert response.status_code == 200
    assert response.json() == DOCUMENT
