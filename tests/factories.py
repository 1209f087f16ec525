"""Rows the tests (and benchmarks) build: issues, subscribers, the seeded list.

One place for each kind of row, so that a test says only what it depends on: the
arguments it passes are the data its assertions are about.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.calendar.models import CalendarItem
from service.db import utcnow
from service.issues.models import Block, Issue, IssueList
from subscribers.models import MailingList, Subscriber, Subscription

BlockSpec = tuple[str, dict[str, Any]]

# The August issue the delivery tests send: one article (with a line that starts with a
# dot, for SMTP dot-stuffing) and a divider.
ALMEDALEN_BLOCKS: Sequence[BlockSpec] = (
    (
        "article",
        {
            "heading": "Rapport från Almedalen",
            "body": "Vi träffade många i **Visby**. Läs mer på vår webbplats.\n\n"
            ".En rad som börjar med punkt.",
            "image": None,
            "link": None,
        },
    ),
    ("divider", {}),
)

# One block of every kind, for the rendering tests.
EVERY_KIND_BLOCKS: Sequence[BlockSpec] = (
    ("intro", {"body": "Hösten är här och samverkan i Halland växer."}),
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
)


async def newsletter_list(session: AsyncSession, slug: str = "nyhetsbrev") -> MailingList:
    """A list the migrations seed (``nyhetsbrev`` unless told)."""
    found = (
        await session.execute(select(MailingList).where(MailingList.slug == slug))
    ).scalar_one()
    return found


def calendar_items(prefix: str) -> list[CalendarItem]:
    """Two calendar items in autumn 2019: an all-day one, and a timed one with a deadline."""
    return [
        CalendarItem(
            uid=f"{prefix}-1@test",
            title="Arbetsplatsambassadörsdag Tema Språkinlärning",
            all_day=True,
            start_date=date(2019, 9, 20),
            place="Folkets Hus Varberg",
            link="https://sfhalland.se/samverkansguiden/kalendarium",
        ),
        CalendarItem(
            uid=f"{prefix}-2@test",
            title="Öppen konferensplanering",
            all_day=False,
            starts_at=datetime(2019, 10, 4, 8, 0, tzinfo=UTC),
            ends_at=datetime(2019, 10, 4, 10, 0, tzinfo=UTC),
            start_date=date(2019, 10, 4),
            place="Samordningsförbundet i Halland, Storgatan 6, Halmstad",
            link="https://sfhalland.se/samverkansguiden/kalendarium",
            registration_deadline=date(2019, 10, 1),
        ),
    ]


async def make_issue(
    session: AsyncSession,
    blocks: Sequence[BlockSpec] | None = None,
    *,
    slug: str = "augusti-2019",
    title: str = "Nyhetsbrev augusti 2019",
    subject: str = "Nyhetsbrev från Samordningsförbundet – augusti 2019",
    preheader: str = "Almedalen, ESF-projekt och kalendarium",
    issue_date: date = date(2019, 8, 20),
    calendar: bool = False,
    lists: Sequence[str] = ("nyhetsbrev",),
) -> Issue:
    """A draft issue with ``blocks`` (``ALMEDALEN_BLOCKS`` unless told), targeted at
    ``lists``, committed; with ``calendar``, also the two ``calendar_items(slug)``."""
    if calendar:
        session.add_all(calendar_items(slug))
    issue = Issue(
        slug=slug,
        title=title,
        subject=subject,
        preheader=preheader,
        issue_date=issue_date,
        blocks=[
            Block(position=i, kind=kind, data=dict(data))
            for i, (kind, data) in enumerate(ALMEDALEN_BLOCKS if blocks is None else blocks)
        ],
    )
    for list_slug in lists:
        issue.list_links.append(IssueList(list_id=(await newsletter_list(session, list_slug)).id))
    session.add(issue)
    await session.commit()
    return issue


async def add_subscribers(
    session: AsyncSession, count: int, *, prefix: str = "mottagare", **fields: str
) -> list[Subscriber]:
    """``count`` confirmed, active subscribers of ``nyhetsbrev``, committed."""
    mlist = await newsletter_list(session)
    now = utcnow()
    people = []
    for n in range(count):
        person = Subscriber(
            email=f"{prefix}{n}@exempel.se",
            name=f"Namn {n}",
            status="active",
            confirmed_at=now,
            **fields,
        )
        person.subscriptions.append(
            Subscription(list_id=mlist.id, status="active", confirmed_at=now)
        )
        session.add(person)
        people.append(person)
    await session.commit()
    return people
