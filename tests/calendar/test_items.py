"""Calendar items through the API and the editor pages: create, edit, validate, delete."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from service.settings import Settings
from tests.editor.helpers import api_auth, login, make_editor
from tests.pages import Client, csrf


async def test_calendar_api(client: Client, session: AsyncSession, settings: Settings) -> None:
    auth = await api_auth(session)
    body = {
        "title": "Fackligt forum",
        "start_date": "2026-09-10",
        "start_time": "18:00",
        "end_time": "20:30",
        "place": "Halmstad",
        "link": "https://example.org/forum",
        "registration_deadline": "2026-09-01",
    }
    r = await client.post("/api/v1/calendar", json=body, headers=auth)
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["starts_at"].startswith("2026-09-10T16:00:00")  # stored in UTC
    assert item["uid"].endswith("@" + settings.mail_domain) and item["sequence"] == 0
    r = await client.put(
        f"/api/v1/calendar/{item['id']}", json={**body, "place": "Varberg"}, headers=auth
    )
    assert r.json()["sequence"] == 1 and r.json()["uid"] == item["uid"]
    allday = await client.post(
        "/api/v1/calendar",
        json={
            "title": "Almedalen",
            "start_date": "2026-06-28",
            "end_date": "2026-07-02",
            "all_day": True,
        },
        headers=auth,
    )
    assert allday.status_code == 201 and allday.json()["starts_at"] is None
    bad = await client.post("/api/v1/calendar", json={**body, "end_time": "17:00"}, headers=auth)
    assert bad.status_code == 422 and "efter starten" in bad.json()["fields"]["end_time"]
    bad = await client.post(
        "/api/v1/calendar", json={**body, "link": "javascript:alert(1)"}, headers=auth
    )
    assert bad.status_code == 422 and "link" in bad.json()["fields"]
    bad = await client.post("/api/v1/calendar", json={**body, "title": ""}, headers=auth)
    assert bad.status_code == 422
    r = await client.put(
        f"/api/v1/calendar/{item['id']}", json={**body, "end_time": "10:00"}, headers=auth
    )
    assert r.status_code == 422
    unchanged = (await client.get(f"/api/v1/calendar/{item['id']}", headers=auth)).json()
    assert unchanged["place"] == "Varberg" and unchanged["sequence"] == 1
    assert (await client.delete(f"/api/v1/calendar/{item['id']}", headers=auth)).status_code == 204


async def test_calendar_ui(client: Client, session: AsyncSession) -> None:
    await make_editor(session)
    await login(client)
    page = await client.get("/redaktion/kalender/ny")
    token = csrf(page.text)
    form = {
        "_csrf_token": token,
        "title": "Styrelsemöte",
        "start_date": "2026-10-01",
        "start_time": "10:00",
        "end_time": "09:00",
    }
    bad = await client.post("/redaktion/kalender/ny", data=form)
    assert bad.status_code == 422 and "Slutet måste komma efter starten." in bad.text
    ok = await client.post("/redaktion/kalender/ny", data={**form, "end_time": "12:00"})
    assert ok.status_code == 200 and "Styrelsemöte" in ok.text and "2026-10-01 10:00" in ok.text
