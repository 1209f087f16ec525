"""Operator commands: ``lists create|list``, ``subscribers export|show|erase`` and
``consent-text publish`` (``retention run``, which also covers events and deleted drafts,
is in ``service/delivery/cli.py`` beside the scheduler that runs it daily).

The group is named exactly ``subscribers`` so that other domains can add commands to
it (``subscribers import`` lives in ``service/ops/cli.py``).
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncSession

from service.core import audit, csvsafe
from subscribers.consent_texts import publish_text
from subscribers.lists import all_lists, count_active, create_list
from subscribers.people import require_by_address
from subscribers.privacy import erase, export_all, export_data

CSV_COLUMNS = (
    "email",
    "name",
    "organisation",
    "role",
    "status",
    "lists",
    "created_at",
    "confirmed_at",
    "unsubscribed_at",
)


def _settings_and_runner() -> tuple[Any, Any]:
    from service.cli import get_settings, run_in_session

    return get_settings(), run_in_session


def register(main: click.Group) -> None:
    @main.group("lists")
    def lists_group() -> None:
        """Mailing lists."""

    @lists_group.command("create")
    @click.argument("slug")
    @click.argument("name")
    @click.option("--description", default="", help="Shown in the signup form.")
    @click.option("--hidden", is_flag=True, help="Not offered in the public signup form.")
    def lists_create(slug: str, name: str, description: str, hidden: bool) -> None:
        """Create a list with the short name SLUG (a-z, 0-9, -) and the display NAME."""
        settings, run = _settings_and_runner()

        async def go(session: AsyncSession) -> str:
            lst = await create_list(session, slug, name, description=description, hidden=hidden)
            audit.record(session, "cli", "list.created", "mailing_list", lst.id, slug=slug)
            return f"Listan {lst.name} ({lst.slug}) är skapad{' som dold' if hidden else ''}."

        click.echo(run(settings, go))

    @lists_group.command("list")
    def lists_list() -> None:
        """Show every list with its number of active subscribers."""
        settings, run = _settings_and_runner()

        async def go(session: AsyncSession) -> list[str]:
            rows = []
            for lst in await all_lists(session):
                count = await count_active(session, lst.id)
                shown = "publik" if lst.is_public else "dold"
                rows.append(f"{lst.id}\t{lst.slug}\t{lst.name}\t{shown}\t{count} aktiva")
            return rows

        for line in run(settings, go):
            click.echo(line)

    @main.group("subscribers")
    def subscribers_group() -> None:
        """Subscribers: export, show, erase."""

    @subscribers_group.command("export")
    @click.option(
        "--format", "fmt", type=click.Choice(["json", "csv"]), default="csv", show_default=True
    )
    @click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
    def subscribers_export(fmt: str, output: Path | None) -> None:
        """Every subscriber with status, lists and consent times."""
        settings, run = _settings_and_runner()
        rows = run(settings, export_all)
        if fmt == "json":
            body = json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
        else:
            buffer = io.StringIO()
            writer = csvsafe.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, "lists": " ".join(row["lists"])})
            body = buffer.getvalue()
        if output is None:
            sys.stdout.write(body)
        else:
            output.write_text(body, encoding="utf-8")
            click.echo(f"{len(rows)} prenumeranter skrivna till {output}.", err=True)

    @subscribers_group.command("show")
    @click.argument("email")
    def subscribers_show(email: str) -> None:
        """Everything we hold about one subscriber, with the consent history."""
        settings, run = _settings_and_runner()

        async def go(session: AsyncSession) -> dict[str, Any]:
            subscriber = await require_by_address(session, email)
            return await export_data(session, subscriber)

        data = run(settings, go)
        person = data["subscriber"]
        click.echo(f"E-post:       {person['email']}")
        click.echo(f"Namn:         {person['name']}")
        click.echo(f"Organisation: {person['organisation']}")
        click.echo(f"Roll:         {person['role']}")
        click.echo(f"Status:       {person['status']}")
        click.echo(f"Anmäld:       {person['created_at']}")
        click.echo(f"Bekräftad:    {person['confirmed_at']}")
        click.echo("Listor:")
        for sub in data["subscriptions"]:
            click.echo(f"  {sub['list']}: {sub['status']} (bekräftad {sub['confirmed_at']})")
        click.echo("Samtyckeshistorik:")
        for ev in data["consent_history"]:
            via = f" via {ev['channel']}" if ev["channel"] else ""
            click.echo(
                f"  {ev['occurred_at']} {ev['event']} {ev['list']} "
                f"(källa {ev['source']}, grund {ev['lawful_basis']}{via}, "
                f"samtyckestext {ev['consent_text_id']}, integritetstext {ev['privacy_notice_id']})"
            )

    @subscribers_group.command("erase")
    @click.argument("email")
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    def subscribers_erase(email: str, yes: bool) -> None:
        """Erase a subscriber (Art. 17); only a keyed hash of the address remains."""
        settings, run = _settings_and_runner()

        async def check(session: AsyncSession) -> int:
            return int((await require_by_address(session, email)).id)

        subscriber_id = run(settings, check)
        if not yes:
            click.confirm(
                "Radera prenumeranten och all samtyckeshistorik? Det går inte att ångra.",
                abort=True,
            )

        async def go(session: AsyncSession) -> None:
            await erase(session, settings, subscriber_id, actor="cli")

        run(settings, go)
        click.echo("Prenumeranten är raderad. Kvar finns bara adressens nyckelhash i spärrlistan.")

    @main.group("consent-text")
    def consent_text_group() -> None:
        """Versioned consent texts and privacy notices."""

    @consent_text_group.command("publish")
    @click.option("--kind", type=click.Choice(["consent", "privacy"]), required=True)
    @click.option(
        "--file",
        "path",
        type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path),
        required=True,
        help="UTF-8 text file; blank lines separate paragraphs.",
    )
    @click.option("--title", default="", help="Heading shown above the text.")
    def consent_text_publish(kind: str, path: Path, title: str) -> None:
        """Publish a new version (old versions stay unchanged and viewable)."""
        try:
            body = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise click.ClickException(f"{path} är inte en UTF-8-textfil.") from None
        settings, run = _settings_and_runner()

        async def go(session: AsyncSession) -> str:
            text = await publish_text(session, kind, body, title=title)
            audit.record(
                session, "cli", "consent_text.published", kind, text.id, version=text.version
            )
            page = "/integritet" if kind == "privacy" else "/integritet/samtycke"
            return (
                f"Version {text.version} av {text.title!r} är publicerad: "
                f"{settings.url(f'{page}/{text.version}')}"
            )

        click.echo(run(settings, go))
