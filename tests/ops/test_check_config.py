"""``check-config`` against real things: the test databases, a real SMTP server, a closed
port, a real DKIM key made by openssl, and bad values that must be named in plain words."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from service.settings import Settings
from tests.conftest import free_port
from tests.delivery.mailbox import Dovecot
from tests.ops.helpers import arun
from tests.smtp import SmtpServer


def _rsa_key(path: Path) -> Path:
    subprocess.run(
        ["openssl", "genrsa", "-traditional", "-out", str(path), "2048"],
        check=True,
        capture_output=True,
    )
    path.chmod(0o600)
    return path


async def test_all_good_with_real_smtp_and_dkim(
    settings: Settings, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    key = _rsa_key(tmp_path / "dkim.pem")
    result = await arun(
        settings,
        "check-config",
        INNAN_SMTP_URL=smtp_server.url,
        INNAN_DKIM_SELECTOR="s2019",
        INNAN_DKIM_KEY_FILE=str(key),
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "OK   Databas: nås och schemat är aktuellt" in out
    assert f"OK   SMTP: 127.0.0.1:{smtp_server.port} svarar på EHLO" in out
    assert "OK   DKIM: nyckeln i" in out and "s2019._domainkey.innanforskapet.test" in out
    assert "OK   Utkorg (INNAN_OUTBOX_DIR)" in out
    assert "OK   Mediekatalog (INNAN_MEDIA_DIR)" in out
    assert out.rstrip().endswith("Allt ser bra ut.")


async def test_problems_are_named_in_plain_words(settings: Settings, tmp_path: Path) -> None:
    closed = free_port()
    bad_key = tmp_path / "inte-en-nyckel.pem"
    bad_key.write_text("-----BEGIN RSA PRIVATE KEY-----\nhej\n-----END RSA PRIVATE KEY-----\n")
    blocker = tmp_path / "en-fil"
    blocker.write_text("x")
    result = await arun(
        settings,
        "check-config",
        INNAN_SMTP_URL=f"smtp://127.0.0.1:{closed}",
        INNAN_DKIM_SELECTOR="s1",
        INNAN_DKIM_KEY_FILE=str(bad_key),
        INNAN_MEDIA_DIR=str(blocker / "media"),
    )
    assert result.exit_code == 1
    out = result.output
    assert f"FEL  SMTP: kan inte ansluta till 127.0.0.1:{closed}" in out
    assert "FEL  DKIM:" in out and "ingen giltig privat nyckel" in out
    assert "FEL  Mediekatalog (INNAN_MEDIA_DIR): kan inte skriva i" in out
    assert "OK   Databas" in out
    assert "3 kontroll(er) misslyckades." in out


async def test_missing_key_file_and_smtp_login_refused(
    settings: Settings, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    result = await arun(
        settings,
        "check-config",
        INNAN_SMTP_URL=f"smtp://anna:hemligt@127.0.0.1:{smtp_server.port}",
        INNAN_DKIM_SELECTOR="s1",
        INNAN_DKIM_KEY_FILE=str(tmp_path / "saknas.pem"),
    )
    assert result.exit_code == 1
    assert "FEL  SMTP:" in result.output and "inloggningen" in result.output
    assert "FEL  DKIM: nyckelfilen" in result.output and "går inte att läsa" in result.output


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"INNAN_PORT": "åtta"}, "INNAN_PORT must be a whole number"),
        ({"INNAN_SMTP_URL": "http://mail"}, "INNAN_SMTP_URL must look like"),
    ],
)
async def test_bad_settings_stop_at_the_first_check(
    settings: Settings, env: dict[str, str], expected: str
) -> None:
    result = await arun(settings, "check-config", **env)
    assert result.exit_code == 1
    assert result.output.startswith("FEL  Inställningar: ")
    assert expected in result.output


async def test_unreachable_and_unmigrated_databases(settings: Settings, tmp_path: Path) -> None:
    empty = tmp_path / "tom.db"
    unmigrated = await arun(settings, "check-config", INNAN_DATABASE_URL=f"sqlite:///{empty}")
    assert unmigrated.exit_code == 1
    assert "FEL  Databas: nås men är tom. Kör: innanforskapet db upgrade" in unmigrated.output
    gone = await arun(
        settings,
        "check-config",
        INNAN_DATABASE_URL=f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x",
    )
    assert gone.exit_code == 1
    assert "FEL  Databas: går inte att nå" in gone.output


async def test_unknown_innan_variables_are_named(settings: Settings) -> None:
    result = await arun(
        settings, "check-config", INNAN_REDIS_URL="redis://x", INNAN_SMTP_ULR="smtp://typo"
    )
    assert result.exit_code == 1
    assert (
        "FEL  Okända inställningar: INNAN_REDIS_URL, INNAN_SMTP_ULR används inte av tjänsten"
        in result.output
    )
    assert "OK   Databas" in result.output


@pytest.mark.parametrize("scheme", ["imap", "pop3"])
async def test_bounce_mailbox_login_is_checked_and_nothing_is_touched(
    settings: Settings, dovecot: Dovecot, scheme: str
) -> None:
    dovecot.deliver(b"Subject: ett svar\r\n\r\nTack!\r\n", to="bounces@innanforskapet.test")
    good = await arun(settings, "check-config", INNAN_BOUNCE_MAILBOX_URL=dovecot.url(scheme))
    port = dovecot.imap_port if scheme == "imap" else dovecot.pop3_port
    assert f"OK   Studsbrevlåda: {scheme}://127.0.0.1:{port}" in good.output, good.output
    assert "(1 brev väntar)" in good.output
    assert good.exit_code == 0, good.output
    assert len(dovecot.stored()) == 1  # looked at, not changed
    if scheme == "imap":
        assert "\\Seen" not in dovecot.flags()["ett svar"]

    bad = await arun(
        settings, "check-config", INNAN_BOUNCE_MAILBOX_URL=dovecot.url(scheme, password="fel")
    )
    assert bad.exit_code == 1
    assert "FEL  Studsbrevlåda:" in bad.output and "INNAN_BOUNCE_MAILBOX_URL" in bad.output
    assert "fel@" not in bad.output  # the password is never printed
    assert len(dovecot.stored()) == 1


async def test_bounce_mailbox_without_starttls_on_another_host_is_reported(
    settings: Settings, dovecot_remote: Dovecot
) -> None:
    url = dovecot_remote.url("imap")
    refused = await arun(settings, "check-config", INNAN_BOUNCE_MAILBOX_URL=url)
    assert refused.exit_code == 1
    assert "FEL  Studsbrevlåda:" in refused.output
    assert "erbjuder inte STARTTLS" in refused.output
    assert "Login: user=<" not in dovecot_remote.diagnostics()

    allowed = await arun(
        settings,
        "check-config",
        INNAN_BOUNCE_MAILBOX_URL=url,
        INNAN_BOUNCE_MAILBOX_ALLOW_PLAINTEXT="true",
    )
    assert "OK   Studsbrevlåda:" in allowed.output, allowed.output
    assert allowed.exit_code == 0, allowed.output
