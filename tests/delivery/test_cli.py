"""``innanforskapet issues send/status/pause/resume/cancel`` and time validation."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from service.cli import main
from service.db import create_engine, create_session_factory
from service.issues.models import Issue
from service.settings import Settings
from tests.conftest import cli_env, make_settings
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


def test_send_at_rejects_garbage_and_schedules_in_stockholm_time(cli_settings: Settings) -> None:
    runner = CliRunner()
    env = cli_env(cli_settings)
    bad = runner.invoke(main, ["issues", "send", "augusti-2019", "--at", "imorgon"], env=env)
    assert bad.exit_code == 2
    assert "ingen tidpunkt" in bad.output
    missing = runner.invoke(main, ["issues", "send", "finns-inte"], env=env)
    assert missing.exit_code == 1
    assert "finns-inte" in missing.output
    ok = runner.invoke(
        main, ["issues", "send", "augusti-2019", "--at", "2099-06-01T08:00"], env=env
    )
    assert ok.exit_code == 0, ok.output
    assert "2099-06-01 08:00" in ok.output
    status, at = asyncio.run(_issue_row(cli_settings))
    assert status == "scheduled"
    assert str(at).startswith("2099-06-01 06:00")  # 08:00 summer time in Stockholm = 06:00 UTC
    again = runner.invoke(main, ["issues", "pause", "augusti-2019"], env=env)
    assert again.exit_code == 1  # only a running send can be paused
    cancel = runner.invoke(main, ["issues", "cancel", "augusti-2019"], env=env)
    assert cancel.exit_code == 0


def test_send_in_the_past_sends_now_and_status_reports(cli_settings: Settings) -> None:
    runner = CliRunner()
    env = cli_env(cli_settings)
    sent = runner.invoke(
        main, ["issues", "send", "augusti-2019", "--at", "2001-01-01T00:00"], env=env
    )
    assert sent.exit_code == 0, sent.output
    assert "skickas nu" in sent.output
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
