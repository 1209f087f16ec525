"""Composing faster (issue 16, item 6): a new block goes where the editor says, and a
too long paste comes back in its textarea with the limit, on both backends over HTTP."""

from __future__ import annotations

import html
import re
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from service.issues.models import Block, Issue
from service.settings import Settings
from tests.editor.helpers import api_auth, form_version, login, make_editor
from tests.pages import Client, csrf, visible


async def _issue(session: AsyncSession, *texts: str) -> int:
    issue = Issue(
        slug="ordning",
        title="Ordning",
        issue_date=date(2026, 12, 1),
        blocks=[Block(position=i, kind="heading", data={"text": t}) for i, t in enumerate(texts)],
    )
    session.add(issue)
    await session.commit()
    return issue.id


def _order(page: str) -> list[str]:
    return re.findall(r"<h3>\d+\. Avsnittsrubrik: ([^<]+)</h3>", page)


def _ids(page: str) -> list[int]:
    return [int(x) for x in re.findall(r'<li id="block-(\d+)" class="block-item">', page)]


async def _add(client: Client, url: str, text: str, placering: str | None) -> str:
    """Add a heading block through the page's form; the redirect's location."""
    page = await client.get(url)
    data = {
        "_csrf_token": csrf(page.text),
        "version": form_version(page.text),
        "kind": "heading",
        "text": text,
    }
    if placering is not None:
        data["placering"] = placering
    response = await client.post(url + "/block", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


async def test_insert_first_after_and_last_through_the_form(
    client: Client, session: AsyncSession
) -> None:
    await make_editor(session)
    await login(client)
    issue_id = await _issue(session, "A", "B", "C")
    url = f"/redaktion/utskick/{issue_id}"
    page = await client.get(url)
    a, b, c = _ids(page.text)
    # Every add form offers the places, "Sist" chosen unless told.
    heading_form = page.text[page.text.index('id="ny-heading-placering"') :]
    options = re.findall(r'<option value="([^"]+)"( selected)?>([^<]+)</option>', heading_form)
    assert [(v, t) for v, _, t in options[:5]] == [
        ("forst", "Först"),
        (f"efter-{a}", "Efter block 1: Avsnittsrubrik – A"),
        (f"efter-{b}", "Efter block 2: Avsnittsrubrik – B"),
        (f"efter-{c}", "Efter block 3: Avsnittsrubrik – C"),
        ("sist", "Sist"),
    ]
    assert [v for v, sel, _ in options[:5] if sel] == ["sist"]
    # "Lägg till block här nedanför" opens the form preset after that block.
    assert f'href="{url}?efter={a}#nytt-block">Lägg till block här nedanför' in page.text
    assert "Lägg till block här nedanför (efter block 3)" in visible(page.text)
    preset = await client.get(f"{url}?efter={a}")
    assert f'<option value="efter-{a}" selected>' in preset.text
    assert "Det nya blocket placeras efter block 1: Avsnittsrubrik – A." in visible(preset.text)

    location = await _add(client, url, "Först in", "forst")
    first_id = int(location.rsplit("#block-", 1)[1])
    assert location == f"{url}#block-{first_id}"  # lands on the new block
    await _add(client, url, "Efter A", f"efter-{a}")
    await _add(client, url, "Sist in", "sist")
    await _add(client, url, "Utan val", None)  # an old form without the field: last
    page = await client.get(url)
    assert _order(page.text) == ["Först in", "A", "Efter A", "B", "C", "Sist in", "Utan val"]
    assert _ids(page.text)[0] == first_id
    # Moving lands on the moved block too.
    moved = await client.post(
        f"{url}/block/{c}",
        data={"_csrf_token": csrf(page.text), "version": form_version(page.text), "action": "up"},
        follow_redirects=False,
    )
    assert moved.headers["location"] == f"{url}#block-{c}"


async def test_insert_after_a_block_that_is_gone_or_garbage(
    client: Client, session: AsyncSession
) -> None:
    await make_editor(session)
    await login(client)
    issue_id = await _issue(session, "A")
    url = f"/redaktion/utskick/{issue_id}"
    page = await client.get(url)
    for placering, message in (
        ("efter-999999", "Blocket som det nya skulle placeras efter finns inte i utskicket."),
        ("mitten", "Välj var blocket ska placeras."),
    ):
        refused = await client.post(
            url + "/block",
            data={
                "_csrf_token": csrf(page.text),
                "version": form_version(page.text),
                "kind": "heading",
                "text": "Kvar i formuläret",
                "placering": placering,
            },
        )
        assert refused.status_code == 422
        assert message in visible(refused.text)
        assert 'value="Kvar i formuläret"' in refused.text
    assert _order((await client.get(url)).text) == ["A"]


async def test_api_position_and_after_block(client: Client, session: AsyncSession) -> None:
    auth = await api_auth(session)
    issue_id = await _issue(session, "A", "B")
    base = f"/api/v1/issues/{issue_id}/blocks"
    a, b = [
        x["id"]
        for x in (await client.get(f"/api/v1/issues/{issue_id}", headers=auth)).json()["blocks"]
    ]

    def heading(text: str, **where: int) -> dict[str, object]:
        return {"kind": "heading", "data": {"text": text}, **where}

    first = await client.post(base, json=heading("Noll", position=0), headers=auth)
    assert first.status_code == 201 and first.json()["position"] == 0
    after = await client.post(base, json=heading("Efter A", after_block=a), headers=auth)
    assert after.json()["position"] == 2
    await client.post(base, json=heading("Sist"), headers=auth)
    both = await client.post(base, json=heading("Båda", position=0, after_block=a), headers=auth)
    assert both.status_code == 422 and "inte båda" in both.json()["error"]
    unknown = await client.post(base, json=heading("Okänt", after_block=999999), headers=auth)
    assert unknown.status_code == 422 and unknown.json()["fields"] == {"after_block": "okänt block"}
    blocks = (await client.get(f"/api/v1/issues/{issue_id}", headers=auth)).json()["blocks"]
    assert [x["data"]["text"] for x in blocks] == ["Noll", "A", "Efter A", "B", "Sist"]
    assert [x["position"] for x in blocks] == [0, 1, 2, 3, 4]
    assert b in [x["id"] for x in blocks]


async def test_a_5_mb_paste_comes_back_in_its_textarea(
    client: Client, session: AsyncSession, settings: Settings
) -> None:
    """A 5 MB article body: the form is read, refused with its length and the limit, and
    the whole text is back in the textarea (nothing is lost), for a new and a saved block."""
    await make_editor(session)
    await login(client)
    issue = Issue(
        slug="lang",
        title="Lång text",
        issue_date=date(2026, 12, 1),
        blocks=[Block(position=0, kind="article", data={"heading": "Finns", "body": "Kort."})],
    )
    session.add(issue)
    await session.commit()
    issue_id = issue.id
    url = f"/redaktion/utskick/{issue_id}"
    page = await client.get(url)
    block_id = _ids(page.text)[0]
    pasted = ("Åsa skriver om samverkan & <stöd>.\n" * 160_000)[: 5 * 1024 * 1024]
    assert len(pasted) == 5_242_880
    message = "Texten är för lång: 5 242 880 tecken, högst 20 000."
    for action, extra, textarea_id in (
        ("/block", {"kind": "article", "heading": "Ny artikel"}, "ny-article-body"),
        (f"/block/{block_id}", {"action": "save", "heading": "Finns"}, f"b{block_id}-body"),
    ):
        refused = await client.post(
            url + action,
            data={
                "_csrf_token": csrf(page.text),
                "version": form_version(page.text),
                "body": pasted,
                **extra,
            },
        )
        assert refused.status_code == 422, refused.text[:500]
        assert message in visible(refused.text)
        kept = re.search(
            rf'<textarea id="{textarea_id}" name="body"[^>]*>(.*?)</textarea>', refused.text, re.S
        )
        assert kept is not None
        assert html.unescape(kept.group(1)) == pasted.replace("\r\n", "\n")
        # The counter's limit is on the form for editor.js.
        assert 'data-text-max="20000"' in refused.text
    session.expire_all()
    stored = await session.get(Issue, issue_id)
    assert stored is not None
    await session.refresh(stored)
    assert [b.data["body"] for b in stored.blocks] == ["Kort."]


async def test_over_the_editor_form_limit_a_swedish_413_with_the_way_back(
    client: Client, session: AsyncSession
) -> None:
    await make_editor(session)
    await login(client)
    issue_id = await _issue(session, "A")
    url = f"/redaktion/utskick/{issue_id}"
    page = await client.get(url)
    response = await client.post(
        url + "/block",
        data={
            "_csrf_token": csrf(page.text),
            "version": form_version(page.text),
            "kind": "notice",
            "body": "x" * (9 * 1024 * 1024),
        },
        headers={"Referer": f"http://testserver.local{url}"},
    )
    assert response.status_code == 413
    shown = visible(response.text)
    assert "Det du skickade är för stort: högst 8 MB" in shown
    assert "bakåtknapp" in shown
    assert f'<a href="http://testserver.local{url}">Tillbaka</a>' in response.text
    # A referrer from elsewhere is not offered as the way back.
    other = await client.post(
        url + "/block",
        data={"_csrf_token": csrf(page.text), "body": "x" * (9 * 1024 * 1024)},
        headers={"Referer": "https://elsewhere.example/"},
    )
    assert other.status_code == 413 and "elsewhere.example" not in other.text
    # Other forms keep the app's limit (64 kB by default) and say so.
    signup = await client.post("/prenumerera", data={"email": "x" * (100 * 1024)})
    assert signup.status_code == 413 and "högst 64 kB" in visible(signup.text)
