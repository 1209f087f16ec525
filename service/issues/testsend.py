"""Test sends: an editor sends the rendered issue to a few chosen addresses.

The mail is the real one (same rendering and headers; sent through the transactional
mail queue, so by the same worker, transport and DKIM signer as every other mail) with
``[TEST] `` before the subject and clearly marked example links instead of any subscriber's signed
preference/unsubscribe links, so a forwarded test mail can never act for anyone.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from service.core.addresses import normalise_address
from service.core.audit import record
from service.errors import ValidationFailed
from service.issues.message import IssueTemplate, Personal, Shown, shown
from service.issues.render import RenderedIssue, render_issue
from service.mail import queue as mailqueue
from service.mail.compose import new_message_id
from service.mail.models import QueuedMail
from service.settings import Settings

KIND = "test-send"  # the mail queue's kind of a test send
MAX_ADDRESSES = 5
SUBJECT_PREFIX = "[TEST] "
SAMPLE_NAME = "Exempel Exempelsson"
PREVIEW_ADDRESS = "mottagare@example.invalid"


def sample_links(settings: Settings) -> dict[str, str]:
    """Example links for previews and test sends (they open the "link problem" page)."""
    return {
        "prefs_url": settings.url("/installningar/EXEMPEL-provutskick-ingen-riktig-lank"),
        "unsubscribe_url": settings.url("/avregistrera/EXEMPEL-provutskick-ingen-riktig-lank"),
        "unsubscribe_mailto": f"mailto:unsubscribe@{settings.mail_domain}?subject=EXEMPEL",
    }


def validate_addresses(addresses: list[str]) -> list[str]:
    """Normalised, de-duplicated addresses (1–5); ValidationFailed (Swedish) otherwise."""
    cleaned: list[str] = []
    for raw in addresses:
        if not raw.strip():
            continue
        try:
            address = normalise_address(raw, field="addresses")
        except ValidationFailed as exc:
            message = f"”{raw.strip()}”: {exc.message}"
            raise ValidationFailed(message, fields={"addresses": message}) from None
        if address not in cleaned:
            cleaned.append(address)
    if not cleaned:
        message = "Ange minst en e-postadress för provutskicket."
        raise ValidationFailed(message, fields={"addresses": message})
    if len(cleaned) > MAX_ADDRESSES:
        message = f"Ett provutskick kan gå till högst {MAX_ADDRESSES} adresser."
        raise ValidationFailed(message, fields={"addresses": message})
    return cleaned


def sample_personal(settings: Settings, to: str) -> Personal:
    """The sample recipient's personalisation: example links, never a real person's."""
    links = sample_links(settings)
    return Personal(
        to=to,
        message_id=new_message_id(settings),
        unsubscribe_url=links["unsubscribe_url"],
        unsubscribe_mailto=links["unsubscribe_mailto"],
        name=SAMPLE_NAME,
        prefs_url=links["prefs_url"],
    )


def sample_message_bytes(
    settings: Settings, rendered: RenderedIssue, to: str, *, test: bool = True
) -> bytes:
    """The mail for ``to`` with the sample personalisation, built exactly as a real send
    builds it (the ``.eml`` preview, the test send)."""
    template = IssueTemplate.build(
        settings, rendered.mail_source, subject_prefix=SUBJECT_PREFIX if test else ""
    )
    return template.message_bytes(sample_personal(settings, to))


def preview(settings: Settings, rendered: RenderedIssue) -> Shown:
    """What the editor's preview shows: the sample recipient's mail as HTML and text,
    and its decoded headers."""
    return shown(sample_message_bytes(settings, rendered, PREVIEW_ADDRESS, test=False))


async def test_send(
    session: AsyncSession,
    settings: Settings,
    issue_id: int,
    addresses: list[str],
    *,
    actor: str,
    editor_id: int | None = None,
) -> list[QueuedMail]:
    """Queue the issue as a test to ``addresses`` (sent after the caller commits).

    Raises ValidationFailed when the addresses are bad. Writes an audit entry. What the
    mail server answered is shown with the issue's test sends (:func:`recent`).
    """
    recipients = validate_addresses(addresses)
    rendered = await render_issue(session, settings, issue_id)
    rows = [
        mailqueue.enqueue_bytes(
            session,
            sample_message_bytes(settings, rendered, address),
            recipient=address,
            subject=SUBJECT_PREFIX + rendered.subject,
            kind=KIND,
            issue_id=issue_id,
            editor_id=editor_id,
        )
        for address in recipients
    ]
    await session.flush()
    record(session, actor, "issue.test_send", "issue", issue_id, queued=recipients)
    return rows


async def recent(session: AsyncSession, issue_id: int) -> list[QueuedMail]:
    """The issue's latest test sends and how they went, newest first."""
    return [row for row in await mailqueue.for_issue(session, issue_id) if row.kind == KIND]
