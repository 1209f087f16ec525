"""``innanforskapet archive list|publish|withdraw`` against a real database."""

from __future__ import annotations

from click.testing import CliRunner

from service.cli import main
from service.settings import Settings


def _env(settings: Settings) -> dict[str, str]:
    return {
        "INNAN_ENV": "test",
        "INNAN_VAR_DIR": str(settings.var_dir),
        "INNAN_DATABASE_URL": settings.database_url,
        "INNAN_BASE_URL": settings.base_url,
        "INNAN_SECRET_KEY": settings.secret_key,
        "INNAN_RUN_WORKERS": "false",
    }


def test_archive_cli_withdraws_and_publishes(settings: Settings) -> None:
    runner = CliRunner(env=_env(settings))
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
