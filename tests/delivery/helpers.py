"""Test data for delivery: subscribers on the seeded list and an issue built from blocks."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import create_engine, create_session_factory, utcnow
from service.delivery.worker import Worker, WorkerConfig
from service.issues.models import Block, Issue, IssueList
from service.mail.transport import make_transport
from service.settings import Settings
from subscribers.models import MailingList, Subscriber, Subscription


async def newsletter_list(session: AsyncSession) -> MailingList:
    found = (
        await session.execute(select(MailingList).where(MailingList.slug == "nyhetsbrev"))
    ).scalar_one()
    return found


async def add_subscribers(
    session: AsyncSession, count: int, *, prefix: str = "mottagare", **fields: str
) -> list[Subscriber]:
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


async def make_issue(session: AsyncSession, slug: str = "augusti-2019") -> Issue:
    mlist = await newsletter_list(session)
    issue = Issue(
        slug=slug,
        title="Nyhetsbrev augusti 2019",
        subject="Nyhetsbrev från Samordningsförbundet – augusti 2019",
        preheader="Almedalen, ESF-projekt och kalendarium",
        issue_date=date(2019, 8, 20),
    )
    issue.blocks.append(
        Block(
            position=0,
            kind="article",
            data={
                "heading": "Rapport från Almedalen",
                "body": "Vi träffade många i **Visby**. Läs mer på vår webbplats.\n\n"
                ".En rad som börjar med punkt.",
                "image": None,
                "link": None,
            },
        )
    )
    issue.blocks.append(Block(position=1, kind="divider", data={}))
    issue.list_links.append(IssueList(list_id=mlist.id))
    session.add(issue)
    await session.commit()
    return issue


async def drain(settings: Settings, **config: float) -> int:
    """Run one worker until nothing is claimable now."""
    engine = create_engine(settings.database_url)
    transport = make_transport(settings)
    try:
        worker = Worker(
            settings,
            create_session_factory(engine),
            transport,
            WorkerConfig(batch_size=settings.send_batch_size, **config),  # type: ignore[arg-type]
        )
        return await worker.drain()
    finally:
        await transport.close()
        await engine.dispose()
