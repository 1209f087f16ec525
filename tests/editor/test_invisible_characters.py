"""Unicode line separators and direction controls in what editors type (both backends).

U+2028/U+2029 and NEL (U+0085) break a line as surely as CR/LF: in a subject they made
the preview answer 500. Direction controls (U+202E and friends) make a title or subject
read differently from what is stored. Single-line fields refuse them all; Markdown
bodies keep CR, LF and tab but refuse the rest.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.calendar.models import CalendarItem
from service.issues.models import Issue
from tests.editor.helpers import api_auth, login, make_editor, page_version
from tests.pages import Client, csrf, visible

LINE_SEPARATORS = ["\u2028", "\u2029", "\u0085"]
DIRECTION_CONTROLS = ["\u202e", "\u202a", "\u2066", "\u2069", "\u200f", "\u061c"]


async def _count(session: AsyncSession, model: type) -> int:
    session.expire_all()
    return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


@pytest.mark.parametrize("char", LINE_SEPARATORS + DIRECTION_CONTROLS[:1])
async def test_issue_form_refuses_a_subject_with_a_line_separator(
    client: Client, session: AsyncSession, char: str
) -> None:
    await make_editor(session)
    await login(client)
    token = csrf((await client.get("/redaktion/utskick/nytt")).text)
    response = await client.post(
        "/redaktion/utskick/nytt",
        data={
            "_csrf_token": token,
            "title": "Augusti",
            "subject": f"Nyheter{char}Bcc: alla",
            "issue_date": "2026-08-20",
        },
    )
    assert response.status_code == 422, response.text
    shown = visible(response.text)
    assert "Ämnesrad" in shown
    assert "Ämnesraden får inte innehålla radbrytningar" in shown
    assert await _count(session, Issue) == 0


async def test_a_saved_subject_cannot_get_a_line_separator_either(
    client: Client, session: AsyncSession
) -> None:
    await make_editor(session)
    await login(client)
    token = csrf((await client.get("/redaktion/utskick/nytt")).text)
    created = await client.post(
        "/redaktion/utskick/nytt",
        data={"_csrf_token": token, "title": "Augusti", "issue_date": "2026-08-20"},
        follow_redirects=False,
    )
    url = created.headers["location"]
    edit = await client.post(
        url,
        data={
            "_csrf_token": token,
            "version": await page_version(client, url),
            "title": "Augusti",
            "subject": "Nyheter\u2028i augusti",
            "issue_date": "2026-08-20",
        },
    )
    assert edit.status_code == 422, edit.text
    assert "Ämnesraden får inte innehålla radbrytningar" in visible(edit.text)
    # The preview still answers: nothing with a separator was stored.
    preview = await client.get(url + "/forhandsvisning?vy=rubriker")
    assert preview.status_code == 200
    assert "\u2028" not in preview.text


@pytest.mark.parametrize("char", ["\u2029", "\u2028", "\u0085", "\u202e", "\u2067"])
async def test_api_refuses_a_title_with_a_separator_or_direction_control(
    client: Client, session: AsyncSession, char: str
) -> None:
    auth = await api_auth(session)
    response = await client.post(
        "/api/v1/issues",
        json={"title": f"Augusti{char}i Halland", "issue_date": "2026-08-20"},
        headers=auth,
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["status"] == 422
    assert body["error"] == "Utskicket innehåller fel. Rätta de markerade fälten."
    assert "radbrytningar" in body["fields"]["title"]
    assert await _count(session, Issue) == 0


@pytest.mark.parametrize("char", LINE_SEPARATORS + DIRECTION_CONTROLS)
async def test_api_blocks_refuse_separators_in_headings_and_bodies(
    client: Client, session: AsyncSession, char: str
) -> None:
    auth = await api_auth(session)
    issue = (
        await client.post(
            "/api/v1/issues", json={"title": "Block", "issue_date": "2026-08-20"}, headers=auth
        )
    ).json()
    base = f"/api/v1/issues/{issue['id']}/blocks"
    heading = await client.post(
        base, json={"kind": "heading", "data": {"text": f"Akt{char}uellt"}}, headers=auth
    )
    assert heading.status_code == 422, heading.text
    assert "text" in heading.json()["fields"]
    body = await client.post(
        base,
        json={"kind": "article", "data": {"heading": "A", "body": f"Rad ett{char}rad två"}},
        headers=auth,
    )
    assert body.status_code == 422, body.text
    assert "otillåtna" in body.json()["fields"]["body"]
    # CR, LF and tab stay allowed in a Markdown body.
    fine = await client.post(
        base,
        json={"kind": "article", "data": {"heading": "A", "body": "Rad ett\r\n\trad två"}},
        headers=auth,
    )
    assert fine.status_code == 201, fine.text


@pytest.mark.parametrize("char", ["\u2028", "\u202e"])
async def test_api_calendar_refuses_separators_in_title_and_place(
    client: Client, session: AsyncSession, char: str
) -> None:
    auth = await api_auth(session)
    for field in ("title", "place", "organiser"):
        body = {"title": "Forum", "start_date": "2026-09-10", "all_day": True}
        body[field] = f"Halm{char}stad"
        response = await client.post("/api/v1/calendar", json=body, headers=auth)
        assert response.status_code == 422, (field, response.text)
        assert field in response.json()["fields"]
    assert await _count(session, CalendarItem) == 0
