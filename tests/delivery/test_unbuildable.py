"""A send whose message cannot be built fails visibly and can be cancelled.

The probe's fault: a subject with U+2028 (saved before such characters were refused)
made the preview answer 500, and the send stayed "sending" for ever with nothing shown,
its rows claimed so that cancelling did not clear them.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from litestar.testing import AsyncTestClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import create_app
from service.delivery import service as delivery
from service.delivery.models import Delivery
from service.issues.models import Issue
from tests.conftest import make_settings
from tests.delivery.helpers import drain
from tests.editor.helpers import login, make_editor
from tests.factories import add_subscribers, make_issue
from tests.pages import csrf

SEPARATOR_SUBJECT = "Nyhetsbrev\u2028december"


async def _states(session: AsyncSession, issue_id: int) -> Counter[str]:
    await session.commit()
    rows = await session.execute(select(Delivery.state).where(Delivery.issue_id == issue_id))
    return Counter(str(r[0]) for r in rows)


async def test_a_send_that_cannot_be_built_is_paused_with_the_reason_and_cancellable(
    tmp_path: Path, db_url: str, session: AsyncSession
) -> None:
    settings = make_settings(tmp_path, db_url)
    await add_subscribers(session, 3)
    issue = await make_issue(session)
    await make_editor(session)
    await delivery.start_send(session, settings, issue.id, at=None, actor="test")
    await session.commit()
    # As if saved before line separators were refused in subjects.
    await session.execute(
        update(Issue).where(Issue.id == issue.id).values(subject=SEPARATOR_SUBJECT)
    )
    await session.commit()
    await drain(settings)
    assert await _states(session, issue.id) == Counter({"queued": 3})  # nothing claimed
    async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as c:
        await login(c)
        preview = await c.get(f"/redaktion/utskick/{issue.id}/forhandsvisning")
        assert preview.status_code == 422
        assert "Ämnesraden eller ett annat brevhuvud innehåller en radbrytning" in preview.text
        page = await c.get(f"/redaktion/utskick/{issue.id}/leverans")
        assert page.status_code == 200
        assert "Utskicket är pausat: brevet kunde inte byggas." in page.text
        assert "Ämnesraden eller ett annat brevhuvud" in page.text
        assert "(pausat)" in page.text
        cancelled = await c.post(
            f"/redaktion/utskick/{issue.id}/leverans/avbryt",
            data={"_csrf_token": csrf(page.text)},
            follow_redirects=False,
        )
        assert cancelled.status_code == 303
    assert await _states(session, issue.id) == Counter({"skipped": 3})
    status = (await session.execute(select(Issue.status).where(Issue.id == issue.id))).scalar()
    assert status == "cancelled"


async def test_corrected_and_resumed_the_send_goes_out(
    tmp_path: Path, db_url: str, session: AsyncSession
) -> None:
    settings = make_settings(tmp_path, db_url)
    await add_subscribers(session, 2)
    issue = await make_issue(session)
    await delivery.start_send(session, settings, issue.id, at=None, actor="test")
    await session.execute(
        update(Issue).where(Issue.id == issue.id).values(subject=SEPARATOR_SUBJECT)
    )
    await session.commit()
    await drain(settings)
    await session.refresh(issue)  # read what the worker wrote
    progress = await delivery.progress(session, issue.id)
    assert progress.paused and progress.error
    await session.execute(
        update(Issue).where(Issue.id == issue.id).values(subject="Nyhetsbrev december")
    )
    await delivery.set_paused(session, issue.id, False, actor="test")
    await session.commit()
    await drain(settings)
    assert await _states(session, issue.id) == Counter({"sent": 2})
    await session.refresh(issue)
    assert (await delivery.progress(session, issue.id)).error is None
