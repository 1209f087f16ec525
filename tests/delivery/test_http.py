"""The delivery page and API through the app, as an anonymous visitor and as an editor."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta
from pathlib import Path

from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import create_app
from service.core.dates import STOCKHOLM, local
from service.core.models import AuditEntry
from service.db import utcnow
from service.issues.models import Issue
from tests.conftest import make_settings, outbox_messages
from tests.delivery.helpers import send_via_page
from tests.editor.helpers import login, make_editor, make_token
from tests.factories import add_subscribers, make_issue
from tests.pages import Client, csrf


async def test_delivery_page_and_api_refuse_anonymous(
    client: Client, session: AsyncSession
) -> None:
    await add_subscribers(session, 1)
    issue = await make_issue(session)
    page = await client.get(f"/redaktion/utskick/{issue.id}/leverans", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/redaktion/logga-in")
    csv = await client.get(f"/redaktion/utskick/{issue.id}/leverans.csv", follow_redirects=False)
    assert csv.status_code == 303
    for action in ("send", "cancel", "pause", "resume"):
        response = await client.post(f"/api/v1/issues/{issue.id}/{action}", json={})
        assert response.status_code == 401, action
    assert (await client.get(f"/api/v1/issues/{issue.id}/delivery")).status_code == 401
    forged = await client.post(
        f"/api/v1/issues/{issue.id}/send", headers={"Authorization": "Bearer forged"}, json={}
    )
    assert forged.status_code == 401
    status = (await session.execute(select(Issue.status))).scalar()
    assert status == "draft"


async def test_editor_schedules_sends_and_sees_progress(
    client: Client, session: AsyncSession
) -> None:
    await make_editor(session)
    await add_subscribers(session, 3)
    issue = await make_issue(session)
    issue_id = issue.id
    await login(client)
    url = f"/redaktion/utskick/{issue_id}/leverans"
    page = await client.get(url)
    assert page.status_code == 200
    assert "Skicka nu" in page.text and "Schemalägg" in page.text
    bad = await client.post(
        f"{url}/skicka",
        data={"_csrf_token": csrf(page.text), "satt": "schema", "at": "inte en tid"},
    )
    assert bad.status_code == 422
    assert "Tidpunkten kunde inte läsas" in bad.text
    no_csrf = await client.post(f"{url}/skicka", data={"satt": "nu"})
    assert no_csrf.status_code == 403
    day = (local(utcnow()) + timedelta(days=30)).date()
    later = await send_via_page(client, issue_id, at=f"{day.isoformat()}T08:00")
    assert later.status_code == 200
    assert "schemalagt" in later.text
    assert f"{day.isoformat()} 08:00" in later.text
    cancelled = await client.post(f"{url}/avbryt", data={"_csrf_token": csrf(later.text)})
    assert "avbrutet" in cancelled.text
    now = await send_via_page(client, issue_id)
    assert "skickas" in now.text
    assert 'data-live-interval="10"' in now.text  # delivery.js follows the send in place
    assert "http-equiv" not in now.text  # never a timed reload (WCAG 2.2.1, 3.2.5)
    assert "i kö</th><td>3" in now.text.replace("\n", "").replace("  ", "")
    paused = await client.post(f"{url}/pausa", data={"_csrf_token": csrf(now.text)})
    assert "(pausat)" in paused.text
    unknown = await client.post(f"{url}/spreng", data={"_csrf_token": csrf(paused.text)})
    assert unknown.status_code == 404
    assert "Sidan finns inte" in unknown.text
    csv = await client.get(f"{url}.csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert "e-post;status;orsak" in csv.text
    actions = [a for (a,) in await session.execute(select(AuditEntry.action))]
    assert {"issue.scheduled", "issue.cancelled", "issue.send_started", "issue.paused"} <= set(
        actions
    )
    actors = {
        a for (a,) in await session.execute(select(AuditEntry.actor)) if a.startswith("editor")
    }
    assert actors


async def test_api_send_status_and_bad_input(client: Client, session: AsyncSession) -> None:
    await make_editor(session)
    token = await make_token(session)
    await add_subscribers(session, 2)
    issue = await make_issue(session)
    auth = {"Authorization": f"Bearer {token}"}
    base = f"/api/v1/issues/{issue.id}"
    bad = await client.post(f"{base}/send", headers=auth, json={"at": "igår"})
    assert bad.status_code == 422
    assert bad.json()["fields"]["at"]
    wrong_type = await client.post(f"{base}/send", headers=auth, json={"at": 5})
    assert wrong_type.status_code == 400  # the documented body says `at` is a string
    assert wrong_type.json()["error"] == "Förfrågan kunde inte tolkas."
    assert wrong_type.json()["detail"][0]["key"] == "at"
    missing = await client.post("/api/v1/issues/999999/send", headers=auth, json={})
    assert missing.status_code == 404
    day = (local(utcnow()) + timedelta(days=30)).date()
    scheduled = await client.post(f"{base}/send", headers=auth, json={"at": f"{day}T08:00"})
    assert scheduled.status_code == 200
    assert scheduled.json()["status"] == "scheduled"
    eight = datetime.combine(day, time(8, 0), STOCKHOLM)
    assert datetime.fromisoformat(scheduled.json()["scheduled_at"]) == eight
    assert scheduled.json()["plan"]["recipients"] == 2
    assert scheduled.json()["plan"]["when"].endswith("kl. 08.00")
    pause = await client.post(f"{base}/pause", headers=auth)
    assert pause.status_code == 409
    now = await client.post(f"{base}/send", headers=auth)  # a scheduled issue: send now
    assert now.status_code == 200
    body = now.json()
    assert body["status"] == "sending"
    assert body["totals"]["queued"] == 2
    assert body["plan"]["recipients"] == 2
    assert body["plan"]["when"] == "nu direkt"
    assert body["plan"]["lists"] == ["Innanförskapet – nyhetsbrev"]
    again = await client.post(f"{base}/send", headers=auth)
    assert again.status_code == 409
    status = await client.get(f"{base}/delivery", headers=auth)
    assert status.json()["total"] == 2


async def test_app_with_workers_sends_in_process(
    tmp_path: Path, db_url: str, session: AsyncSession
) -> None:
    settings = make_settings(tmp_path, db_url, INNAN_RUN_WORKERS="true")
    await make_editor(session)
    token = await make_token(session)
    await add_subscribers(session, 2)
    issue = await make_issue(session)
    async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as c:
        response = await c.post(
            f"/api/v1/issues/{issue.id}/send", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200
        for _ in range(200):
            if len(outbox_messages(settings)) == 2:
                break
            await asyncio.sleep(0.05)
    mails = outbox_messages(settings)
    assert len(mails) == 2
    assert all(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in m for m in mails)
