"""Composing issues: create, edit, duplicate, delete and restore, and the ordered blocks.

Every change validates all of its input before touching the database, so a failed
save changes nothing. Only issues in ``draft``/``scheduled`` can be changed; with a
``version`` the caller gets optimistic locking (409 when someone saved in between).

Optimistic locking: every change of an issue or its blocks bumps ``issue.version``.
A caller that passes the ``version`` it read gets :class:`StaleVersion` (409) when the
issue has changed since. The bump itself is a conditional UPDATE (``WHERE version =
<read>``), so two saves that both passed the check cannot both commit.

Deleting is a soft delete: a deleted draft (``deleted_at`` set) is kept, blocks and all,
in the editors' "Borttagna utkast" for :data:`DELETED_KEEP_DAYS` days, where it can be
restored; :func:`purge_deleted` (the daily retention job) removes it after that. Until
then it does not exist for anything else: :func:`get_issue` and :func:`issue_by_slug`
answer NotFound, lists leave it out, and its slug stays reserved so that a restore
never changes an address.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from service.core import audit
from service.core.text import SINGLE_LINE_MESSAGE, has_control_chars
from service.db import is_row_id, utcnow
from service.errors import Conflict, NotFound, ValidationFailed
from service.issues.blocks import validate_block
from service.issues.models import DELETED_KEEP_DAYS, Block, Issue, IssueList
from subscribers.models import MailingList

EDITABLE = ("draft", "scheduled")
DELETABLE = ("draft", "cancelled")
STATUS_SV = {
    "draft": "utkast",
    "scheduled": "schemalagd",
    "sending": "skickas",
    "sent": "skickad",
    "cancelled": "avbruten",
}
STALE_MESSAGE = (
    "Någon annan har ändrat utskicket medan du arbetade. Ladda om sidan och gör din ändring igen."
)

DELETED_GONE = "Utkastet finns inte bland de borttagna (det kan redan vara återställt)."
IS_DELETED = (
    f"Utkastet är borttaget. Under Borttagna utkast (/redaktion/borttagna) kan det "
    f"återställas i {DELETED_KEEP_DAYS} dagar efter att det togs bort."
)


class StaleVersion(Conflict):
    """The issue changed after the caller read it (optimistic locking)."""

    def __init__(self, message: str = STALE_MESSAGE) -> None:
        super().__init__(message, fields={"version": "inaktuell"})


@dataclass
class IssueFields:
    title: str
    subject: str = ""
    preheader: str = ""
    issue_date: date | str | None = None
    slug: str = ""
    list_ids: list[int] = field(default_factory=list)
    organisations: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)


def slugify(text: str) -> str:
    value = text.lower().replace("å", "a").replace("ä", "a").replace("ö", "o")
    value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    value = re.sub(r"[^a-z0-9]+", "-", value).strip("-")
    return value[:100].strip("-") or "utskick"


async def _unique_slug(session: AsyncSession, base: str, own_id: int | None = None) -> str:
    candidate, n = base, 1
    while True:
        found = (
            await session.execute(select(Issue.id).where(Issue.slug == candidate))
        ).scalar_one_or_none()
        if found is None or found == own_id:
            return candidate
        n += 1
        candidate = f"{base[:110]}-{n}"


async def _validate(session: AsyncSession, f: IssueFields) -> dict[str, Any]:
    errors: dict[str, str] = {}
    title = (f.title or "").strip()
    if not title:
        errors["title"] = "Ange en rubrik."
    elif len(title) > 200:
        errors["title"] = "Rubriken får vara högst 200 tecken."
    elif has_control_chars(title):
        errors["title"] = SINGLE_LINE_MESSAGE
    subject = (f.subject or "").strip() or title
    if len(subject) > 200:
        errors["subject"] = "Ämnesraden får vara högst 200 tecken."
    if has_control_chars(subject):
        errors["subject"] = (
            "Ämnesraden får inte innehålla radbrytningar eller andra styrtecken "
            "(inte heller osynliga tecken som styr skrivriktningen)."
        )
    preheader = (f.preheader or "").strip()
    if len(preheader) > 300:
        errors["preheader"] = "Förhandstexten får vara högst 300 tecken."
    elif has_control_chars(preheader):
        errors["preheader"] = SINGLE_LINE_MESSAGE
    issue_date: date | None = None
    if isinstance(f.issue_date, date):
        issue_date = f.issue_date
    elif f.issue_date:
        try:
            issue_date = date.fromisoformat(str(f.issue_date).strip())
        except ValueError:
            errors["issue_date"] = "Ange datumet som ÅÅÅÅ-MM-DD."
    else:
        errors["issue_date"] = "Ange utskickets datum."
    slug_raw = (f.slug or "").strip()
    slug = slugify(slug_raw or title) if (slug_raw or title) else ""
    list_ids = sorted({int(x) for x in f.list_ids})
    storable = [i for i in list_ids if is_row_id(i)]
    if list_ids:
        known = set(
            (await session.execute(select(MailingList.id).where(MailingList.id.in_(storable))))
            .scalars()
            .all()
        )
        if set(list_ids) - known:
            errors["list_ids"] = "Någon av de valda listorna finns inte."
    orgs = [o.strip() for o in f.organisations if o and o.strip()]
    roles = [r.strip() for r in f.roles if r and r.strip()]
    if any(len(x) > 200 for x in orgs + roles) or len(orgs) > 200 or len(roles) > 50:
        errors["organisations"] = "För många eller för långa organisationer/roller."
    elif any(has_control_chars(x) for x in orgs + roles):
        errors["organisations"] = SINGLE_LINE_MESSAGE
    if errors:
        raise ValidationFailed(
            "Utskicket innehåller fel. Rätta de markerade fälten.", fields=errors
        )
    return {
        "title": title,
        "subject": subject,
        "preheader": preheader,
        "issue_date": issue_date,
        "slug": slug,
        "list_ids": list_ids,
        "organisations": orgs,
        "roles": roles,
    }


async def get_issue(session: AsyncSession, issue_id: int, *, deleted: bool = False) -> Issue:
    """The issue ``issue_id``; NotFound if there is none or it is deleted. With
    ``deleted=True`` only a deleted one (what :func:`restore_issue` looks for)."""
    issue = await session.get(Issue, issue_id) if is_row_id(issue_id) else None
    if issue is None or (issue.deleted_at is not None) != deleted:
        if deleted:
            raise NotFound(DELETED_GONE)
        raise NotFound(IS_DELETED if issue is not None else "Utskicket finns inte.")
    return issue


async def issue_by_slug(session: AsyncSession, slug: str) -> Issue:
    """The issue with this slug (as typed on the command line), or NotFound in Swedish."""
    issue = await session.scalar(
        select(Issue).where(Issue.slug == slug.strip(), Issue.deleted_at.is_(None))
    )
    if issue is None:
        raise NotFound(f"Det finns inget nyhetsbrev med adressnamnet ”{slug}”.")
    return issue


async def list_issues(session: AsyncSession) -> list[Issue]:
    stmt = (
        select(Issue)
        .where(Issue.deleted_at.is_(None))
        .order_by(Issue.issue_date.desc(), Issue.id.desc())
    )
    return list((await session.execute(stmt)).scalars())


async def list_deleted(session: AsyncSession) -> list[Issue]:
    """The deleted drafts that can still be restored, most recently deleted first."""
    stmt = (
        select(Issue)
        .where(Issue.deleted_at.is_not(None))
        .order_by(Issue.deleted_at.desc(), Issue.id.desc())
    )
    return list((await session.execute(stmt)).scalars())


async def list_mailing_lists(session: AsyncSession) -> list[MailingList]:
    stmt = select(MailingList).order_by(MailingList.sort_order, MailingList.name)
    return list((await session.execute(stmt)).scalars())


def ensure_editable(issue: Issue, version: int | None = None) -> None:
    if issue.status not in EDITABLE:
        raise Conflict(
            f"Utskicket är {STATUS_SV.get(issue.status, issue.status)} och kan inte ändras. "
            "Duplicera det om du vill göra ett nytt."
        )
    if version is not None and version != issue.version:
        raise StaleVersion()


async def _touch(session: AsyncSession, issue: Issue) -> None:
    """Bump the version and drop the rendering, unless someone else bumped it first.

    The UPDATE matches only the version this session read, so a save that committed
    after our :func:`ensure_editable` check (or waited for our row lock) is a 409, not
    a silently lost update.
    """
    await session.flush()
    read = issue.version
    changes: dict[str, Any] = {
        "version": read + 1,
        "rendered_html": None,
        "rendered_text": None,
        "rendered_at": None,
        "updated_at": utcnow(),
    }
    result = await session.execute(
        update(Issue)
        .where(Issue.id == issue.id, Issue.version == read)
        .values(**changes)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleVersion()
    for key, value in changes.items():
        set_committed_value(issue, key, value)


async def create_issue(
    session: AsyncSession, f: IssueFields, *, editor_id: int | None, actor: str
) -> Issue:
    clean = await _validate(session, f)
    if not clean["list_ids"]:
        default = (
            await session.execute(select(MailingList.id).where(MailingList.slug == "nyhetsbrev"))
        ).scalar_one_or_none()
        clean["list_ids"] = [default] if default else []
    issue = Issue(
        slug=await _unique_slug(session, clean["slug"]),
        title=clean["title"],
        subject=clean["subject"],
        preheader=clean["preheader"],
        issue_date=clean["issue_date"],
        organisations=clean["organisations"],
        roles=clean["roles"],
        status="draft",
        version=1,
        created_by=editor_id,
    )
    issue.list_links = [IssueList(list_id=i) for i in clean["list_ids"]]
    issue.blocks = []
    session.add(issue)
    await session.flush()
    audit.record(session, actor, "issue.create", "issue", issue.id, slug=issue.slug)
    return issue


async def update_issue(
    session: AsyncSession, issue_id: int, f: IssueFields, *, version: int | None, actor: str
) -> Issue:
    issue = await get_issue(session, issue_id)
    ensure_editable(issue, version)
    clean = await _validate(session, f)
    issue.title = clean["title"]
    issue.subject = clean["subject"]
    issue.preheader = clean["preheader"]
    issue.issue_date = clean["issue_date"]
    if (f.slug or "").strip():
        issue.slug = await _unique_slug(session, clean["slug"], issue.id)
    issue.organisations = clean["organisations"]
    issue.roles = clean["roles"]
    if set(issue.list_ids) != set(clean["list_ids"]):
        issue.list_links = [IssueList(list_id=i) for i in clean["list_ids"]]
    await _touch(session, issue)
    await session.flush()
    audit.record(session, actor, "issue.edit", "issue", issue.id)
    return issue


async def delete_issue(
    session: AsyncSession, issue_id: int, *, actor: str, now: datetime | None = None
) -> Issue:
    """Move a draft (or a cancelled issue) to "Borttagna utkast"; see the module docstring."""
    issue = await get_issue(session, issue_id)
    if issue.status not in DELETABLE:
        raise Conflict("Bara utkast och avbrutna utskick kan tas bort.")
    now = now or utcnow()
    issue.deleted_at = now
    issue.updated_at = now  # the archive's fingerprint changes if it was published there
    issue.version += 1  # an open editor page of it is stale now
    await session.flush()
    audit.record(session, actor, "issue.delete", "issue", issue.id, slug=issue.slug)
    return issue


async def restore_issue(session: AsyncSession, issue_id: int, *, actor: str) -> Issue:
    """Bring a deleted draft back, with all its blocks, lists and slug, as it was."""
    issue = await get_issue(session, issue_id, deleted=True)
    issue.deleted_at = None
    issue.updated_at = utcnow()
    issue.version += 1
    await session.flush()
    audit.record(session, actor, "issue.restore", "issue", issue.id, slug=issue.slug)
    return issue


async def purge_deleted(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Remove the drafts deleted more than :data:`DELETED_KEEP_DAYS` days before ``now``
    for good (blocks, lists and any ledger with them), each with an audit entry."""
    now = now or utcnow()
    cutoff = now - timedelta(days=DELETED_KEEP_DAYS)
    rows = (
        await session.scalars(
            select(Issue).where(Issue.deleted_at.is_not(None), Issue.deleted_at <= cutoff)
        )
    ).all()
    for issue in rows:
        audit.record(
            session,
            "system",
            "issue.purge",
            "issue",
            issue.id,
            slug=issue.slug,
            title=issue.title,
            deleted_at=issue.deleted_at.isoformat() if issue.deleted_at else None,
            blocks=len(issue.blocks),
        )
        await session.delete(issue)
    await session.flush()
    return len(rows)


async def duplicate_issue(
    session: AsyncSession, issue_id: int, *, editor_id: int | None, actor: str
) -> Issue:
    source = await get_issue(session, issue_id)
    copy = Issue(
        slug=await _unique_slug(session, slugify(source.slug + "-kopia")),
        title=source.title,
        subject=source.subject,
        preheader=source.preheader,
        issue_date=date.today(),
        organisations=list(source.organisations or []),
        roles=list(source.roles or []),
        status="draft",
        version=1,
        created_by=editor_id,
    )
    copy.list_links = [IssueList(list_id=i) for i in source.list_ids]
    copy.blocks = [
        Block(position=b.position, kind=b.kind, data=dict(b.data or {})) for b in source.blocks
    ]
    session.add(copy)
    await session.flush()
    audit.record(session, actor, "issue.duplicate", "issue", copy.id, source=source.id)
    return copy


def _block(issue: Issue, block_id: int) -> Block:
    for block in issue.blocks:
        if block.id == block_id:
            return block
    raise NotFound("Blocket finns inte i det här utskicket.")


def _renumber(issue: Issue) -> None:
    for position, block in enumerate(issue.blocks):
        block.position = position


async def add_block(
    session: AsyncSession,
    issue_id: int,
    kind: str,
    data: dict[str, Any] | None,
    *,
    position: int | None = None,
    after_block: int | None = None,
    version: int | None = None,
    actor: str,
) -> Block:
    """Add a block: last, at the 0-based ``position`` (clamped to the list), or right
    after the block ``after_block`` (one of the two, not both)."""
    issue = await get_issue(session, issue_id)
    ensure_editable(issue, version)
    blocks = list(issue.blocks)
    if after_block is not None:
        if position is not None:
            raise ValidationFailed(
                "Ange antingen position eller after_block, inte båda.",
                fields={"position": "ange bara en placering"},
            )
        index = next((i + 1 for i, b in enumerate(blocks) if b.id == after_block), None)
        if index is None:
            raise ValidationFailed(
                "Blocket som det nya skulle placeras efter finns inte i utskicket.",
                fields={"after_block": "okänt block"},
            )
    else:
        index = len(blocks) if position is None else max(0, min(position, len(blocks)))
    clean = await validate_block(kind, data, session=session)
    block = Block(kind=kind, data=clean, position=len(issue.blocks))
    blocks.insert(index, block)
    issue.blocks = blocks
    _renumber(issue)
    await _touch(session, issue)
    await session.flush()
    audit.record(session, actor, "block.create", "issue", issue.id, block=block.id, kind=kind)
    return block


async def update_block(
    session: AsyncSession,
    issue_id: int,
    block_id: int,
    data: dict[str, Any] | None,
    *,
    version: int | None = None,
    actor: str,
) -> Block:
    issue = await get_issue(session, issue_id)
    ensure_editable(issue, version)
    block = _block(issue, block_id)
    block.data = await validate_block(block.kind, data, session=session)
    await _touch(session, issue)
    await session.flush()
    audit.record(session, actor, "block.edit", "issue", issue.id, block=block.id)
    return block


async def delete_block(
    session: AsyncSession,
    issue_id: int,
    block_id: int,
    *,
    version: int | None = None,
    actor: str,
) -> None:
    issue = await get_issue(session, issue_id)
    ensure_editable(issue, version)
    block = _block(issue, block_id)
    issue.blocks = [b for b in issue.blocks if b.id != block_id]
    await session.delete(block)
    _renumber(issue)
    await _touch(session, issue)
    await session.flush()
    audit.record(session, actor, "block.delete", "issue", issue.id, block=block_id)


async def move_block(
    session: AsyncSession,
    issue_id: int,
    block_id: int,
    direction: int,
    *,
    version: int | None = None,
    actor: str,
) -> None:
    issue = await get_issue(session, issue_id)
    ensure_editable(issue, version)
    blocks = list(issue.blocks)
    index = blocks.index(_block(issue, block_id))
    target = index + (1 if direction > 0 else -1)
    if 0 <= target < len(blocks):
        blocks[index], blocks[target] = blocks[target], blocks[index]
        issue.blocks = blocks
        _renumber(issue)
        await _touch(session, issue)
        await session.flush()
        audit.record(session, actor, "block.move", "issue", issue.id, block=block_id)


async def reorder_blocks(
    session: AsyncSession,
    issue_id: int,
    block_ids: list[int],
    *,
    version: int | None = None,
    actor: str,
) -> Issue:
    issue = await get_issue(session, issue_id)
    ensure_editable(issue, version)
    current = {b.id: b for b in issue.blocks}
    if sorted(block_ids) != sorted(current):
        raise ValidationFailed(
            "Ange alla utskickets block exakt en gång.", fields={"block_ids": "fel block"}
        )
    issue.blocks = [current[i] for i in block_ids]
    _renumber(issue)
    await _touch(session, issue)
    await session.flush()
    audit.record(session, actor, "block.reorder", "issue", issue.id)
    return issue


async def count_issues(session: AsyncSession) -> int:
    stmt = select(func.count(Issue.id)).where(Issue.deleted_at.is_(None))
    return int((await session.execute(stmt)).scalar_one())
