"""``innanforskapet events``: the events with registration, an event's attendees, the CSV."""

from __future__ import annotations

import sys

import click
from sqlalchemy.ext.asyncio import AsyncSession

from service.events import mails
from service.events import service as events
from service.events.service import STATUS_NAMES


def _event_id(raw: str) -> int:
    """An event number from the command line; anything else exits with status 1."""
    if not raw.isdigit() or len(raw) > 12:
        click.echo(
            f"Fel: {raw!r} är inget evenemangsnummer (se innanforskapet events list).", err=True
        )
        sys.exit(1)
    return int(raw)


def register(main: click.Group) -> None:
    from service.cli import get_settings, run_in_session

    @main.group(name="events")
    def events_group() -> None:
        """Event registration (anmälan): list events, attendees, export as CSV."""

    @events_group.command("list")
    def list_events() -> None:
        """Every event with registration and its counts."""
        settings = get_settings()

        async def run(session: AsyncSession) -> list[str]:
            lines = []
            for event, item in await events.list_events(session):
                c = await events.counts(session, event.id)
                seats = "obegränsat" if event.capacity is None else f"av {event.capacity}"
                state = "  INSTÄLLT" if event.cancelled_at else ""
                title = item.title if item else "(borttagen kalenderpunkt)"
                lines.append(
                    f"{event.id:>5}  {c.confirmed:>4} bekräftade ({seats}), "
                    f"{c.waitlisted} på reservlistan, {c.attended} närvarande  {title}{state}"
                )
            return lines or ["Inga evenemang med anmälan ännu."]

        for line in run_in_session(settings, run):
            click.echo(line)

    @events_group.command("attendees")
    @click.argument("event_id")
    def attendees(event_id: str) -> None:
        """The registrations of EVENT_ID: status, name, organisation, address."""
        settings = get_settings()
        number = _event_id(event_id)

        async def run(session: AsyncSession) -> list[str]:
            event = await events.get_event(session, number)
            item = await mails.item_of(session, event)
            lines = [item.title if item else f"Evenemang {event.id}"]
            for r in await events.registrations(session, number):
                status = STATUS_NAMES.get(r.status, r.status)
                here = ", närvarande" if r.attended_at else ""
                lines.append(
                    f"{r.id:>6}  {status + here:<24}  {r.name}  {r.organisation}  <{r.email}>"
                )
            if len(lines) == 1:
                lines.append("Inga anmälningar ännu.")
            return lines

        for line in run_in_session(settings, run):
            click.echo(line)

    @events_group.command("export")
    @click.argument("event_id")
    def export(event_id: str) -> None:
        """The attendee list of EVENT_ID as CSV (formula-safe) on standard output."""
        settings = get_settings()
        number = _event_id(event_id)

        async def run(session: AsyncSession) -> str:
            return await events.attendees_csv(session, number)

        click.echo(run_in_session(settings, run), nl=False)
