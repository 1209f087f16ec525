"""Publishing to and withdrawing from the archive: the editor page (CSRF forms) and the API."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.core.models import AuditEntry
from service.issues.models import Block, Issue
from tests.editor.helpers import login, make_editor, make_token
from tests.pages import Client, csrf, visible


async def _draft(session: AsyncSession, status: str = "draft") -> int:
    issue = Issue(
        slug="bara-webben",
        title="Bara på webben",
        preheader="Ett nummer som inte skickas",
        issue_date=date(2022, 4, 1),
        status=status,
        blocks=[Block(position=0, kind="article", data={"heading": "Hej", "body": "Text"})],
    )
    session.add(issue)
    await session.commit()
    return issue.id


async def test_editor_page_publishes_and_withdraws(session: AsyncSession, client: Client) -> None:
    issue_id = await _draft(session)
    await make_editor(session)
    # Like every editor page: an anonymous visitor is sent to the login form, and back.
    anonymous = await client.get("/redaktion/arkiv", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/redaktion/logga-in?next=%2Fredaktion%2Farkiv"
    await login(client)
    page = await client.get("/redaktion/arkiv")
    assert page.status_code == 200 and "Bara på webben" in page.text
    assert "Inte publicerat" in page.text
    # Without the CSRF token the form is refused.
    refused = await client.post(f"/redaktion/arkiv/{issue_id}/publicera", follow_redirects=False)
    assert refused.status_code == 403
    assert (await client.get("/arkiv/2022/bara-webben")).status_code == 404
    done = await client.post(
        f"/redaktion/arkiv/{issue_id}/publicera",
        data={"_csrf_token": csrf(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert (await client.get("/arkiv/2022/bara-webben")).status_code == 200
    page = await client.get("/redaktion/arkiv?klart=publicerat")
    assert "Nyhetsbrevet är publicerat i arkivet." in page.text
    done = await client.post(
        f"/redaktion/arkiv/{issue_id}/dra-tillbaka",
        data={"_csrf_token": csrf(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert (await client.get("/arkiv/2022/bara-webben")).status_code == 404
    actions = (await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
    assert [a for a in actions if a.startswith("archive.")] == [
        "archive.publish",
        "archive.withdraw",
    ]


async def test_api_publish_and_withdraw(session: AsyncSession, client: Client) -> None:
    issue_id = await _draft(session)
    await make_editor(session)
    token = await make_token(session)
    auth = {"Authorization": f"Bearer {token}"}
    assert (await client.post(f"/api/v1/issues/{issue_id}/publish-web")).status_code == 401
    published = await client.post(f"/api/v1/issues/{issue_id}/publish-web", headers=auth)
    assert published.status_code == 200
    assert published.json()["published"] is True
    assert published.json()["url"] == "http://testserver.local/arkiv/2022/bara-webben"
    withdrawn = await client.post(f"/api/v1/issues/{issue_id}/withdraw", headers=auth)
    assert withdrawn.status_code == 200 and withdrawn.json()["published"] is False
    missing = await client.post("/api/v1/issues/999999/withdraw", headers=auth)
    assert missing.status_code == 404 and missing.json()["error"] == "Nyhetsbrevet finns inte."


async def test_cancelled_issue_cannot_be_published(session: AsyncSession, client: Client) -> None:
    issue_id = await _draft(session, status="cancelled")
    await make_editor(session)
    token = await make_token(session)
    response = await client.post(
        f"/api/v1/issues/{issue_id}/publish-web", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 409
    assert "avbrutet" in response.json()["error"]


async def test_an_empty_issue_is_refused_on_the_archive_page_itself(
    session: AsyncSession, client: Client
) -> None:
    empty = Issue(slug="tomt", title="Ett tomt nummer", issue_date=date(2022, 5, 1), blocks=[])
    session.add(empty)
    await session.commit()
    await make_editor(session)
    await login(client)
    page = await client.get("/redaktion/arkiv")
    refused = await client.post(
        f"/redaktion/arkiv/{empty.id}/publicera", data={"_csrf_token": csrf(page.text)}
    )
    assert refused.status_code == 422
    shown = visible(refused.text)
    # On the archive page, with the list still there, naming the issue and what to do.
    assert "Ett tomt nummer publicerades inte." in shown
    assert "Utskicket har inget innehåll" in shown
    assert f'href="/redaktion/utskick/{empty.id}"' in refused.text
    assert "Publicera på webben" in shown
    assert (await client.get("/arkiv/2022/tomt")).status_code == 404
