"""Composing issues through the API and the editor pages, with every kind of bad input."""

from __future__ import annotations

import email
import email.policy

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.core.models import AuditEntry
from service.issues.models import Issue
from service.settings import Settings
from tests.conftest import deliver_queued, outbox_messages
from tests.editor.helpers import api_auth, login, make_editor, page_version
from tests.pages import Client, csrf

ARTICLE = {
    "kind": "article",
    "data": {
        "heading": "Välkommen till hösten",
        "body": "Hej **alla** – [läs](https://example.org)",
    },
}


async def _issue(
    client: Client, auth: dict[str, str], title: str = "Nyhetsbrev för Åsa & Örjan"
) -> dict:
    r = await client.post(
        "/api/v1/issues", json={"title": title, "issue_date": "2026-12-01"}, headers=auth
    )
    assert r.status_code == 201, r.text
    return r.json()


async def test_api_compose_preview_and_test_send(
    client: Client, session: AsyncSession, settings: Settings
) -> None:
    auth = await api_auth(session)
    issue = await _issue(client, auth)
    assert issue["slug"] == "nyhetsbrev-for-asa-orjan"
    assert issue["subject"] == issue["title"] and issue["status"] == "draft"
    again = await _issue(client, auth)
    assert again["slug"] == "nyhetsbrev-for-asa-orjan-2"
    base = f"/api/v1/issues/{issue['id']}"
    first = (await client.post(base + "/blocks", json=ARTICLE, headers=auth)).json()
    second = (await client.post(base + "/blocks", json={"kind": "divider"}, headers=auth)).json()
    third = (
        await client.post(
            base + "/blocks", json={"kind": "heading", "data": {"text": "Aktuellt"}}, headers=auth
        )
    ).json()
    order = [third["id"], first["id"], second["id"]]
    r = await client.put(base + "/blocks/order", json={"block_ids": order}, headers=auth)
    assert [b["id"] for b in r.json()["blocks"]] == order
    r = await client.patch(
        f"{base}/blocks/{third['id']}", json={"data": {"text": "Upplyft"}}, headers=auth
    )
    assert r.json()["data"] == {"text": "Upplyft"}
    preview = (await client.get(base + "/preview", headers=auth)).json()
    assert "Upplyft" in preview["html"] and "Välkommen till hösten" in preview["text"]
    assert "Subject" in preview["headers"]
    sent = await client.post(
        base + "/test-send", json={"addresses": ["prov@example.org"]}, headers=auth
    )
    assert sent.status_code == 202, sent.text
    [queued] = sent.json()["queued"]
    assert (queued["recipient"], queued["state"]) == ("prov@example.org", "queued")
    deliver_queued(settings)
    msg = email.message_from_bytes(outbox_messages(settings)[-1], policy=email.policy.default)
    assert "Nyhetsbrev för Åsa & Örjan" in str(msg["Subject"])
    shown = (await client.get(base + "/test-sends", headers=auth)).json()
    assert [(t["id"], t["state"]) for t in shown] == [(queued["id"], "sent")]
    dup = (await client.post(base + "/duplicate", headers=auth)).json()
    assert dup["status"] == "draft" and dup["slug"] != issue["slug"] and len(dup["blocks"]) == 3
    r = await client.delete(f"{base}/blocks/{second['id']}", headers=auth)
    assert r.status_code == 204
    actions = set((await session.execute(select(AuditEntry.action))).scalars())
    assert {"issue.create", "block.create", "issue.duplicate", "issue.test_send"} <= actions
    schema = (await client.get("/api/schema/openapi.json")).json()
    assert "/api/v1/issues/{issue_id}/blocks" in schema["paths"]
    lists = (await client.get("/api/v1/lists", headers=auth)).json()
    assert any(m["slug"] == "nyhetsbrev" for m in lists)


async def test_api_bad_input(client: Client, session: AsyncSession) -> None:
    auth = await api_auth(session)
    assert (await client.get("/api/v1/issues")).status_code == 401
    r = await client.post(
        "/api/v1/issues", json={"title": "", "issue_date": "2026-12-01"}, headers=auth
    )
    assert r.status_code == 422 and "title" in r.json()["fields"]
    r = await client.post(
        "/api/v1/issues", json={"title": "x" * 201, "issue_date": "2026-12-01"}, headers=auth
    )
    assert r.status_code == 422 and "200 tecken" in r.json()["fields"]["title"]
    issue = await _issue(client, auth)
    base = f"/api/v1/issues/{issue['id']}"
    cases = [
        (
            {"kind": "cta", "data": {"button_label": "Anmäl", "button_url": "javascript:alert(1)"}},
            "button_url",
        ),
        ({"kind": "article", "data": {"heading": "A", "body": "[x](javascript:alert(1))"}}, "body"),
        ({"kind": "article", "data": {"heading": "A", "body": "x" * 20001}}, "body"),
        # An article needs a heading, a text or an image; the heading alone is optional.
        ({"kind": "article", "data": {"heading": " ", "body": "  \n"}}, "body"),
        ({"kind": "intro", "data": {"body": ""}}, "body"),
        ({"kind": "intro", "data": {"body": "x" * 1001}}, "body"),
        (
            {
                "kind": "article",
                "data": {"heading": "A", "image": {"src": "https://127.0.0.1/a.png", "alt": "a"}},
            },
            "image.src",
        ),
        (
            {
                "kind": "article",
                "data": {"heading": "A", "image": {"src": "http://169.254.169.254/", "alt": "a"}},
            },
            "image.src",
        ),
        (
            {
                "kind": "article",
                "data": {"heading": "A", "image": {"src": "https://10.0.0.1/a.png", "alt": "a"}},
            },
            "image.src",
        ),
        (
            {
                "kind": "article",
                "data": {"heading": "A", "image": {"src": "https://localhost/a.png", "alt": "a"}},
            },
            "image.src",
        ),
        (
            {
                "kind": "article",
                "data": {
                    "heading": "A",
                    "image": {"src": "/media/" + "a" * 64 + ".png", "alt": ""},
                },
            },
            "image.alt",
        ),
        ({"kind": "calendar", "data": {"mode": "selected", "item_ids": []}}, "item_ids"),
        ({"kind": "calendar", "data": {"mode": "selected", "item_ids": [987654]}}, "item_ids"),
        ({"kind": "video", "data": {}}, "kind"),
    ]
    for body, field in cases:
        r = await client.post(base + "/blocks", json=body, headers=auth)
        assert r.status_code == 422, (body, r.text)
        assert field in r.json()["fields"], (body, r.json())
    # Broken Markdown is stored and rendered safely.
    broken = {
        "kind": "notice",
        "data": {"heading": "N", "body": "**fet [länk( <script>alert(1)</script>"},
    }
    assert (await client.post(base + "/blocks", json=broken, headers=auth)).status_code == 201
    preview = (await client.get(base + "/preview", headers=auth)).json()
    assert "<script>alert" not in preview["html"]
    # Nothing half-saved.
    after = (await client.get(base, headers=auth)).json()
    assert [b["kind"] for b in after["blocks"]] == ["notice"]
    # Optimistic locking.
    r = await client.put(
        base, json={"title": "Ny", "issue_date": "2026-12-01", "version": 1}, headers=auth
    )
    assert r.status_code == 409
    # Editing an issue that is sending.
    row = await session.get(Issue, issue["id"])
    assert row is not None
    row.status = "sending"
    await session.commit()
    r = await client.post(base + "/blocks", json=ARTICLE, headers=auth)
    assert r.status_code == 409 and "skickas" in r.json()["error"]
    r = await client.put(base, json={"title": "Ny", "issue_date": "2026-12-01"}, headers=auth)
    assert r.status_code == 409
    r = await client.post(
        base + "/test-send",
        json={"addresses": [f"a{i}@example.org" for i in range(6)]},
        headers=auth,
    )
    assert r.status_code == 422


async def test_ui_compose_edit_preview(
    client: Client, session: AsyncSession, settings: Settings
) -> None:
    await make_editor(session)
    anon = await client.get("/redaktion", follow_redirects=False)
    assert anon.status_code == 303 and "/redaktion/logga-in" in anon.headers["location"]
    await login(client)
    page = await client.get("/redaktion/utskick/nytt")
    token = csrf(page.text)
    bad = await client.post(
        "/redaktion/utskick/nytt",
        data={"_csrf_token": token, "title": "", "issue_date": "2026-12-01"},
    )
    assert bad.status_code == 422 and "Ange en rubrik." in bad.text
    created = await client.post(
        "/redaktion/utskick/nytt",
        data={
            "_csrf_token": token,
            "title": "Augusti i Halland",
            "issue_date": "2026-08-20",
            "list_ids": "1",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    url = created.headers["location"]
    add = await client.post(
        url + "/block",
        data={
            "_csrf_token": token,
            "version": await page_version(client, url),
            "kind": "article",
            "heading": "Almedalen",
            "body": "Text",
            "link_url": "javascript:alert(1)",
        },
    )
    assert add.status_code == 422 and "Länken måste börja med" in add.text
    add = await client.post(
        url + "/block",
        data={
            "_csrf_token": token,
            "version": await page_version(client, url),
            "kind": "article",
            "heading": "Almedalen",
            "body": "Text",
        },
    )
    assert add.status_code == 200 and "Almedalen" in add.text
    issue_id = int(url.rsplit("/", 1)[1])
    issue = await session.get(Issue, issue_id)
    assert issue is not None
    await session.refresh(issue)
    block_id = issue.blocks[0].id
    edit = await client.post(
        f"{url}/block/{block_id}",
        data={
            "_csrf_token": token,
            "version": await page_version(client, url),
            "action": "save",
            "heading": "Almedalen 2026",
            "body": "Ny text",
        },
    )
    assert "Almedalen 2026" in edit.text
    preview = await client.get(url + "/forhandsvisning?vy=mobil")
    assert (
        "mail-frame-mobile" in preview.text
    )  # 320 px wide (editor.css; the browser test measures)
    text = await client.get(url + "/forhandsvisning?vy=text")
    assert "Almedalen 2026" in text.text
    headers = await client.get(url + "/forhandsvisning?vy=rubriker")
    assert "Subject" in headers.text
    html = await client.get(url + "/forhandsvisning/html")
    assert "Almedalen 2026" in html.text
    sent = await client.post(
        url + "/provutskick", data={"_csrf_token": token, "addresses": "inte-en-adress"}
    )
    assert sent.status_code == 422
    sent = await client.post(
        url + "/provutskick", data={"_csrf_token": token, "addresses": "prov@example.org"}
    )
    assert "Provutskicket är köat" in sent.text
    assert "prov@example.org" in sent.text and "Väntar" in sent.text
    deliver_queued(settings)
    again = await client.get(url + "/forhandsvisning")
    assert "Senaste provutskicken" in again.text and "Skickat" in again.text
    listing = await client.get("/redaktion")
    assert "Augusti i Halland" in listing.text and "utkast" in listing.text
    issue.status = "sent"
    await session.commit()
    locked = await client.post(url + "/block", data={"_csrf_token": token, "kind": "divider"})
    assert locked.status_code == 409 and "kan inte ändras" in locked.text


async def test_demo_august_issue_opens_in_the_editor(
    client: Client, session: AsyncSession, settings: Settings
) -> None:
    from service.demo import load_all

    await load_all(session, settings)
    await session.commit()
    await make_editor(session)
    await login(client)
    listing = await client.get("/redaktion")
    assert listing.status_code == 200
    from service.issues.demo import AUGUST_SLUG

    august = (await session.execute(select(Issue).where(Issue.slug == AUGUST_SLUG))).scalar_one()
    page = await client.get(f"/redaktion/utskick/{august.id}")
    assert page.status_code == 200 and "skickad och kan inte ändras" in page.text
    token = csrf(page.text)
    block = next(b for b in august.blocks if b.kind == "article")
    image = block.data.get("image") or {}
    form = {
        "_csrf_token": token,
        "action": "save",
        "heading": "Ny rubrik i augusti",
        "body": block.data.get("body", ""),
        "image_src": image.get("src", ""),
        "image_alt": image.get("alt", ""),
        "image_caption": image.get("caption", ""),
    }
    locked = await client.post(f"/redaktion/utskick/{august.id}/block/{block.id}", data=form)
    assert locked.status_code == 409
    copy = await client.post(
        f"/redaktion/utskick/{august.id}/duplicera",
        data={"_csrf_token": token},
        follow_redirects=False,
    )
    url = copy.headers["location"]
    copy_id = int(url.rsplit("/", 1)[1])
    copied = await session.get(Issue, copy_id)
    assert copied is not None and copied.status == "draft"
    position = next(i for i, b in enumerate(august.blocks) if b.id == block.id)
    copy_block = copied.blocks[position]
    form["version"] = await page_version(client, url)
    edit = await client.post(f"{url}/block/{copy_block.id}", data=form)
    assert edit.status_code == 200 and "Ny rubrik i augusti" in edit.text
    preview = await client.get(f"{url}/forhandsvisning/html")
    assert "Ny rubrik i augusti" in preview.text
    assert "Kalendarium" in (await client.get(f"{url}/forhandsvisning?vy=text")).text


async def test_ui_bad_input_and_block_order(client: Client, session: AsyncSession) -> None:
    await make_editor(session)
    await login(client)
    page = await client.get("/redaktion/utskick/nytt")
    token = csrf(page.text)
    long = await client.post(
        "/redaktion/utskick/nytt",
        data={"_csrf_token": token, "title": "x" * 201, "issue_date": "2026-12-01"},
    )
    assert long.status_code == 422 and "högst 200 tecken" in long.text
    bad_date = await client.post(
        "/redaktion/utskick/nytt", data={"_csrf_token": token, "title": "Ok", "issue_date": "igår"}
    )
    assert bad_date.status_code == 422 and "ÅÅÅÅ-MM-DD" in bad_date.text
    created = await client.post(
        "/redaktion/utskick/nytt",
        data={"_csrf_token": token, "title": "Ordning", "issue_date": "2026-12-01"},
        follow_redirects=False,
    )
    url = created.headers["location"]
    for src in (
        "http://127.0.0.1/a.png",
        "https://169.254.169.254/latest",
        "https://10.0.0.1/a.png",
        "https://localhost/a.png",
    ):
        r = await client.post(
            url + "/block",
            data={
                "_csrf_token": token,
                "version": await page_version(client, url),
                "kind": "article",
                "heading": "Bild",
                "image_src": src,
                "image_alt": "En bild",
            },
        )
        assert r.status_code == 422, src
        assert "https://" in r.text or "intern eller privat" in r.text
    broken = await client.post(
        url + "/block",
        data={
            "_csrf_token": token,
            "version": await page_version(client, url),
            "kind": "notice",
            "heading": "Trasig",
            "body": "*[ <b>x</b> `",
        },
    )
    assert broken.status_code == 200
    for text in ("Först", "Sist"):
        await client.post(
            url + "/block",
            data={
                "_csrf_token": token,
                "version": await page_version(client, url),
                "kind": "heading",
                "text": text,
            },
        )
    issue_id = int(url.rsplit("/", 1)[1])
    issue = await session.get(Issue, issue_id)
    assert issue is not None
    await session.refresh(issue)
    ids = [b.id for b in issue.blocks]
    assert len(ids) == 3
    for block_id, action in ((ids[2], "up"), (ids[0], "delete")):
        done = await client.post(
            f"{url}/block/{block_id}",
            data={
                "_csrf_token": token,
                "version": await page_version(client, url),
                "action": action,
            },
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
    session.expire_all()
    issue = await session.get(Issue, issue_id)
    assert issue is not None
    await session.refresh(issue)
    assert [b.data.get("text") for b in issue.blocks] == ["Sist", "Först"]
    html = await client.get(url + "/forhandsvisning/html")
    assert "<b>x</b>" not in html.text
