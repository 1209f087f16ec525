"""Request and response bodies of the editor JSON API (``/api/v1``), for OpenAPI."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from service.issues.models import Block, Issue
from service.mail.models import QueuedMail


@dataclass
class IssueIn:
    title: str
    issue_date: date
    subject: str = ""
    preheader: str = ""
    slug: str = ""
    list_ids: list[int] = field(default_factory=list)
    organisations: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    version: int | None = None  # optimistic locking: the version you read


@dataclass
class BlockIn:
    """A new block. ``data`` per ``kind`` (docs/api.md has the table):
    ``intro`` {body: plain text, at most 1 000 characters};
    ``article`` {heading?, body? (Markdown), image? {src: /media/… or https://…, alt,
    caption?}, link? {url, label?}} with a heading, a body or an image;
    ``notice`` {heading?, body?}; ``cta`` {heading?, body?, button_label, button_url};
    ``calendar`` {heading?, mode: upcoming|selected, item_ids: [calendar item ids], limit};
    ``divider`` {}; ``heading`` {text}."""

    kind: str  # intro | article | notice | cta | calendar | divider | heading
    data: dict[str, Any] = field(default_factory=dict)
    # Where the block goes (at most one of the two; neither: last): ``position`` is the
    # 0-based index it gets (clamped to the list), ``after_block`` the id of the block it
    # follows.
    position: int | None = None
    after_block: int | None = None
    version: int | None = None


@dataclass
class BlockDataIn:
    data: dict[str, Any]
    version: int | None = None


@dataclass
class ReorderIn:
    block_ids: list[int]
    version: int | None = None


@dataclass
class BlockOut:
    id: int
    position: int
    kind: str
    data: dict[str, Any]

    @classmethod
    def of(cls, block: Block) -> BlockOut:
        return cls(id=block.id, position=block.position, kind=block.kind, data=block.data)


@dataclass
class IssueOut:
    id: int
    slug: str
    title: str
    subject: str
    preheader: str
    issue_date: date
    status: str
    list_ids: list[int]
    organisations: list[str]
    roles: list[str]
    version: int
    blocks: list[BlockOut]

    @classmethod
    def of(cls, issue: Issue) -> IssueOut:
        return cls(
            id=issue.id,
            slug=issue.slug,
            title=issue.title,
            subject=issue.subject,
            preheader=issue.preheader,
            issue_date=issue.issue_date,
            status=issue.status,
            list_ids=issue.list_ids,
            organisations=list(issue.organisations or []),
            roles=list(issue.roles or []),
            version=issue.version,
            blocks=[BlockOut.of(b) for b in issue.blocks],
        )


@dataclass
class DeletedIssueOut:
    """A deleted draft: restorable with ``POST /api/v1/issues/{id}/restore`` until
    ``purge_at``, when it is removed for good."""

    id: int
    slug: str
    title: str
    status: str
    issue_date: date
    deleted_at: datetime
    purge_at: datetime
    blocks: int

    @classmethod
    def of(cls, issue: Issue) -> DeletedIssueOut:
        assert issue.deleted_at is not None and issue.purge_at is not None
        return cls(
            id=issue.id,
            slug=issue.slug,
            title=issue.title,
            status=issue.status,
            issue_date=issue.issue_date,
            deleted_at=issue.deleted_at,
            purge_at=issue.purge_at,
            blocks=len(issue.blocks),
        )


@dataclass
class PreviewOut:
    html: str
    text: str
    headers: dict[str, str]


@dataclass
class TestSendIn:
    addresses: list[str]


@dataclass
class TestSendOut:
    """The queued test mails; ``GET /api/v1/issues/{id}/test-sends`` tells how they went."""

    queued: list[QueuedMailOut]


@dataclass
class QueuedMailOut:
    id: int
    recipient: str
    state: str  # queued, sending, retry, sent, failed, skipped, cancelled
    attempts: int
    last_reply: str | None
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, row: QueuedMail) -> QueuedMailOut:
        return cls(
            id=row.id,
            recipient=row.recipient,
            state=row.state,
            attempts=row.attempts,
            last_reply=row.last_reply,
            created_at=row.created_at,
            sent_at=row.sent_at,
        )


@dataclass
class MailingListOut:
    id: int
    slug: str
    name: str
