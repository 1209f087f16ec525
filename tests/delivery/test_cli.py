"""``innanforskapet issues send/status/pause/resume/cancel``: time validation, the
question before sending (a terminal, or ``--yes``), an empty issue refused."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import subprocess
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.cli import main
from service.core.dates import STOCKHOLM, format_datetime, local
from service.db import create_engine, create_session_factory, utcnow
from service.issues.models import Issue
from service.settings import Settings
from tests.conftest import cli_env, make_settings, run_cli
from tests.factories import add_subscribers, make_issue


async def _setup(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    async with create_session_factory(engine)() as session:
        await add_subscribers(session, 2)
        await make_issue(session)
    await engine.dispose()


async def _issue_row(settings: Settings) -> tuple[str, object]:
    engine = create_engine(settings.database_url)
    async with create_session_factory(engine)() as session:
        row = (await session.execute(select(Issue.status, Issue.scheduled_at))).one()
    await engine.dispose()
    return str(row[0]), row[1]


@pytest.fixture
def cli_settings(tmp_path: Path, db_url: str) -> Settings:
    settings = make_settings(tmp_path, db_url)
    asyncio.run(_setup(settings))
    return settings


def _in_a_month() -> date:
    return (local(utcnow()) + timedelta(days=30)).date()


def test_send_at_rejects_garbage_and_schedules_in_stockholm_time(cli_settings: Settings) -> None:
    runner = CliRunner()
    env = cli_env(cli_settings)
    bad = runner.invoke(main, ["issues", "send", "augusti-2019", "--at", "imorgon"], env=env)
    assert bad.exit_code == 2
    assert "ingen tidpunkt" in bad.output
    missing = runner.invoke(main, ["issues", "send", "finns-inte", "--yes"], env=env)
    assert missing.exit_code == 1
    assert "finns-inte" in missing.output
    day = _in_a_month()
    ok = runner.invoke(
        main, ["issues", "send", "augusti-2019", "--at", f"{day}T08:00", "--yes"], env=env
    )
    assert ok.exit_code == 0, ok.output
    eight = datetime.combine(day, time(8, 0), STOCKHOLM)
    assert f"När: {format_datetime(eight, weekday=True)}" in ok.output
    assert "Mottagare: 2 just nu" in ok.output
    assert "Lista: Innanförskapet – nyhetsbrev" in ok.output
    assert "schemalagt till" in ok.output
    status, at = asyncio.run(_issue_row(cli_settings))
    assert status == "scheduled"
    assert isinstance(at, datetime) and at == eight
    again = runner.invoke(main, ["issues", "pause", "augusti-2019"], env=env)
    assert again.exit_code == 1  # only a running send can be paused
    cancel = runner.invoke(main, ["issues", "cancel", "augusti-2019"], env=env)
    assert cancel.exit_code == 0


def test_send_refuses_a_past_or_far_time_and_asks_before_sending(cli_settings: Settings) -> None:
    runner = CliRunner()
    env = cli_env(cli_settings)
    past = runner.invoke(
        main, ["issues", "send", "augusti-2019", "--at", "2001-01-01T00:00", "--yes"], env=env
    )
    assert past.exit_code == 2
    assert "har redan passerat" in past.stderr
    far = runner.invoke(
        main, ["issues", "send", "augusti-2019", "--at", "2099-06-01T08:00", "--yes"], env=env
    )
    assert far.exit_code == 2
    assert "mer än ett år fram i tiden" in far.stderr
    # Not in a terminal and no --yes: it says what it would do, and does nothing.
    unasked = runner.invoke(main, ["issues", "send", "augusti-2019"], env=env)
    assert unasked.exit_code == 1
    assert "Mottagare: 2" in unasked.stdout
    assert "När: nu direkt" in unasked.stdout
    assert "--yes" in unasked.stderr
    assert asyncio.run(_issue_row(cli_settings))[0] == "draft"


def test_send_now_with_yes_and_status_reports(cli_settings: Settings) -> None:
    runner = CliRunner()
    env = cli_env(cli_settings)
    sent = runner.invoke(main, ["issues", "send", "augusti-2019", "--yes"], env=env)
    assert sent.exit_code == 0, sent.output
    assert "skickas nu till 2 mottagare" in sent.output
    report = runner.invoke(main, ["issues", "status", "augusti-2019", "--format", "json"], env=env)
    assert report.exit_code == 0, report.output
    data = json.loads(report.output)
    assert data["status"] == "sending"
    assert data["totals"]["queued"] == 2
    assert data["total"] == 2
    text = runner.invoke(main, ["issues", "status", "augusti-2019"], env=env)
    assert "i kö: 2" in text.output
    assert runner.invoke(main, ["issues", "pause", "augusti-2019"], env=env).exit_code == 0
    assert runner.invoke(main, ["issues", "resume", "augusti-2019"], env=env).exit_code == 0


def _in_a_terminal(
    settings: Settings, answer: bytes, *args: str
) -> subprocess.CompletedProcess[str]:
    """``innanforskapet issues send`` with a terminal on standard input, typing ``answer``."""
    primary, secondary = pty.openpty()
    try:
        os.write(primary, answer)
        return subprocess.run(
            [str(Path(sys.executable).parent / "innanforskapet"), "issues", "send", *args],
            stdin=secondary,
            capture_output=True,
            text=True,
            env={**os.environ, **cli_env(settings)},
            timeout=120,
            check=False,
        )
    finally:
        os.close(secondary)
        os.close(primary)


def test_in_a_terminal_it_asks_and_only_ja_sends(cli_settings: Settings) -> None:
    declined = _in_a_terminal(cli_settings, b"nej\n", "augusti-2019")
    assert declined.returncode == 1
    assert "Skriv ja för att skicka" in declined.stdout
    assert "Inget skickades" in declined.stderr
    assert asyncio.run(_issue_row(cli_settings))[0] == "draft"
    accepted = _in_a_terminal(cli_settings, b"ja\n", "augusti-2019")
    assert accepted.returncode == 0, accepted.stderr
    assert "skickas nu till 2 mottagare" in accepted.stdout
    assert asyncio.run(_issue_row(cli_settings))[0] == "sending"


def test_an_empty_issue_is_refused(tmp_path: Path, db_url: str) -> None:
    settings = make_settings(tmp_path, db_url)

    async def setup() -> None:
        engine = create_engine(settings.database_url)
        async with create_session_factory(engine)() as session:
            await add_subscribers(session, 2)
            await make_issue(session, [("heading", {"text": "Aktuellt"}), ("divider", {})])
        await engine.dispose()

    asyncio.run(setup())
    runner = CliRunner()
    refused = runner.invoke(
        main, ["issues", "send", "augusti-2019", "--yes"], env=cli_env(settings)
    )
    assert refused.exit_code == 1
    assert "Utskicket har inget innehåll" in refused.stderr
    assert refused.stdout == ""
    assert asyncio.run(_issue_row(settings))[0] == "draft"


async def test_retention_run_does_what_the_daily_job_does(
    settings: Settings, session: AsyncSession
) -> None:
    """Subscribers, event registrations and deleted drafts, as the scheduler does daily."""
    old = await make_issue(session, slug="borttaget-for-lange-sedan")
    recent = await make_issue(session, slug="nyss-borttaget")
    old.deleted_at = utcnow() - timedelta(days=31)
    recent.deleted_at = utcnow() - timedelta(days=2)
    await session.commit()
    result = await asyncio.to_thread(run_cli, settings, "retention", "run")
    assert result.exit_code == 0, result.output
    assert "Obekräftade anmälningar raderade (äldre än 7 dagar): 0" in result.output
    assert "Evenemang vars deltagaruppgifter raderades: 0" in result.output
    assert "Borttagna utkast raderade för gott (äldre än 30 dagar): 1" in result.output
    session.expire_all()
    left = set(await session.scalars(select(Issue.slug)))
    assert "borttaget-for-lange-sedan" not in left and "nyss-borttaget" in left
