"""``innanforskapet issues``: list and preview issues from the command line.

The delivery domain adds ``send``/``status``/``test-send`` to the same group from its own module
(``main.commands["issues"]``).
"""

from __future__ import annotations

import json
import sys

import click
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.issues import service as issues_service
from service.issues.models import Issue
from service.issues.render import RenderedIssue, render_issue
from service.issues.testsend import PREVIEW_ADDRESS, sample_message_bytes
from service.issues.testsend import preview as testsend_preview

STATUS_LABELS = {
    "draft": "utkast",
    "scheduled": "schemalagd",
    "sending": "skickas",
    "sent": "skickad",
    "cancelled": "avbruten",
}


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
                    select(Issue.slug, Issue.title, Issue.status, Issue.issue_date)
                    .where(Issue.deleted_at.is_(None))  # deleted drafts are in the editor's bin
                    .order_by(Issue.issue_date.desc(), Issue.id.desc())
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
            return await render_issue(
                session, settings, (await issues_service.issue_by_slug(session, slug)).id
            )

        rendered = run_in_session(settings, go)
        if fmt == "eml":
            data = sample_message_bytes(settings, rendered, PREVIEW_ADDRESS, test=False)
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return
        shown = testsend_preview(settings, rendered)
        click.echo(shown.html if fmt == "html" else shown.text, nl=False)
