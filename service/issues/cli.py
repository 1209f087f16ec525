"""``innanforskapet issues``: list, preview and test-send issues from the command line.

The delivery domain adds ``send``/``status`` to the same group from its own module
(``main.commands["issues"]``).
"""

from __future__ import annotations

import json
import sys

import click
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import service.models  # noqa: F401 - every model registered (foreign keys across domains)
from service.errors import NotFound
from service.issues.models import Issue
from service.issues.render import RenderedIssue, render_issue
from service.issues.testsend import PREVIEW_ADDRESS, sample_message_bytes, test_send
from service.issues.testsend import preview as testsend_preview

STATUS_LABELS = {
    "draft": "utkast",
    "scheduled": "schemalagd",
    "sending": "skickas",
    "sent": "skickad",
    "cancelled": "avbruten",
}


async def _issue_id(session: AsyncSession, slug: str) -> int:
    issue_id = await session.scalar(select(Issue.id).where(Issue.slug == slug.strip()))
    if issue_id is None:
        raise NotFound(f"Det finns inget nyhetsbrev med adressnamnet ”{slug}”.")
    return int(issue_id)


def register(main: click.Group) -> None:
    @main.group()
    def issues() -> None:
        """Issues: list, preview, test-send (send/status come from the delivery domain)."""

    @issues.command("list")
    @click.option(
        "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
    )
    def list_issues(fmt: str) -> None:
        """List issues (slug, title, status, date), newest first."""
        from service.cli import get_settings, run_in_session

        settings = get_settings()

        async def go(session: AsyncSession) -> list[dict[str, str]]:
            rows = (
                await session.execute(
                    select(Issue.slug, Issue.title, Issue.status, Issue.issue_date).order_by(
                        Issue.issue_date.desc(), Issue.id.desc()
                    )
                )
            ).all()
            return [
                {
                    "slug": slug,
                    "title": title,
                    "status": status,
                    "date": issue_date.isoformat(),
                }
                for slug, title, status, issue_date in rows
            ]

        rows = run_in_session(settings, go)
        if fmt == "json":
            click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        if not rows:
            click.echo("Inga nyhetsbrev ännu.")
            return
        for row in rows:
            status = STATUS_LABELS.get(row["status"], row["status"])
            click.echo(f"{row['date']}  {status:<10}  {row['slug']}  {row['title']}")

    @issues.command("preview")
    @click.argument("slug")
    @click.option(
        "--format", "fmt", type=click.Choice(["html", "text", "eml"]), default="html",
        show_default=True,
    )  # fmt: skip
    def preview(slug: str, fmt: str) -> None:
        """Print an issue rendered for a sample recipient (html, text or a whole .eml)."""
        from service.cli import get_settings, run_in_session

        settings = get_settings()

        async def go(session: AsyncSession) -> RenderedIssue:
            return await render_issue(session, settings, await _issue_id(session, slug))

        rendered = run_in_session(settings, go)
        if fmt == "eml":
            data = sample_message_bytes(settings, rendered, PREVIEW_ADDRESS, test=False)
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return
        shown = testsend_preview(settings, rendered)
        click.echo(shown.html if fmt == "html" else shown.text, nl=False)

    @issues.command("test-send")
    @click.argument("slug")
    @click.option(
        "--to", "addresses", multiple=True, required=True, help="Recipient (repeatable, max 5)"
    )
    def test_send_command(slug: str, addresses: tuple[str, ...]) -> None:
        """Send an issue as a test ("[TEST] " subject) through the mail queue, at once."""
        import asyncio

        from service.cli import get_settings, run_in_session
        from service.delivery.outbound import send_now
        from service.mail.messages import MAIL_STATE_NAMES

        settings = get_settings()

        async def go(session: AsyncSession) -> list[int]:
            rows = await test_send(
                session, settings, await _issue_id(session, slug), list(addresses), actor="cli"
            )
            return [row.id for row in rows]

        ids = run_in_session(settings, go)
        rows = asyncio.run(send_now(settings, ids))
        for row in rows:
            if row.state == "sent":
                click.echo(f"Provutskick skickat till {row.recipient}.")
            else:
                state = MAIL_STATE_NAMES.get(row.state, row.state)
                click.echo(f"{row.recipient}: {state} ({row.last_reply or ''})", err=True)
        if any(row.state == "failed" for row in rows):
            sys.exit(1)
        if settings.smtp_url is None:
            click.echo(f"(Utkorgen: {settings.outbox_dir})")
