"""Deleting a draft keeps it restorable for 30 days (issue 16, item 4).

Through the editor pages and the API on both backends: a deleted draft is gone from the
editor list, the archive, the API, the slug lookup and the CLI; "Ångra" and the
"Borttagna utkast" page bring it back with every block in order; the daily purge
removes it for good after 30 days, with an audit entry.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.core.models import AuditEntry
from service.db import utcnow
from service.errors import NotFound
from service.issues import service
from service.issues.models import Block, Issue
from service.settings import Settings
from tests.editor.helpers import api_auth, login, make_editor
from tests.pages import Client, csrf, visible

TEN = [("notice", {"heading": f"Avsnitt {n}", "body": f"Text {n}."}) for n in range(1, 11)]


async def _draft(session: AsyncSession, slug: str = "tio-block") -> int:
    issue = Issue(
        slug=slug,
        title="Tio block att rädda",
        issue_date=utcnow().date(),
        blocks=[Block(position=i, kind=k, data=dict(d)) for i, (k, d) in enumerate(TEN)],
    )
    session.add(issue)
    await session.commit()
    return issue.id


def _texts(page: str) -> list[str]:
    """The block headings the editor page lists, in order."""
    return re.findall(r"<h3>\d+\. Notis: (Avsnitt \d+)</h3>", page)


async def test_delete_confirm_undo_and_restore_in_the_browser_pages(
    client: Client, session: AsyncSession
) -> None:
    await make_editor(session)
    await login(client)
    issue_id = await _draft(session)
    url = f"/redaktion/utskick/{issue_id}"
    page = await client.get(url)
    # The delete button sits behind a confirm step that says what happens.
    shown = visible(page.text)
    assert "Ta bort utkastet" in shown and "Ja, ta bort utkastet" in shown
    assert "kan återställas där i 30 dagar" in shown
    # It is published on the web too (a draft can be): deleting takes it off the archive.
    published = await client.post(
        f"/redaktion/arkiv/{issue_id}/publicera", data={"_csrf_token": csrf(page.text)}
    )
    assert published.status_code == 200
    assert (await client.get(f"/arkiv/{utcnow().year}/tio-block")).status_code == 200

    deleted = await client.post(
        url + "/ta-bort", data={"_csrf_token": csrf(page.text)}, follow_redirects=False
    )
    assert deleted.status_code == 303
    assert deleted.headers["location"] == f"/redaktion?borttaget={issue_id}"
    listing = await client.get(deleted.headers["location"])
    shown = visible(listing.text)
    assert "Utkastet ”Tio block att rädda” är borttaget." in shown and "Ångra" in shown
    assert f'href="{url}"' not in listing.text  # not in the list of issues any more
    assert "Borttagna utkast (1)" in shown
    # Gone everywhere else: its page, its preview, the archive, the feed.
    gone = await client.get(url)
    assert gone.status_code == 404
    assert "Utkastet är borttaget. Under Borttagna utkast" in visible(gone.text)
    assert (await client.get(url + "/forhandsvisning")).status_code == 404
    assert (await client.get(f"/arkiv/{utcnow().year}/tio-block")).status_code == 404
    assert "Tio block att rädda" not in (await client.get("/arkiv")).text
    assert "Tio block att rädda" not in (await client.get("/arkiv/rss.xml")).text
    assert "Tio block att rädda" not in (await client.get("/redaktion/arkiv")).text
    with pytest.raises(NotFound):
        await service.issue_by_slug(session, "tio-block")

    # "Ångra" right away brings it back, blocks in order.
    undo = await client.post(
        f"{url}/aterstall", data={"_csrf_token": csrf(listing.text)}, follow_redirects=False
    )
    assert undo.status_code == 303 and undo.headers["location"] == f"{url}?aterstallt=1"
    back = await client.get(undo.headers["location"])
    assert "Utkastet är återställt med alla sina block." in visible(back.text)
    assert _texts(back.text) == [f"Avsnitt {n}" for n in range(1, 11)]
    assert (await client.get(f"/arkiv/{utcnow().year}/tio-block")).status_code == 200

    # Deleted again, it waits on "Borttagna utkast" with its purge date, and comes back.
    await client.post(url + "/ta-bort", data={"_csrf_token": csrf(back.text)})
    bin_page = await client.get("/redaktion/borttagna")
    shown = visible(bin_page.text)
    assert "Tio block att rädda" in shown and "Återställ" in shown
    assert "Tas bort för gott" in shown
    restored = await client.post(
        f"{url}/aterstall", data={"_csrf_token": csrf(bin_page.text)}, follow_redirects=True
    )
    assert _texts(restored.text) == [f"Avsnitt {n}" for n in range(1, 11)]
    assert "Det finns inga borttagna utkast." in visible(
        (await client.get("/redaktion/borttagna")).text
    )
    # Restoring what is not deleted is a Swedish 404, not a silent success.
    again = await client.post(f"{url}/aterstall", data={"_csrf_token": csrf(bin_page.text)})
    assert again.status_code == 404 and "finns inte bland de borttagna" in again.text
    actions = list(
        (
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_id == str(issue_id))
                .order_by(AuditEntry.id)
            )
        ).all()
    )
    assert actions[-4:] == ["issue.delete", "issue.restore", "issue.delete", "issue.restore"]


async def test_api_delete_is_soft_and_restorable(client: Client, session: AsyncSession) -> None:
    auth = await api_auth(session)
    issue_id = await _draft(session)
    base = f"/api/v1/issues/{issue_id}"
    assert (await client.delete(base, headers=auth)).status_code == 204
    assert (await client.get(base, headers=auth)).status_code == 404
    assert issue_id not in [
        i["id"] for i in (await client.get("/api/v1/issues", headers=auth)).json()
    ]
    blocked = await client.post(base + "/blocks", json={"kind": "divider"}, headers=auth)
    assert blocked.status_code == 404
    assert (await client.delete(base, headers=auth)).status_code == 404  # already deleted
    [listed] = (await client.get("/api/v1/issues/deleted", headers=auth)).json()
    assert (listed["id"], listed["title"], listed["blocks"]) == (
        issue_id,
        "Tio block att rädda",
        10,
    )
    assert listed["purge_at"] > listed["deleted_at"]
    restored = await client.post(base + "/restore", headers=auth)
    assert restored.status_code == 200, restored.text
    body = restored.json()
    assert body["slug"] == "tio-block"
    assert [b["data"]["heading"] for b in body["blocks"]] == [f"Avsnitt {n}" for n in range(1, 11)]
    assert (await client.get(base, headers=auth)).status_code == 200
    assert (await client.post(base + "/restore", headers=auth)).status_code == 404
    assert (await client.get("/api/v1/issues/deleted", headers=auth)).json() == []


async def test_slug_stays_reserved_while_deleted(client: Client, session: AsyncSession) -> None:
    """A new issue does not take a deleted draft's address, so a restore never changes it."""
    auth = await api_auth(session)
    issue_id = await _draft(session, slug="tio-block-att-radda")
    await client.delete(f"/api/v1/issues/{issue_id}", headers=auth)
    fresh = await client.post(
        "/api/v1/issues",
        json={"title": "Tio block att rädda", "issue_date": "2026-12-01"},
        headers=auth,
    )
    assert fresh.json()["slug"] == "tio-block-att-radda-2"
    restored = await client.post(f"/api/v1/issues/{issue_id}/restore", headers=auth)
    assert restored.json()["slug"] == "tio-block-att-radda"


async def test_purge_after_30_days_removes_and_audits(
    client: Client, session: AsyncSession, settings: Settings
) -> None:
    auth = await api_auth(session)
    old_id = await _draft(session, slug="gammalt")
    new_id = await _draft(session, slug="nytt")
    for issue_id in (old_id, new_id):
        await client.delete(f"/api/v1/issues/{issue_id}", headers=auth)
    # The old one was deleted 31 days ago, the new one 29 days ago.
    now = utcnow()
    for issue_id, days in ((old_id, 31), (new_id, 29)):
        issue = await session.get(Issue, issue_id)
        assert issue is not None
        issue.deleted_at = now - timedelta(days=days)
    await session.commit()
    assert await service.purge_deleted(session, now=now) == 1
    await session.commit()
    session.expire_all()
    assert await session.get(Issue, old_id) is None
    left = (await session.scalars(select(Block).where(Block.issue_id == old_id))).all()
    assert left == []
    [entry] = (
        await session.scalars(select(AuditEntry).where(AuditEntry.action == "issue.purge"))
    ).all()
    assert (entry.actor, entry.object_id) == ("system", str(old_id))
    assert entry.detail["slug"] == "gammalt" and entry.detail["blocks"] == 10
    # The one deleted 29 days ago can still be restored, and is purged two days later.
    [listed] = (await client.get("/api/v1/issues/deleted", headers=auth)).json()
    assert listed["id"] == new_id
    assert await service.purge_deleted(session, now=now + timedelta(days=2)) == 1
    await session.commit()
    assert (await client.get("/api/v1/issues/deleted", headers=auth)).json() == []


async def test_scheduler_retention_runs_the_purge(
    session: AsyncSession, settings: Settings
) -> None:
    """The daily retention job of the scheduler purges expired deleted drafts."""
    from service.db import create_engine, create_session_factory
    from service.delivery.scheduler import Scheduler

    issue_id = await _draft(session, slug="utgånget")
    issue = await session.get(Issue, issue_id)
    assert issue is not None
    issue.deleted_at = utcnow() - timedelta(days=30, minutes=1)
    await session.commit()
    engine = create_engine(settings.database_url)
    try:
        await Scheduler(settings, engine, create_session_factory(engine)).retention()
    finally:
        await engine.dispose()
    session.expire_all()
    assert await session.get(Issue, issue_id) is None


def test_cli_does_not_list_deleted_drafts(settings: Settings) -> None:
    from click.testing import CliRunner

    from service.cli import main
    from service.db import create_engine, create_session_factory
    from tests.conftest import cli_env

    async def setup() -> None:
        engine = create_engine(settings.database_url)
        try:
            async with create_session_factory(engine)() as session:
                gone = await _draft(session, slug="borttaget-utkast")
                await _draft(session, slug="kvar")
                await service.delete_issue(session, gone, actor="test")
                await session.commit()
        finally:
            await engine.dispose()

    asyncio.run(setup())
    result = CliRunner().invoke(main, ["issues", "list"], env=cli_env(settings))
    assert result.exit_code == 0, result.output
    assert "kvar" in result.output and "borttaget-utkast" not in result.output
    result = CliRunner().invoke(
        main, ["issues", "preview", "borttaget-utkast"], env=cli_env(settings)
    )
    assert result.exit_code != 0 and "adressnamnet" in result.output
