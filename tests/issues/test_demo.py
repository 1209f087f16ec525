"""The demo August 2019 issue: loads idempotently and reads as the newsletter did."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.calendar.models import CalendarItem
from service.demo import load_all
from service.issues.demo import AUGUST_SLUG
from service.issues.models import Issue
from service.issues.render import render_issue
from service.media.models import MediaFile
from service.settings import Settings
from tests.issues.helpers import personalised


async def _august(session: AsyncSession, settings: Settings) -> Issue:
    await load_all(session, settings)
    await session.commit()
    issue = await session.scalar(select(Issue).where(Issue.slug == AUGUST_SLUG))
    assert issue is not None
    return issue


async def test_demo_is_idempotent(session: AsyncSession, settings: Settings) -> None:
    await _august(session, settings)
    counts = [
        await session.scalar(select(func.count()).select_from(model))
        for model in (Issue, CalendarItem, MediaFile)
    ]
    again = await load_all(session, settings)
    await session.commit()
    assert "Demonyhetsbreven finns redan." in again
    assert counts == [
        await session.scalar(select(func.count()).select_from(model))
        for model in (Issue, CalendarItem, MediaFile)
    ]
    assert counts[0] == 2 and counts[1] >= 6 and counts[2] == 2
    for media in (await session.scalars(select(MediaFile))).all():
        data = (settings.media_dir / media.filename).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) == media.size


async def test_august_issue_is_sent_and_published(
    session: AsyncSession, settings: Settings
) -> None:
    issue = await _august(session, settings)
    assert issue.status == "sent"
    assert issue.sent_at is not None and issue.web_published_at is not None
    assert issue.list_ids
    assert [b.kind for b in issue.blocks].count("article") == 4
    upcoming = await session.scalar(
        select(func.count())
        .select_from(CalendarItem)
        .where(CalendarItem.start_date > func.current_date())
    )
    assert upcoming and upcoming >= 3


async def test_august_issue_text_reads_well(session: AsyncSession, settings: Settings) -> None:
    issue = await _august(session, settings)
    rendered = await render_issue(session, settings, issue.id)
    _html, text = personalised(
        settings,
        rendered,
        name="Anna",
        prefs_url="https://p.test/x",
        unsubscribe_url="https://u.test/y",
    )
    lines = text.splitlines()
    assert lines[:5] == [
        "Samordningsförbundet i Halland",
        "",
        "Nyhetsbrev augusti 2019",
        "=======================",
        "28 augusti 2019",
    ]
    assert "Hej Anna!" in lines
    assert all(len(line) <= 72 or "://" in line for line in lines)
    assert "Noterat från Almedalen\n----------------------" in text
    assert "Anmäl ert intresse: https://sfhalland.se/samverkansguiden/kalendarium" in text
    assert (
        "fredag 20 september · Arbetsplatsambassadörsdag Tema Språkinlärning ·\n"
        "  Folkets Hus Varberg ·\n  https://sfhalland.se/samverkansguiden/kalendarium"
    ) in text
    assert "torsdag 3 oktober · Grundutbildning i försäkringsmedicin och" in text
    assert "fredag 4 oktober kl. 10.00–12.00 · Öppen konferensplanering ·" in text
    assert "  Sista anmälningsdag 1 oktober" in lines
    assert "UPPLYFT" in lines and "AKTUELLT" in lines
    assert "[Bild: Tre guldhjälmar: förbundets medarbetare i Almedalen 2019]" in text
    assert f"Visa i webbläsaren:\n{settings.base_url}/arkiv/2019/{AUGUST_SLUG}" in text
    assert f"Behandling av personuppgifter: {settings.base_url}/integritet" in text
    assert "Hantera prenumeration: https://p.test/x" in lines
    assert "Avregistrera: https://u.test/y" in lines
    assert lines[-2:] == [settings.org_name, settings.org_address]
    # the web version: same content, absolute image URLs, nothing personal
    assert "Var med och planera FINSAM-konferensen 2020!" in rendered.web_html
    assert f'src="{settings.base_url}/media/' in rendered.web_html
    assert "Hej" not in rendered.web_html and "%%" not in rendered.web_html
