"""Optimistic locking of block edits: a stale issue version is a 409, never an overwrite."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import create_engine, create_session_factory
from service.issues import service
from service.issues.models import Issue
from service.issues.service import StaleVersion
from service.settings import Settings
from tests.editor.helpers import form_version, login, make_editor, make_token
from tests.pages import Client, csrf

STALE = "Någon annan har ändrat utskicket medan du arbetade"


async def _issue_with_heading(client: Client, token: str) -> tuple[str, int]:
    created = await client.post(
        "/redaktion/utskick/nytt",
        data={"_csrf_token": token, "title": "Låst utskick", "issue_date": "2026-12-01"},
        follow_redirects=False,
    )
    url = created.headers["location"]
    page = await client.get(url)
    added = await client.post(
        url + "/block",
        data={
            "_csrf_token": token,
            "version": form_version(page.text),
            "kind": "heading",
            "text": "Första",
        },
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    return url, int(url.rsplit("/", 1)[1])


async def _blocks(session: AsyncSession, issue_id: int) -> list[tuple[str, str]]:
    session.expire_all()
    issue = await session.get(Issue, issue_id, populate_existing=True)
    assert issue is not None
    await session.refresh(issue, ["blocks"])
    return [(b.kind, str(b.data.get("text", b.data.get("heading", "")))) for b in issue.blocks]


async def test_ui_stale_block_forms_get_409_and_change_nothing(
    client: Client, session: AsyncSession
) -> None:
    await make_editor(session)
    await login(client)
    token = csrf((await client.get("/redaktion/utskick/nytt")).text)
    url, issue_id = await _issue_with_heading(client, token)
    # Two tabs (or two editors) open the same issue.
    tab_a = (await client.get(url)).text
    tab_b = (await client.get(url)).text
    block_id = (await session.get(Issue, issue_id)).blocks[0].id  # type: ignore[union-attr]
    saved = await client.post(
        f"{url}/block/{block_id}",
        data={
            "_csrf_token": token,
            "version": form_version(tab_a),
            "action": "save",
            "text": "Från flik A",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    # Tab B still carries the old version: every block action is refused.
    old = form_version(tab_b)
    stale_edit = await client.post(
        f"{url}/block/{block_id}",
        data={"_csrf_token": token, "version": old, "action": "save", "text": "Från flik B"},
    )
    assert stale_edit.status_code == 409
    assert STALE in stale_edit.text and "Ladda om sidan" in stale_edit.text
    # The page shows the current issue, the typed text is kept in the form, and the form
    # now carries the current version.
    assert "Från flik A" in stale_edit.text and 'value="Från flik B"' in stale_edit.text
    assert form_version(stale_edit.text) == str(int(old) + 1)
    for action in ("delete", "up", "down"):
        r = await client.post(
            f"{url}/block/{block_id}",
            data={"_csrf_token": token, "version": old, "action": action},
        )
        assert r.status_code == 409 and STALE in r.text, action
    added = await client.post(
        url + "/block",
        data={"_csrf_token": token, "version": old, "kind": "heading", "text": "Ny från B"},
    )
    assert added.status_code == 409 and STALE in added.text
    assert 'value="Ny från B"' in added.text  # the add form keeps what was typed
    # A form without any version (a page from before) is stale too.
    bare = await client.post(
        f"{url}/block/{block_id}", data={"_csrf_token": token, "action": "delete"}
    )
    assert bare.status_code == 409 and STALE in bare.text
    assert await _blocks(session, issue_id) == [("heading", "Från flik A")]
    # With the fresh version the change goes through.
    fresh = form_version((await client.get(url)).text)
    ok = await client.post(
        f"{url}/block/{block_id}",
        data={"_csrf_token": token, "version": fresh, "action": "save", "text": "Från flik B"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert await _blocks(session, issue_id) == [("heading", "Från flik B")]


async def test_ui_issue_fields_form_stale_keeps_input(
    client: Client, session: AsyncSession
) -> None:
    await make_editor(session)
    await login(client)
    token = csrf((await client.get("/redaktion/utskick/nytt")).text)
    url, issue_id = await _issue_with_heading(client, token)
    stale = await client.post(
        url,
        data={
            "_csrf_token": token,
            "version": "1",
            "title": "Gammal flik",
            "issue_date": "2026-12-02",
        },
    )
    assert stale.status_code == 409 and STALE in stale.text
    assert 'value="Gammal flik"' in stale.text
    session.expire_all()
    issue = await session.get(Issue, issue_id)
    assert issue is not None and issue.title == "Låst utskick"


async def test_api_block_version_is_checked_when_given(
    client: Client, session: AsyncSession
) -> None:
    await make_editor(session)
    auth = {"Authorization": f"Bearer {await make_token(session)}"}
    issue = (
        await client.post(
            "/api/v1/issues", json={"title": "API-lås", "issue_date": "2026-12-01"}, headers=auth
        )
    ).json()
    base = f"/api/v1/issues/{issue['id']}"
    first = await client.post(
        base + "/blocks",
        json={"kind": "heading", "data": {"text": "Ett"}, "version": issue["version"]},
        headers=auth,
    )
    assert first.status_code == 201
    block = first.json()
    stale_version = issue["version"]  # the add bumped it
    for method, path, body in (
        ("POST", "/blocks", {"kind": "divider", "version": stale_version}),
        ("PATCH", f"/blocks/{block['id']}", {"data": {"text": "X"}, "version": stale_version}),
        ("PUT", "/blocks/order", {"block_ids": [block["id"]], "version": stale_version}),
    ):
        r = await client.request(method, base + path, json=body, headers=auth)
        assert r.status_code == 409, (method, path, r.text)
        assert STALE in r.json()["error"] and r.json()["fields"] == {"version": "inaktuell"}
    r = await client.delete(f"{base}/blocks/{block['id']}?version={stale_version}", headers=auth)
    assert r.status_code == 409 and STALE in r.json()["error"]
    current = (await client.get(base, headers=auth)).json()
    assert current["version"] == stale_version + 1
    assert [b["data"] for b in current["blocks"]] == [{"text": "Ett"}]
    # The current version works; leaving version out keeps working (no check).
    r = await client.patch(
        f"{base}/blocks/{block['id']}",
        json={"data": {"text": "Två"}, "version": current["version"]},
        headers=auth,
    )
    assert r.status_code == 200
    r = await client.delete(
        f"{base}/blocks/{block['id']}?version={current['version'] + 1}", headers=auth
    )
    assert r.status_code == 204
    assert (await client.get(base, headers=auth)).json()["blocks"] == []
    r = await client.post(base + "/blocks", json={"kind": "divider"}, headers=auth)
    assert r.status_code == 201


async def test_a_save_between_check_and_write_is_a_conflict(
    settings: Settings, session: AsyncSession
) -> None:
    """Both saves read version N; the second one's conditional UPDATE finds none."""
    await make_editor(session)
    issue = await service.create_issue(
        session, service.IssueFields(title="Kapplöpning", issue_date="2026-12-01"),
        editor_id=None, actor="test",
    )  # fmt: skip
    block = await service.add_block(session, issue.id, "heading", {"text": "Start"}, actor="test")
    await session.commit()
    engine = create_engine(settings.database_url)
    try:
        factory = create_session_factory(engine)
        async with factory() as slow, factory() as fast:
            read = await service.get_issue(slow, issue.id)
            version = read.version
            await service.update_block(
                fast, issue.id, block.id, {"text": "Snabb"}, version=version, actor="test"
            )
            await fast.commit()
            # ``slow`` still holds version N in memory, so its check passes; the write not.
            with pytest.raises(StaleVersion):
                await service.update_block(
                    slow, issue.id, block.id, {"text": "Långsam"}, version=version, actor="test"
                )
            await slow.rollback()
    finally:
        await engine.dispose()
    assert await _blocks(session, issue.id) == [("heading", "Snabb")]
