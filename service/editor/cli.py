"""``innanforskapet editors create|list|password-link|disable|enable|role|token create``.

Passwords come from a hidden, confirmed prompt, or from stdin with ``--password-stdin``
(one line) — never from an argument, so they do not end up in shell history or ``ps``.
``password-link`` prints a one-time set-password link instead (as an admin gets at
``/redaktion/redaktorer``); the same rules hold (the last active admin stays).
"""

from __future__ import annotations

import sys

import click
from sqlalchemy.ext.asyncio import AsyncSession

from service.editor import service
from service.editor.models import ROLES, Editor


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
            f"{e.email}\t{e.role}\t{e.name}\t{_status(e)}"
            for e in await service.list_editors(session)
        ]

    for line in run_in_session(get_settings(), run):
        click.echo(line)


def _status(editor: Editor) -> str:
    if not editor.is_active:
        return "inaktiv"
    return "aktiv" if editor.password_set_at else "väntar på lösenord"


@editors.command("password-link")
@click.argument("email")
def password_link(email: str) -> None:
    """Skapa en engångslänk där redaktören väljer lösenord (gäller 48 timmar)."""
    from service.cli import get_settings, run_in_session

    settings = get_settings()

    async def run(session: AsyncSession) -> str:
        editor = await service.editor_by_email(session, email)
        link = await service.issue_password_link(session, editor.id, actor="cli")
        return settings.url(link.path)

    click.echo(run_in_session(settings, run))
    click.echo("Länken visas bara nu och kan användas en gång.", err=True)


def _change(email: str, change: str, role: str = "") -> None:
    from service.cli import get_settings, run_in_session

    async def run(session: AsyncSession) -> str:
        editor_id = (await service.editor_by_email(session, email)).id
        if change == "role":
            editor = await service.set_role(session, editor_id, role, actor_id=None, actor="cli")
            return f"{editor.email} har nu rollen {editor.role}."
        active = change == "enable"
        editor = await service.set_active(session, editor_id, active, actor_id=None, actor="cli")
        return f"{editor.email} är {'aktiv' if editor.is_active else 'avstängd'}."

    click.echo(run_in_session(get_settings(), run))


@editors.command("disable")
@click.argument("email")
def disable(email: str) -> None:
    """Stäng av en redaktör (loggas ut, API-nycklar återkallas)."""
    _change(email, "disable")


@editors.command("enable")
@click.argument("email")
def enable(email: str) -> None:
    """Aktivera en avstängd redaktör igen."""
    _change(email, "enable")


@editors.command("role")
@click.argument("email")
@click.argument("role", type=click.Choice(ROLES))
def role(email: str, role: str) -> None:
    """Ändra en redaktörs roll (admin eller editor)."""
    _change(email, "role", role)


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
