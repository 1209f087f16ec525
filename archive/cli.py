"""``innanforskapet archive``: publish an issue on the web only, withdraw it, list the archive."""

from __future__ import annotations

import click
from sqlalchemy.ext.asyncio import AsyncSession

from archive import service as archive
from service.issues.urls import archive_url


def register(main: click.Group) -> None:
    from service.cli import get_settings, run_in_session

    @main.group(name="archive")
    def archive_group() -> None:
        """Public archive: publish web-only, withdraw, list."""

    @archive_group.command("publish")
    @click.argument("issue_id", type=int)
    def publish(issue_id: int) -> None:
        """Publish ISSUE_ID in the archive and feeds (web only, or again after withdrawal)."""
        settings = get_settings()

        async def run(session: AsyncSession) -> str:
            issue = await archive.publish_web(session, issue_id, "cli")
            return archive_url(settings, issue.issue_date, issue.slug)

        click.echo(f"Publicerat: {run_in_session(settings, run)}")

    @archive_group.command("withdraw")
    @click.argument("issue_id", type=int)
    def withdraw(issue_id: int) -> None:
        """Withdraw ISSUE_ID from the archive and feeds (its page then answers 404)."""
        settings = get_settings()

        async def run(session: AsyncSession) -> str:
            issue = await archive.withdraw(session, issue_id, "cli")
            return issue.title

        click.echo(f"Tillbakadraget från arkivet: {run_in_session(settings, run)}")

    @archive_group.command("list")
    def list_issues() -> None:
        """Issues and whether each is public in the archive."""
        settings = get_settings()

        async def run(session: AsyncSession) -> list[str]:
            return [
                f"{issue.id:>5}  {issue.issue_date}  "
                f"{archive.state_label(issue):<14}  "
                f"{issue.title}"
                for issue in await archive.editor_overview(session)
            ]

        for line in run_in_session(settings, run):
            click.echo(line)
