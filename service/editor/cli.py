"""``innanforskapet editors create|list|token create``.

Passwords come from a hidden, confirmed prompt, or from stdin with ``--password-stdin``
(one line) — never from an argument, so they do not end up in shell history or ``ps``.
"""

from __future__ import annotations

import sys

import click
from sqlalchemy.ext.asyncio import AsyncSession

from service.editor import service
from service.editor.models import ROLES


def register(main: click.Group) -> None:
    main.add_command(editors)


@click.group()
def editors() -> None:
    """Redaktörskonton och API-nycklar."""


@editors.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), default="editor", show_default=True)
@click.option("--name", default="", help="Visningsnamn.")
@click.option("--password-stdin", is_flag=True, help="Läs lösenordet (en rad) från stdin.")
def create(email: str, role: str, name: str, password_stdin: bool) -> None:
    """Skapa en redaktör. Lösenordet frågas efter (dolt, två gånger)."""
    from service.cli import get_settings, run_in_session

    settings = get_settings()
    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(
            "Lösenord", hide_input=True, confirmation_prompt="Upprepa lösenordet"
        )

    async def run(session: AsyncSession) -> str:
        editor = await service.create_editor(session, email, password, role=role, name=name)
        return f"Redaktören {editor.email} ({editor.role}) är skapad."

    click.echo(run_in_session(settings, run))


@editors.command("list")
def list_() -> None:
    """Lista redaktörer."""
    from service.cli import get_settings, run_in_session

    async def run(session: AsyncSession) -> list[str]:
        return [
            f"{e.email}\t{e.role}\t{e.name}\t{'aktiv' if e.is_active else 'inaktiv'}"
            for e in await service.list_editors(session)
        ]

    for line in run_in_session(get_settings(), run):
        click.echo(line)


@editors.group("token")
def token() -> None:
    """API-nycklar."""


@token.command("create")
@click.argument("email")
@click.option("--name", required=True, help="Vad nyckeln används till.")
def token_create(email: str, name: str) -> None:
    """Skapa en API-nyckel; den visas bara en gång."""
    from service.cli import get_settings, run_in_session

    async def run(session: AsyncSession) -> str:
        editor = await service.editor_by_email(session, email)
        _, plain = await service.create_token(session, editor, name)
        return plain

    plain = run_in_session(get_settings(), run)
    click.echo(plain)
    click.echo("Spara nyckeln nu; den kan inte visas igen.", err=True)
