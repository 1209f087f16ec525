"""Composing faster in the issue editor (/redaktion/utskick/{id}): the intro block, articles
without a heading, the calendar item picker and the image library picker, through the
real pages (CSRF, optimistic locking) and the API, on both backends."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.calendar.models import CalendarItem
from service.issues.demo import png
from service.issues.models import Block, Issue
from tests.editor.helpers import api_auth, login, make_editor, make_token, page_version
from tests.factories import calendar_items
from tests.pages import Client, csrf, visible


async def _new_issue(client: Client, issue_date: str = "2019-09-01") -> tuple[str, str]:
    """A draft made through the form: ``(its editor URL, the CSRF token)``."""
    page = await client.get("/redaktion/utskick/nytt")
    token = csrf(page.text)
    created = await client.post(
        "/redaktion/utskick/nytt",
        data={"_csrf_token": token, "title": "Nyhetsbrev september", "issue_date": issue_date},
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    return created.headers["location"], token


async def _add(client: Client, url: str, token: str, **fields: Any) -> httpx.Response:
    data: dict[str, Any] = {
        "_csrf_token": token,
        "version": await page_version(client, url),
        **fields,
    }
    return await client.post(url + "/block", data=data, follow_redirects=False)


async def _save(
    client: Client, url: str, token: str, block_id: int, **fields: Any
) -> httpx.Response:
    data: dict[str, Any] = {
        "_csrf_token": token,
        "version": await page_version(client, url),
        "action": "save",
        **fields,
    }
    return await client.post(f"{url}/block/{block_id}", data=data, follow_redirects=False)


async def _blocks(session: AsyncSession, url: str) -> list[Block]:
    session.expire_all()
    issue = await session.get(Issue, int(url.rsplit("/", 1)[1]))
    assert issue is not None
    await session.refresh(issue, ["blocks"])
    return list(issue.blocks)


def _section(page: str, start: str, end: str) -> str:
    """The part of ``page`` from the element with id ``start`` to the next ``end``."""
    return page[page.index(f'id="{start}"') :].split(end, 1)[0]


async def test_intro_and_headingless_article_from_the_editor(
    client: Client, session: AsyncSession
) -> None:
    await make_editor(session)
    await login(client)
    url, token = await _new_issue(client)
    page = (await client.get(url)).text
    assert "<summary>Ingress</summary>" in page
    assert 'id="ny-intro-body"' in page and "högst 1 000 tecken" in page
    # An intro that is too long is refused and what was typed stays in the form.
    long = await _add(client, url, token, kind="intro", body="Lång ingress. " * 80)
    assert long.status_code == 422
    assert "Ingressen är för lång (högst 1000 tecken" in long.text
    assert "Lång ingress. Lång ingress." in long.text
    intro = "Hösten är här och FINSAM-konferensen närmar sig.\n\nTrevlig läsning!"
    assert (await _add(client, url, token, kind="intro", body=intro)).status_code == 303
    body = "Samordningsförbundet i Halland har fått ett nytt uppdrag av regeringen om våld."
    added = await _add(client, url, token, kind="article", heading="", body=body)
    assert added.status_code == 303, added.text
    # An article with neither heading, text nor image is refused.
    empty = await _add(client, url, token, kind="article", heading=" ", body="\n ")
    assert empty.status_code == 422
    assert "Artikeln är tom" in visible(empty.text)
    blocks = await _blocks(session, url)
    assert [(b.kind, b.data.get("heading")) for b in blocks] == [("intro", None), ("article", "")]
    assert blocks[0].data == {"body": intro}
    # The block list names the heading-less blocks by their first words.
    shown = visible((await client.get(url)).text)
    assert "1. Ingress: Hösten är här och FINSAM-konferensen närmar sig. Trevlig…" in shown
    assert "2. Artikel: Samordningsförbundet i Halland har fått ett nytt uppdrag…" in shown
    mail = (await client.get(url + "/forhandsvisning/html")).text
    assert 'font-size:19px;">Hösten är här och FINSAM-konferensen närmar sig.</p>' in mail
    assert not re.search(r"<h[2-6][^>]*>\s*</h[2-6]>", mail)
    text = visible((await client.get(url + "/forhandsvisning?vy=text")).text)
    assert "Hösten är här och FINSAM-konferensen närmar sig. Trevlig läsning!" in text
    # Editing the article: the heading can stay empty, the text cannot go too.
    cleared = await _save(client, url, token, blocks[1].id, heading="", body="")
    assert cleared.status_code == 422 and "Artikeln är tom" in cleared.text


async def test_calendar_picker_lists_items_and_stores_the_ticked_ones(
    client: Client, session: AsyncSession
) -> None:
    await make_editor(session)
    await login(client)
    items = calendar_items("plock")
    past = CalendarItem(
        uid="plock-sommar@test",
        title="Sommarmöte i Laholm",
        all_day=True,
        start_date=date(2019, 8, 15),
    )
    session.add_all([*items, past])
    await session.flush()
    first, second, past_id = items[0].id, items[1].id, past.id
    await session.commit()
    url, token = await _new_issue(client)  # dated 1 September 2019
    page = (await client.get(url)).text
    picker = _section(page, "ny-calendar-heading", "</form>")
    assert "<legend>Välj kalenderpunkter" in picker
    assert (
        f'<input type="checkbox" id="ny-calendar-item-{first}" name="item_ids" value="{first}">'
        f'<label for="ny-calendar-item-{first}">fredag 20 september – '
        "Arbetsplatsambassadörsdag Tema Språkinlärning</label>"
    ) in picker
    assert "fredag 4 oktober kl. 10.00–12.00 – Öppen konferensplanering" in picker
    assert picker.index("20 september") < picker.index("4 oktober")  # soonest first
    assert "Sommarmöte" not in picker  # past the issue date, and not chosen
    # Ticking one item (and choosing "only these") stores its id.
    added = await _add(
        client, url, token, kind="calendar", heading="Kalendarium", mode="selected",
        item_ids=[str(second)], limit="5",
    )  # fmt: skip
    assert added.status_code == 303, added.text
    [block] = await _blocks(session, url)
    assert block.data["mode"] == "selected" and block.data["item_ids"] == [second]
    text = (await client.get(url + "/forhandsvisning?vy=text")).text
    assert "Öppen konferensplanering" in text and "Arbetsplatsambassadörsdag" not in text
    # Its own form shows the tick; two ticks are stored in the listed order.
    form = _section((await client.get(url)).text, f"b{block.id}-heading", "</form>")
    assert f'value="{second}" checked>' in form and f'value="{first}">' in form
    saved = await _save(
        client, url, token, block.id, heading="Kalendarium", mode="selected",
        item_ids=[str(first), str(second)], limit="5",
    )  # fmt: skip
    assert saved.status_code == 303, saved.text
    [block] = await _blocks(session, url)
    assert block.data["item_ids"] == [first, second]
    # An item already chosen stays listed (and ticked) when it is past the issue date.
    block.data = {**block.data, "item_ids": [past_id, second]}
    await session.commit()
    form = _section((await client.get(url)).text, f"b{block.id}-heading", "</form>")
    assert f'value="{past_id}" checked>' in form
    assert "torsdag 15 augusti – Sommarmöte i Laholm (har redan varit)" in visible(form)
    assert form.index("Sommarmöte") < form.index("Arbetsplatsambassadörsdag")
    # An item deleted after the page was shown is refused in Swedish, the form kept.
    await session.delete(await session.get(CalendarItem, first))
    await session.commit()
    stale = await _save(
        client, url, token, block.id, heading="Mitt kalendarium", mode="selected",
        item_ids=[str(first)], limit="5",
    )  # fmt: skip
    assert stale.status_code == 422
    assert f"Det finns ingen kalenderpunkt med nummer {first}" in stale.text
    assert 'value="Mitt kalendarium"' in stale.text
    [block] = await _blocks(session, url)
    assert block.data["item_ids"] == [past_id, second]  # nothing half-saved


async def test_calendar_block_api_keeps_its_shape(client: Client, session: AsyncSession) -> None:
    auth = await api_auth(session)
    session.add_all(calendar_items("api"))
    await session.commit()
    ids = list(await session.scalars(select(CalendarItem.id).order_by(CalendarItem.id)))
    issue = await client.post(
        "/api/v1/issues", json={"title": "API", "issue_date": "2019-09-01"}, headers=auth
    )
    base = f"/api/v1/issues/{issue.json()['id']}/blocks"
    typed = {"mode": "selected", "item_ids": f"{ids[1]}, {ids[0]}"}  # as old forms sent it
    r = await client.post(base, json={"kind": "calendar", "data": typed}, headers=auth)
    assert r.status_code == 201, r.text
    assert r.json()["data"] == {
        "heading": "Kalendarium", "mode": "selected", "item_ids": [ids[1], ids[0]], "limit": 5,
    }  # fmt: skip
    unknown = {"mode": "selected", "item_ids": [ids[0], 424242]}
    r = await client.post(base, json={"kind": "calendar", "data": unknown}, headers=auth)
    assert r.status_code == 422
    assert "ingen kalenderpunkt med nummer 424242" in r.json()["fields"]["item_ids"]
    r = await client.post(
        base, json={"kind": "intro", "data": {"body": "Kort ingress."}}, headers=auth
    )
    assert r.status_code == 201 and r.json()["data"] == {"body": "Kort ingress."}


async def test_empty_calendar_says_so_and_links_to_the_calendar(
    client: Client, session: AsyncSession
) -> None:
    await make_editor(session)
    await login(client)
    url, _token = await _new_issue(client)
    picker = _section((await client.get(url)).text, "ny-calendar-heading", "</form>")
    assert "Det finns inga kommande kalenderpunkter." in picker
    assert '<a href="/redaktion/kalender">' in picker
    assert 'type="checkbox"' not in picker


async def test_image_picker_lists_the_library_and_stores_src_and_alt(
    client: Client, session: AsyncSession
) -> None:
    await make_editor(session)
    await login(client)
    url, token = await _new_issue(client)
    empty = _section((await client.get(url)).text, "ny-article-heading", "</form>")
    assert "Bildbiblioteket är tomt." in empty and 'href="/redaktion/bilder"' in empty
    auth = {"Authorization": f"Bearer {await make_token(session)}"}
    image = png(40, 20, lambda x, y: (11, 61, 92))
    uploaded = await client.post(
        "/api/v1/media", files={"file": ("karta-halland.png", image, "image/png")}, headers=auth
    )
    src = uploaded.json()["url"]
    picker = _section((await client.get(url)).text, "ny-article-heading", "</form>")
    assert "<legend>Bild</legend>" in picker
    assert (
        '<input type="radio" id="ny-article-image-none" name="image_media" value="" checked>'
        in (picker)
    )
    assert f'name="image_media" value="{src}">' in picker
    assert f'<img class="picker-thumb" src="{src}" alt=""> karta-halland.png' in picker
    assert "eller ange en adress (https://…)" in picker
    # A library image with no alt text anywhere yet: the alt text is asked for.
    no_alt = await _add(client, url, token, kind="article", heading="Kartan", image_media=src)
    assert no_alt.status_code == 422
    assert "En bild måste ha en alternativtext." in no_alt.text
    assert f'value="{src}" checked>' in no_alt.text
    added = await _add(
        client, url, token, kind="article", heading="Kartan", image_media=src,
        image_alt="Karta över Hallands sex kommuner", image_caption="Halland",
    )  # fmt: skip
    assert added.status_code == 303, added.text
    [article] = await _blocks(session, url)
    assert article.data["image"] == {
        "src": src, "alt": "Karta över Hallands sex kommuner", "caption": "Halland",
    }  # fmt: skip
    # The picker now shows the alt text, and a second use without one gets it.
    page = (await client.get(url)).text
    assert "karta-halland.png – alternativtext: ”Karta över Hallands sex kommuner”" in visible(
        _section(page, "ny-article-heading", "</form>")
    )
    own = _section(page, f"b{article.id}-heading", "</form>")
    assert f'value="{src}" checked>' in own
    assert f'id="b{article.id}-image_src" name="image_src" value=""' in own
    again = await _add(client, url, token, kind="article", heading="Igen", image_media=src)
    assert again.status_code == 303, again.text
    second = (await _blocks(session, url))[1]
    assert second.data["image"]["alt"] == "Karta över Hallands sex kommuner"
    # A /media/ address that is not in the library is refused.
    missing = "/media/" + "0" * 64 + ".png"
    r = await _add(
        client, url, token, kind="article", heading="X", image_media=missing, image_alt="a"
    )
    assert r.status_code == 422 and "Bilden finns inte i bildbiblioteket." in r.text
    # An address typed in "eller ange en adress" wins over the radio; it is still checked.
    r = await _add(
        client, url, token, kind="article", heading="X", image_media=src,
        image_src="https://10.0.0.1/bild.png", image_alt="a",
    )  # fmt: skip
    assert r.status_code == 422 and "intern eller privat" in r.text
    external = "https://93.184.215.14/bild.png"
    r = await _save(
        client, url, token, second.id, heading="Igen", image_media=src,
        image_src=external, image_alt="Extern bild",
    )  # fmt: skip
    assert r.status_code == 303, r.text
    own = _section((await client.get(url)).text, f"b{second.id}-heading", "</form>")
    assert f'name="image_src" value="{external}"' in own and " checked>" not in own
    # "Ingen bild" removes the image.
    r = await _save(client, url, token, article.id, heading="Kartan", image_media="", body="Text")
    assert r.status_code == 303, r.text
    assert (await _blocks(session, url))[0].data["image"] is None
