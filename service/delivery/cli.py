"""Delivery commands: ``issues send/cancel/pause/resume/status``, ``worker``, ``bounces``."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from datetime import datetime

import click
from sqlalchemy.ext.asyncio import AsyncSession

from service.core.dates import STOCKHOLM
from service.delivery import service as delivery
from service.delivery.messages import STATE_NAMES
from service.delivery.service import Progress, SendPlan
from service.errors import ValidationFailed
from service.issues.service import issue_by_slug


def parse_at(raw: str | None) -> datetime | None:
    """``--at``: ISO time, read by the rule of :func:`service.delivery.service.send_time`
    (no time zone means Europe/Stockholm; a past time, or one more than a year ahead, is
    refused)."""
    if raw is None:
        return None
    try:
        at = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise click.BadParameter(
            f"{raw!r} är ingen tidpunkt. Skriv t.ex. 2027-01-05T08:00 "
            "eller 2027-01-05T08:00+01:00.",
            param_hint="--at",
        ) from None
    try:
        return delivery.send_time(at)
    except ValidationFailed as exc:
        raise click.BadParameter(exc.message, param_hint="--at") from None


def format_plan(slug: str, plan: SendPlan) -> str:
    """What ``issues send`` is about to do, as it asks before doing it."""
    lines = [
        f"Utskick: {slug} ({plan.issue.title})",
        f"Mottagare: {plan.recipients}"
        + ("" if plan.at is None else " just nu (vilka det blir bestäms när det börjar)"),
        f"{'Lista' if len(plan.lists) == 1 else 'Listor'}: {', '.join(plan.lists)}",
    ]
    if plan.organisations:
        lines.append(f"Bara organisationerna: {', '.join(plan.organisations)}")
    if plan.roles:
        lines.append(f"Bara rollerna: {', '.join(plan.roles)}")
    lines.append(f"När: {plan.when}")
    return "\n".join(lines)


def format_text(p: Progress) -> str:
    lines = [f"Utskick {p.slug} (id {p.issue_id}): {p.status}{' (pausat)' if p.paused else ''}"]
    if p.scheduled_at:
        lines.append(f"Tidpunkt: {p.scheduled_at.astimezone(STOCKHOLM):%Y-%m-%d %H:%M}")
    lines.append(f"Mottagare: {p.total}")
    for state, count in p.totals.items():
        lines.append(f"  {STATE_NAMES[state]}: {count}")
    lines.append(f"Skickade per minut: {p.sent_per_minute:.1f}")
    if p.eta_seconds is not None:
        lines.append(f"Beräknad tid kvar: {round(p.eta_seconds)} s")
    if p.problems:
        lines.append("Ej levererade:")
        for row in p.problems:
            lines.append(f"  {row['email']}: {STATE_NAMES[row['state']]} – {row['reason']}")
    return "\n".join(lines)


def register(main: click.Group) -> None:
    from service.cli import get_settings, run_in_session

    register_retention(main)

    issues = main.commands.get("issues")
    if not isinstance(issues, click.Group):

        @main.group("issues")
        def issues_group() -> None:
            """Nyhetsbrev."""

        issues = issues_group

    @issues.command("send")
    @click.argument("slug")
    @click.option("--at", "at_raw", default=None, help="ISO-tid; utan tidszon = Europe/Stockholm")
    @click.option("--yes", "-y", is_flag=True, help="skicka utan att fråga (i skript)")
    def send(slug: str, at_raw: str | None, yes: bool) -> None:
        """Schedule an issue (--at) or send it now, after showing to how many, on which
        lists and when, and asking (unless --yes)."""
        settings = get_settings()
        at = parse_at(at_raw)

        async def plan(session: AsyncSession) -> SendPlan:
            issue = await issue_by_slug(session, slug)
            return await delivery.plan_send(session, settings, issue.id, at=at)

        planned = run_in_session(settings, plan)
        click.echo(format_plan(slug, planned))
        if not yes:
            if not sys.stdin.isatty():
                click.echo(
                    "Fel: inget skickades. Kommandot frågar innan det skickar, men körs inte "
                    "i en terminal: lägg till --yes för att skicka utan att fråga.",
                    err=True,
                )
                sys.exit(1)
            answer = click.prompt(
                "Skriv ja för att skicka" if at is None else "Skriv ja för att schemalägga",
                default="",
                show_default=False,
            )
            if answer.strip().lower() not in ("ja", "j"):
                click.echo("Inget skickades.", err=True)
                sys.exit(1)
        issue_id, version = planned.issue.id, planned.version

        async def go(session: AsyncSession) -> str:
            done = await delivery.start_send(
                session, settings, issue_id, at=at, actor="cli", version=version
            )
            if done.at is not None:
                return f"Utskicket {slug} är schemalagt till {done.when}."
            return f"Utskicket {slug} skickas nu till {done.recipients} mottagare."

        click.echo(run_in_session(settings, go))

    def _simple(name: str, action: delivery.Action, fn_doc: str) -> None:
        @issues.command(name, help=fn_doc)
        @click.argument("slug")
        def command(slug: str) -> None:
            settings = get_settings()

            async def go(session: AsyncSession) -> None:
                issue = await issue_by_slug(session, slug)
                await delivery.run_action(session, settings, issue.id, action, actor="cli")

            run_in_session(settings, go)
            click.echo(
                {"cancel": "Avbrutet.", "pause": "Pausat.", "resume": "Återupptaget."}[action]
            )

    _simple("cancel", "cancel", "Cancel a scheduled or running send.")
    _simple("pause", "pause", "Pause a running send.")
    _simple("resume", "resume", "Resume a paused send.")

    @issues.command("status")
    @click.argument("slug")
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
    def status(slug: str, fmt: str) -> None:
        """Totals by state, sent per minute, ETA, and failures with reasons."""
        settings = get_settings()

        async def go(session: AsyncSession) -> Progress:
            issue = await issue_by_slug(session, slug)
            return await delivery.progress(session, issue.id, problem_limit=None)

        progress = run_in_session(settings, go)
        if fmt == "json":
            click.echo(json.dumps(progress.as_json(), ensure_ascii=False, indent=2))
        else:
            click.echo(format_text(progress))

    @issues.command("test-send")
    @click.argument("slug")
    @click.option(
        "--to", "addresses", multiple=True, required=True, help="Recipient (repeatable, max 5)"
    )
    def test_send_command(slug: str, addresses: tuple[str, ...]) -> None:
        """Send an issue as a test ("[TEST] " subject) through the mail queue, at once."""
        from service.delivery.outbound import send_now
        from service.issues.testsend import test_send
        from service.mail.messages import MAIL_STATE_NAMES

        settings = get_settings()

        async def go(session: AsyncSession) -> list[int]:
            issue = await issue_by_slug(session, slug)
            rows = await test_send(session, settings, issue.id, list(addresses), actor="cli")
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

    @main.command("worker")
    @click.option(
        "--lease-seconds",
        default=120.0,
        show_default=True,
        type=click.FloatRange(1),
        help="claims older than this (a dead worker) are queued again",
    )
    @click.option("--no-scheduler", is_flag=True, help="do not stand as scheduler leader")
    def worker(lease_seconds: float, no_scheduler: bool) -> None:
        """Run delivery workers and the scheduler candidate until stopped."""
        from service.delivery.runner import run

        settings = get_settings()

        async def main_loop() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await run(
                settings,
                stop,
                lease_seconds=lease_seconds,
                scheduler=not no_scheduler,
            )

        click.echo(f"Arbetare startar ({settings.smtp_pool_size} SMTP-anslutningar).", err=True)
        asyncio.run(main_loop())

    @main.group("bounces")
    def bounces() -> None:
        """Inbound bounces, complaints and mailto unsubscribes."""

    @bounces.command("listen")
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=2525, show_default=True, type=int)
    def listen(host: str, port: int) -> None:
        """SMTP listener for bounce+…@ and unsubscribe@ mail."""
        from service.delivery.bounces import make_listener

        settings = get_settings()
        controller = make_listener(settings, host, port)
        controller.start()
        click.echo(f"Tar emot studsar på {host}:{port}.", err=True)
        stop = asyncio.Event()

        async def wait() -> None:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()

        try:
            asyncio.run(wait())
        finally:
            controller.stop()

    @bounces.command("poll")
    def poll_cmd() -> None:
        """Read the IMAP/POP mailbox in INNAN_BOUNCE_MAILBOX_URL once."""
        from service.delivery.bounces import MailboxError, poll

        settings = get_settings()
        if not settings.bounce_mailbox_url:
            click.echo("INNAN_BOUNCE_MAILBOX_URL är inte satt.", err=True)
            sys.exit(2)
        try:
            result = asyncio.run(poll(settings))
        except MailboxError as exc:
            click.echo(f"Fel: {exc}", err=True)
            sys.exit(1)
        click.echo(f"{result.handled} studsar, klagomål och avregistreringar behandlade.")
        if result.left:
            click.echo(
                f"{result.left} brev var inga studsar och ligger kvar i brevlådan för en människa."
            )
        if result.failed:
            click.echo(
                f"{result.failed} brev kunde inte behandlas (se loggen) och ligger kvar.", err=True
            )
            sys.exit(1)

    @main.group("mail")
    def mail() -> None:
        """The transactional mail queue (confirmations, welcome mails, links, test sends)."""

    @mail.command("status")
    @click.option("--days", default=7, show_default=True, type=click.IntRange(1, 3650))
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
    def mail_status(days: int, fmt: str) -> None:
        """Counts by state, and the mails that wait for a retry or failed, with reasons."""
        from service.mail.queue import overview

        settings = get_settings()

        async def go(session: AsyncSession) -> dict[str, object]:
            found = await overview(session, days=days, limit=200)
            return {
                "since": found.since.isoformat(),
                "counts": found.counts,
                "problems": [
                    {
                        "id": row.id,
                        "kind": row.kind,
                        "recipient": row.recipient,
                        "state": row.state,
                        "attempts": row.attempts,
                        "last_reply": row.last_reply,
                        "next_attempt_at": row.next_attempt_at.isoformat()
                        if row.next_attempt_at
                        else None,
                        "created_at": row.created_at.isoformat(),
                    }
                    for row in found.problems
                ],
            }

        report = run_in_session(settings, go)
        if fmt == "json":
            click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        else:
            click.echo(format_mail_status(report, days))
        problems = report["problems"]
        if isinstance(problems, list) and any(p["state"] == "failed" for p in problems):
            sys.exit(1)

    @mail.command("retry")
    @click.argument("ids", nargs=-1, type=click.IntRange(1, 2**63 - 1), required=True)
    def mail_retry(ids: tuple[int, ...]) -> None:
        """Send failed or waiting mails again now (by id, see ``mail status``)."""
        from service.mail.queue import retry_now

        settings = get_settings()

        async def go(session: AsyncSession) -> int:
            return await retry_now(session, list(ids), actor="cli")

        count = run_in_session(settings, go)
        click.echo(f"{count} av {len(ids)} brev köades för ett nytt försök.")
        if count < len(ids):
            sys.exit(1)

    @mail.command("cancel")
    @click.argument("ids", nargs=-1, type=click.IntRange(1, 2**63 - 1), required=True)
    def mail_cancel(ids: tuple[int, ...]) -> None:
        """Give up mails that have not been sent."""
        from service.mail.queue import cancel

        settings = get_settings()

        async def go(session: AsyncSession) -> int:
            return await cancel(session, list(ids), actor="cli")

        count = run_in_session(settings, go)
        click.echo(f"{count} av {len(ids)} brev avbröts.")
        if count < len(ids):
            sys.exit(1)


def register_retention(main: click.Group) -> None:
    """``retention run``: what the scheduler's daily retention does, now."""
    from service.cli import get_settings, run_in_session

    @main.group("retention")
    def retention_group() -> None:
        """Deleting personal data we may no longer keep."""

    @retention_group.command("run")
    def retention_run() -> None:
        """Run the daily retention now: subscribers, event registrations, deleted drafts."""
        from service.events.jobs import erase_expired
        from service.issues.models import DELETED_KEEP_DAYS
        from service.issues.service import purge_deleted
        from subscribers.privacy import run_retention

        settings = get_settings()
        counts = run_in_session(settings, lambda s: run_retention(s, settings))
        events = run_in_session(settings, lambda s: erase_expired(s, settings))
        drafts = run_in_session(settings, purge_deleted)
        for line in (
            f"Obekräftade anmälningar raderade (äldre än {settings.unconfirmed_days} dagar): "
            f"{counts['unconfirmed']}",
            f"Avregistrerade raderade (äldre än {settings.unsubscribed_days} dagar): "
            f"{counts['unsubscribed']}",
            f"Studsade raderade (äldre än {settings.bounced_days} dagar): {counts['bounced']}",
            f"Utgångna länkar raderade: {counts['tokens']}",
            f"Evenemang vars deltagaruppgifter raderades: {events['events']} "
            f"({events['registrations']} anmälningar); obekräftade anmälningar raderade: "
            f"{events['unconfirmed']}",
            f"Borttagna utkast raderade för gott (äldre än {DELETED_KEEP_DAYS} dagar): {drafts}",
        ):
            click.echo(line)


def format_mail_status(report: dict[str, object], days: int) -> str:
    from service.mail.messages import MAIL_KIND_NAMES, MAIL_STATE_NAMES

    counts = report["counts"]
    assert isinstance(counts, dict)
    lines = [f"Utgående e-post de senaste {days} dagarna:"]
    if not counts:
        lines.append("  inga brev")
    for state, name in MAIL_STATE_NAMES.items():
        if counts.get(state):
            lines.append(f"  {name}: {counts[state]}")
    problems = report["problems"]
    assert isinstance(problems, list)
    if problems:
        lines.append("Väntar på nytt försök eller misslyckades:")
        for p in problems:
            kind = MAIL_KIND_NAMES.get(p["kind"], p["kind"])
            state = MAIL_STATE_NAMES.get(p["state"], p["state"])
            lines.append(
                f"  #{p['id']} {kind} till {p['recipient']}: {state} efter {p['attempts']} "
                f"försök – {p['last_reply'] or ''}"
            )
    return "\n".join(lines)
