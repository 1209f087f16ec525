"""The delivery page and API through the app: refused without an editor login or token."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from tests.delivery.helpers import add_subscribers, make_issue


async def test_delivery_page_and_api_refuse_anonymous(
    client: AsyncTestClient[Litestar], session: AsyncSession
) -> None:
    await add_subscribers(session, 1)
    issue = await make_issue(session)
    page = await client.get(f"/redaktion/utskick/{issue.id}/leverans")
    assert page.status_code in (401, 403) or page.url.path.startswith("/redaktion/logga")
    csv = await client.get(f"/redaktion/utskick/{issue.id}/leverans.csv")
    assert csv.status_code in (401, 403) or "text/csv" not in csv.headers.get("content-type", "")
    for action in ("send", "cancel", "pause", "resume"):
        response = await client.post(f"/api/v1/issues/{issue.id}/{action}", json={})
        assert response.status_code in (401, 403), action
    status = await client.get(f"/api/v1/issues/{issue.id}/delivery")
    assert status.status_code in (401, 403)
    forged = await client.post(
        f"/api/v1/issues/{issue.id}/send", headers={"Authorization": "Bearer forged"}, json={}
    )
    assert forged.status_code in (401, 403)
