"""Issue 16 (items 2 and 3): an editor cannot send by mistake, and a delivered mail's
"Visa i webbläsaren" works while the rest of the send is still being retried.

Through the app over HTTP (the real test client, CSRF and session), on SQLite and
PostgreSQL: the confirmation page (count, lists, narrowing, time in words), going back
from it, confirming, a stale version caught, past/far times, no recipients and empty
issues refused on the page, the API and at web-only publishing, the scheduler leaving an
emptied issue unsent; and a send against a real SMTP server that answers 4xx for one
recipient, whose delivered mails' web link answers 200 mid-send.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.core.dates import STOCKHOLM, format_datetime, local
from service.core.models import AuditEntry
from service.db import utcnow
from service.delivery import service as delivery
from service.delivery.models import Delivery
from service.issues import service as issues
from service.issues.models import Issue
from service.settings import Settings
from tests.conftest import make_settings
from tests.delivery.helpers import confirm_fields, drain
from tests.editor.helpers import login, make_editor, make_token
from tests.factories import add_subscribers, make_issue
from tests.mails import html_of
from tests.pages import Client, csrf, visible
from tests.smtp import SmtpServer

EMPTY = "Utskicket har inget innehåll. Lägg till minst ett block innan du skickar."
ONLY_LAYOUT = [("heading", {"text": "Aktuellt"}), ("divider", {})]


@pytest.fixture
def settings(tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> Settings:
    return make_settings(tmp_path, db_url, INNAN_SMTP_URL=smtp_server.url)


def _url(issue_id: int) -> str:
    return f"/redaktion/utskick/{issue_id}/leverans"


async def _ask(client: Client, issue_id: int, **form: str) -> tuple[int, str]:
    """Press a send button on the delivery page: the status and the page it answers."""
    page = await client.get(_url(issue_id))
    answer = await client.post(
        f"{_url(issue_id)}/skicka", data={"_csrf_token": csrf(page.text), **form}
    )
    return answer.status_code, answer.text


async def _state(session: AsyncSession, issue_id: int) -> tuple[str, int]:
    """The issue's status and its ledger's size, as committed."""
    await session.commit()
    status = await session.scalar(select(Issue.status).where(Issue.id == issue_id))
    rows = await session.scalar(
        select(func.count()).select_from(Delivery).where(Delivery.issue_id == issue_id)
    )
    return str(status), int(rows or 0)


def _in_a_month() -> datetime:
    day = (local(utcnow()) + timedelta(days=30)).date()
    return datetime.combine(day, time(8, 0), STOCKHOLM)


async def test_the_confirmation_says_how_many_which_lists_and_when_and_sends_nothing(
    client: Client, session: AsyncSession
) -> None:
    await make_editor(session)
    await add_subscribers(session, 2, prefix="region", organisation="Region Halland")
    await add_subscribers(session, 3, prefix="kommun", organisation="Halmstads kommun")
    issue = await make_issue(session)
    issue.organisations = ["Region Halland"]
    await session.commit()
    issue_id = issue.id
    await login(client)
    eight = _in_a_month()

    status, page = await _ask(client, issue_id, satt="schema", at=eight.strftime("%Y-%m-%dT%H:%M"))
    assert status == 200
    text = visible(page)
    assert "Schemalägga Nyhetsbrev augusti 2019?" in text
    assert "Mottagare 2 mottagare just nu" in text
    assert "Lista Innanförskapet – nyhetsbrev" in text
    assert "Bara organisationerna Region Halland" in text
    when = format_datetime(eight, weekday=True)  # e.g. "tisdag 5 januari 2027 kl. 08.00"
    assert re.fullmatch(r"\w+dag \d+ \w+ \d{4} kl\. 08\.00", when)
    assert f"När {when} (svensk tid)" in text
    assert f"Ja, schemalägg till {when}" in text
    assert await _state(session, issue_id) == ("draft", 0)

    # "Nej, gå tillbaka utan att skicka" is a link back: nothing is scheduled or sent.
    back = re.search(r'<a href="([^"]+)">Nej, gå tillbaka utan att skicka</a>', page)
    assert back is not None and back.group(1) == _url(issue_id)
    delivery_page = await client.get(back.group(1))
    assert "utkast" in visible(delivery_page.text)
    assert await _state(session, issue_id) == ("draft", 0)
    actions = set(await session.scalars(select(AuditEntry.action)))
    assert not actions & {"issue.scheduled", "issue.send_started"}

    # Now: the question says "nu direkt"; its button sends, to exactly those counted.
    status, page = await _ask(client, issue_id, satt="nu", at=eight.strftime("%Y-%m-%dT%H:%M"))
    assert status == 200
    text = visible(page)
    assert "Skicka Nyhetsbrev augusti 2019 nu?" in text
    assert "När nu direkt" in text
    assert "Ja, skicka nu till 2 mottagare" in text
    sent = await client.post(f"{_url(issue_id)}/skicka", data=confirm_fields(page))
    assert sent.status_code == 200  # after the 303 to the delivery page
    assert "skickas" in visible(sent.text)
    assert await _state(session, issue_id) == ("sending", 2)


async def test_confirming_a_schedule_schedules_it_at_that_time(
    client: Client, session: AsyncSession
) -> None:
    await make_editor(session)
    await add_subscribers(session, 1)
    issue_id = (await make_issue(session)).id
    await login(client)
    eight = _in_a_month()
    _, page = await _ask(client, issue_id, satt="schema", at=eight.strftime("%Y-%m-%dT%H:%M"))
    done = await client.post(f"{_url(issue_id)}/skicka", data=confirm_fields(page))
    assert "schemalagt" in visible(done.text)
    assert eight.strftime("%Y-%m-%d %H:%M") in done.text
    await session.commit()
    scheduled = await session.scalar(select(Issue.scheduled_at).where(Issue.id == issue_id))
    assert scheduled == eight
    assert await _state(session, issue_id) == ("scheduled", 0)


async def test_a_change_between_question_and_confirmation_is_caught(
    client: Client, session: AsyncSession
) -> None:
    await make_editor(session)
    await add_subscribers(session, 2)
    issue_id = (await make_issue(session)).id
    await login(client)
    _, page = await _ask(client, issue_id, satt="nu")
    # A colleague adds a block while the question is on the screen.
    await issues.add_block(session, issue_id, "notice", {"heading": "Nytt"}, actor="test")
    await session.commit()
    stale = await client.post(f"{_url(issue_id)}/skicka", data=confirm_fields(page))
    assert stale.status_code == 409
    assert "Utskicket har ändrats sedan du fick frågan" in visible(stale.text)
    assert await _state(session, issue_id) == ("draft", 0)
    # Asked again, the new version is confirmed and sent.
    _, page = await _ask(client, issue_id, satt="nu")
    sent = await client.post(f"{_url(issue_id)}/skicka", data=confirm_fields(page))
    assert sent.status_code == 200
    assert await _state(session, issue_id) == ("sending", 2)


async def test_past_far_and_missing_times_are_refused_with_what_was_typed_kept(
    client: Client, session: AsyncSession
) -> None:
    await make_editor(session)
    await add_subscribers(session, 1)
    issue_id = (await make_issue(session)).id
    await login(client)
    past = (local(utcnow()) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    status, page = await _ask(client, issue_id, satt="schema", at=past)
    assert status == 422
    assert "har redan passerat" in visible(page)
    assert f'value="{past}"' in page  # the field keeps what the editor typed
    status, page = await _ask(client, issue_id, satt="schema", at="2207-01-05T08:00")
    assert status == 422
    assert "mer än ett år fram i tiden" in visible(page)
    assert "Kontrollera årtalet" in visible(page)
    status, page = await _ask(client, issue_id, satt="schema", at="")
    assert status == 422
    assert "Ange dag och klockslag" in visible(page)
    # A confirmation forged with a past time is refused too.
    page_now = await client.get(_url(issue_id))
    forged = await client.post(
        f"{_url(issue_id)}/skicka",
        data={
            "_csrf_token": csrf(page_now.text),
            "satt": "schema",
            "at": past,
            "version": "1",
            "bekraftad": "ja",
        },
    )
    assert forged.status_code == 422
    assert await _state(session, issue_id) == ("draft", 0)


async def test_no_recipients_and_an_empty_issue_are_refused_on_the_page(
    client: Client, session: AsyncSession
) -> None:
    await make_editor(session)
    nobody_id = (await make_issue(session, slug="ingen")).id
    await login(client)
    status, page = await _ask(client, nobody_id, satt="nu")
    assert status == 422
    assert "Utskicket skulle inte gå till någon" in visible(page)

    await add_subscribers(session, 2)
    empty_id = (await make_issue(session, [], slug="tomt")).id
    layout_id = (await make_issue(session, ONLY_LAYOUT, slug="bara-rubrik")).id
    nothing_coming = [("calendar", {"heading": "Kalendarium", "mode": "upcoming", "limit": 5})]
    calendar_id = (await make_issue(session, nothing_coming, slug="tom-kalender")).id
    for issue_id in (empty_id, layout_id, calendar_id):
        status, page = await _ask(client, issue_id, satt="nu")
        assert status == 422, issue_id
        assert EMPTY in visible(page)
        assert await _state(session, issue_id) == ("draft", 0)


async def test_the_api_refuses_empty_issues_and_bad_times_with_422(
    client: Client, session: AsyncSession
) -> None:
    await make_editor(session)
    auth = {"Authorization": f"Bearer {await make_token(session)}"}
    await add_subscribers(session, 2)
    empty_id = (await make_issue(session, ONLY_LAYOUT, slug="tomt")).id
    refused = await client.post(f"/api/v1/issues/{empty_id}/send", headers=auth, json={})
    assert refused.status_code == 422
    assert refused.json()["error"] == EMPTY
    assert "blocks" in refused.json()["fields"]
    web = await client.post(f"/api/v1/issues/{empty_id}/publish-web", headers=auth)
    assert web.status_code == 422
    assert "inget innehåll" in web.json()["error"]
    assert (await client.get("/arkiv/2019/tomt")).status_code == 404

    issue_id = (await make_issue(session)).id
    base = f"/api/v1/issues/{issue_id}"
    past = await client.post(f"{base}/send", headers=auth, json={"at": "2020-01-01T08:00"})
    assert past.status_code == 422
    assert "har redan passerat" in past.json()["error"]
    assert past.json()["fields"] == {"at": "tiden har passerat"}
    far = await client.post(f"{base}/send", headers=auth, json={"at": "2207-01-01T08:00"})
    assert far.status_code == 422
    stale = await client.post(f"{base}/send", headers=auth, json={"version": 99})
    assert stale.status_code == 409
    assert stale.json()["fields"] == {"version": "inaktuell"}
    assert await _state(session, issue_id) == ("draft", 0)
    sent = await client.post(f"{base}/send", headers=auth, json={"version": 1})
    assert sent.status_code == 200
    assert sent.json()["plan"]["recipients"] == 2


async def test_the_scheduler_does_not_send_an_issue_emptied_after_scheduling(
    client: Client, session: AsyncSession, settings: Settings
) -> None:
    await make_editor(session)
    await add_subscribers(session, 2)
    issue = await make_issue(session)
    issue_id = issue.id
    await delivery.start_send(session, settings, issue_id, at=_in_a_month(), actor="test")
    await session.commit()
    # The editor removes the article (a scheduled issue can be changed); the divider stays.
    article = next(b.id for b in issue.blocks if b.kind == "article")
    await issues.delete_block(session, issue_id, article, actor="test")
    await session.commit()
    started = await delivery.start_due(session, settings, now=_in_a_month() + timedelta(minutes=1))
    await session.commit()
    assert started == []
    assert await _state(session, issue_id) == ("draft", 0)
    await login(client)
    page = visible((await client.get(_url(issue_id))).text)
    assert "Det schemalagda utskicket skickades inte: det hade inget innehåll" in page
    assert (await client.get("/arkiv/2019/augusti-2019")).status_code == 404


async def test_visa_i_webblasaren_works_while_the_send_is_still_retrying(
    client: Client, session: AsyncSession, settings: Settings, smtp_server: SmtpServer
) -> None:
    await make_editor(session)
    auth = {"Authorization": f"Bearer {await make_token(session)}"}
    await add_subscribers(session, 3)
    issue_id = (await make_issue(session)).id
    before = await client.get("/arkiv")  # the public cache holds the archive without it
    assert "Nyhetsbrev augusti 2019" not in before.text
    smtp_server.refuse_recipient("mottagare1@exempel.se", "451 4.2.1 Brevlådan är upptagen")

    sent = await client.post(f"/api/v1/issues/{issue_id}/send", headers=auth)
    assert sent.status_code == 200
    await drain(settings, retry_base_seconds=3600)  # the 4xx waits an hour for its retry
    progress = (await client.get(f"/api/v1/issues/{issue_id}/delivery", headers=auth)).json()
    assert progress["status"] == "sending"
    assert progress["totals"]["sent"] == 2 and progress["totals"]["retry"] == 1

    delivered = smtp_server.received[0].message
    link = re.search(r'<a href="([^"]+)"[^>]*>Visa i webbläsaren</a>', html_of(delivered))
    assert link is not None
    assert link.group(1) == "http://testserver.local/arkiv/2019/augusti-2019"
    web = await client.get(link.group(1).removeprefix("http://testserver.local"))
    assert web.status_code == 200
    assert "Rapport från Almedalen" in web.text
    archive = await client.get("/arkiv")
    assert "Nyhetsbrev augusti 2019" in archive.text
    rss = await client.get("/arkiv/rss.xml")
    assert "/arkiv/2019/augusti-2019" in rss.text

    # Cancelled now, the issue stays on the web: two people have mails that link there.
    await client.post(f"/api/v1/issues/{issue_id}/cancel", headers=auth)
    assert (await client.get("/arkiv/2019/augusti-2019")).status_code == 200


async def test_a_send_cancelled_before_any_mail_went_out_leaves_the_archive(
    client: Client, session: AsyncSession
) -> None:
    await make_editor(session)
    auth = {"Authorization": f"Bearer {await make_token(session)}"}
    await add_subscribers(session, 2)
    issue_id = (await make_issue(session)).id
    await client.post(f"/api/v1/issues/{issue_id}/send", headers=auth)
    assert (await client.get("/arkiv/2019/augusti-2019")).status_code == 200
    await client.post(f"/api/v1/issues/{issue_id}/cancel", headers=auth)
    assert (await client.get("/arkiv/2019/augusti-2019")).status_code == 404
    assert "Nyhetsbrev augusti 2019" not in (await client.get("/arkiv")).text


async def test_an_intro_alone_or_an_article_that_is_only_an_image_is_content(
    client: Client, session: AsyncSession
) -> None:
    """The kinds that carry something to read without a heading: an intro, and an article
    with no heading or text but an image (both allowed by their validation)."""
    await make_editor(session)
    await add_subscribers(session, 2)
    intro = [("intro", {"body": "Hösten är här, och med den nya möten."})]
    image = {"src": "https://bilder.example.se/almedalen.jpg", "alt": "Scenen i Almedalen"}
    picture = [("article", {"heading": "", "body": "", "image": image, "link": None})]
    await login(client)
    for slug, blocks in (("bara-ingress", intro), ("bara-bild", picture)):
        issue_id = (await make_issue(session, blocks, slug=slug)).id
        status, page = await _ask(client, issue_id, satt="nu")
        assert status == 200, (slug, visible(page))
        assert "Ja, skicka nu till 2 mottagare" in visible(page)
