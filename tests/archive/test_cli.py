"""``innanforskapet archive list|publish|withdraw`` against a real database."""

from __future__ import annotations

from click.testing import CliRunner

from service.cli import main
from service.settings import Settings
from tests.conftest import cli_env


def test_archive_cli_withdraws_and_publishes(settings: Settings) -> None:
    runner = CliRunner(env=cli_env(settings))
    assert runner.invoke(main, ["demo", "load"]).exit_code == 0
    listed = runner.invoke(main, ["archive", "list"])
    assert listed.exit_code == 0
    line = next(x for x in listed.output.splitlines() if "augusti 2019" in x)
    assert "publicerat" in line
    issue_id = line.split()[0]
    withdrawn = runner.invoke(main, ["archive", "withdraw", issue_id])
    assert withdrawn.exit_code == 0 and "Tillbakadraget" in withdrawn.output
    assert "tillbakadraget" in runner.invoke(main, ["archive", "list"]).output
    published = runner.invoke(main, ["archive", "publish", issue_id])
    assert published.exit_code == 0
    assert "http://testserver.local/arkiv/2019/nyhetsbrev-augusti-2019" in published.output
    missing = runner.invoke(main, ["archive", "withdraw", "999999"])
    assert missing.exit_code == 1 and "Nyhetsbrevet finns inte." in missing.output
