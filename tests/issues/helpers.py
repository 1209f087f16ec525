"""Helpers for the rendering tests: an issue with every block kind."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.calendar.models import CalendarItem
from service.issues.message import IssueTemplate, Personal, shown
from service.issues.models import Block, Issue, IssueList
from service.issues.render import RenderedIssue
from service.settings import Settings
from subscribers.models import MailingList


async def make_issue(
    session: AsyncSession,
    blocks: list[tuple[str, dict[str, Any]]] | None = None,
    *,
    slug: str = "provnummer",
    title: str = "Nyhetsbrev september 2019",
    issue_date: date = date(2019, 9, 1),
) -> Issue:
    """An issue (targeted at ``nyhetsbrev``) with ``blocks`` and two calendar items."""
    first = CalendarItem(
        uid=f"{slug}-1@test",
        title="Arbetsplatsambassadörsdag Tema Språkinlärning",
        all_day=True,
        start_date=date(2019, 9, 20),
        place="Folkets Hus Varberg",
        link="https://sfhalland.se/samverkansguiden/kalendarium",
    )
    second = CalendarItem(
        uid=f"{slug}-2@test",
        title="Öppen konferensplanering",
        all_day=False,
        starts_at=datetime(2019, 10, 4, 8, 0, tzinfo=UTC),
        ends_at=datetime(2019, 10, 4, 10, 0, tzinfo=UTC),
        start_date=date(2019, 10, 4),
        place="Samordningsförbundet i Halland, Storgatan 6, Halmstad",
        link="https://sfhalland.se/samverkansguiden/kalendarium",
        registration_deadline=date(2019, 10, 1),
    )
    session.add_all([first, second])
    if blocks is None:
        blocks = [
            ("heading", {"text": "Aktuellt"}),
            (
                "article",
                {
                    "heading": "Social hänsyn vid upphandling",
                    "body": "Första stycket med en [länk](https://sfhalland.se/).\n\n"
                    "- punkt ett\n- punkt två",
                    "image": {
                        "src": "/media/bild.png",
                        "alt": "Tre guldhjälmar i Almedalen",
                        "caption": "Förbundet i Almedalen 2019",
                    },
                    "link": {"url": "https://sfhalland.se/nyheter", "label": "Läs mer"},
                },
            ),
            ("notice", {"heading": "Noterat från Almedalen", "body": "Något att fundera på!"}),
            (
                "cta",
                {
                    "heading": "Var med och planera",
                    "body": "Anmäl ert intresse.",
                    "button_label": "Anmäl intresse",
                    "button_url": "https://sfhalland.se/samverkansguiden/kalendarium",
                },
            ),
            ("divider", {}),
            ("calendar", {"heading": "Kalendarium", "mode": "upcoming", "limit": 5}),
        ]
    issue = Issue(
        slug=slug,
        title=title,
        subject=title,
        preheader="Nyheter om samverkan i Halland",
        issue_date=issue_date,
        blocks=[Block(position=i, kind=k, data=d) for i, (k, d) in enumerate(blocks)],
    )
    session.add(issue)
    await session.flush()
    list_id = await session.scalar(select(MailingList.id).where(MailingList.slug == "nyhetsbrev"))
    assert list_id is not None
    session.add(IssueList(issue_id=issue.id, list_id=list_id))
    await session.commit()
    return issue


def personalised(
    settings: Settings,
    rendered: RenderedIssue,
    *,
    name: str,
    prefs_url: str,
    unsubscribe_url: str,
) -> tuple[str, str]:
    """``(html, text)`` of the mail one recipient gets, decoded from the real message
    bytes (the same template the worker sends)."""
    template = IssueTemplate.build(settings, rendered.mail_source)
    message = template.message_bytes(
        Personal(
            to="mottagare@example.se",
            message_id="<prov@innanforskapet.test>",
            unsubscribe_url=unsubscribe_url,
            unsubscribe_mailto=None,
            name=name,
            prefs_url=prefs_url,
        )
    )
    parts = shown(message)
    return parts.html, parts.text
