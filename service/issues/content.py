"""Whether an issue has anything to read: the rule that stops an empty issue from being
sent, scheduled or published on the web.

An issue is empty when it has no blocks, or only blocks that show nothing a reader
would read on their own: dividers, section headings, and calendar blocks with no item
to show (no upcoming item, or chosen items that no longer exist). An intro, notice or
call to action always carries text, and an article text or an image (their validation
requires it), so one of them is enough.
"""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import ValidationFailed
from service.issues.messages import EMPTY_FIELD, EMPTY_ISSUE
from service.issues.models import Issue
from service.issues.render import calendar_block_items

TEXT_KEYS = ("heading", "body", "button_label")


async def has_content(session: AsyncSession, issue: Issue) -> bool:
    """True when at least one block of ``issue`` shows something to read."""
    if "blocks" in inspect(issue).unloaded:  # loaded without its blocks (archive lists)
        await session.refresh(issue, ["blocks"])
    for block in issue.blocks:
        data = block.data or {}
        if block.kind in ("intro", "article", "notice", "cta"):
            if any(str(data.get(key) or "").strip() for key in TEXT_KEYS):
                return True
            if isinstance(data.get("image"), dict) and data["image"].get("src"):
                return True  # an article may be only an image (with its alt text)
        elif block.kind == "calendar" and await calendar_block_items(session, issue, data):
            return True
    return False


async def ensure_content(
    session: AsyncSession, issue: Issue, *, message: str = EMPTY_ISSUE
) -> None:
    """ValidationFailed (Swedish, field ``blocks``) when ``issue`` is empty."""
    if not await has_content(session, issue):
        raise ValidationFailed(message, fields={"blocks": EMPTY_FIELD})
