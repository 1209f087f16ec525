"""``innanforskapet check-config``: is this installation ready to run? Each check says why not.

Checks settings, database reachability and schema, writable directories, an SMTP
login (connect, EHLO, optional STARTTLS/AUTH) and the DKIM key (it must sign a tiny message).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from service.db import create_engine
from service.mail.transport import SmtpEndpoint
from service.migrate import current_revision, head_revision
from service.settings import Settings, SettingsError, load_settings


@dataclass
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'OK ' if self.ok else 'FEL'}  {self.name}: {self.detail}"


def _writable(name: str, directory: Path) -> Check:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".check-", delete=True) as handle:
            handle.write(b"ok")
    except OSError as exc:
        return Check(name, False, f"kan inte skriva i {directory} ({exc.strerror or exc}).")
    return Check(name, True, f"{directory} är skrivbar.")


async def _database(settings: Settings) -> Check:
    engine = create_engine(settings.database_url)
    try:
        current = await current_revision(engine)
    except Exception as exc:  # any connection problem is reported, not raised
        reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        return Check("Databas", False, f"går inte att nå ({reason}).")
    finally:
        await engine.dispose()
    head = head_revision()
    if current is None:
        return Check("Databas", False, "nås men är tom. Kör: innanforskapet db upgrade")
    if current != head:
        return Check(
            "Databas",
            False,
            f"schemat är {current}, senaste är {head}. Kör: innanforskapet db upgrade",
        )
    return Check("Databas", True, f"nås och schemat är aktuellt ({head}).")


async def _smtp(settings: Settings) -> Check:
    if settings.smtp_url is None:
        return Check(
            "SMTP",
            True,
            f"INNAN_SMTP_URL är inte satt: e-post skrivs som filer i {settings.outbox_dir}.",
        )
    import aiosmtplib

    endpoint = SmtpEndpoint.from_url(settings.smtp_url)
    where = f"{endpoint.hostname}:{endpoint.port}"
    client = aiosmtplib.SMTP(
        hostname=endpoint.hostname,
        port=endpoint.port,
        use_tls=endpoint.use_tls,
        start_tls=endpoint.start_tls,
        timeout=min(settings.smtp_timeout, 15.0),
    )
    try:
        await client.connect()
    except (aiosmtplib.SMTPException, OSError) as exc:
        return Check("SMTP", False, f"kan inte ansluta till {where} ({exc}).")
    try:
        await client.ehlo()
        if endpoint.username:
            try:
                await client.login(endpoint.username, endpoint.password or "")
            except aiosmtplib.SMTPAuthenticationError as exc:
                return Check(
                    "SMTP",
                    False,
                    f"{where} svarar men inloggningen som {endpoint.username} nekades "
                    f"({exc.code} {exc.message}). Kontrollera användarnamn och lösenord.",
                )
            except aiosmtplib.SMTPException as exc:
                return Check(
                    "SMTP", False, f"{where} svarar men inloggningen misslyckades ({exc})."
                )
            return Check(
                "SMTP", True, f"{where} svarar och inloggningen som {endpoint.username} lyckades."
            )
        return Check("SMTP", True, f"{where} svarar på EHLO (ingen inloggning konfigurerad).")
    except aiosmtplib.SMTPException as exc:
        return Check("SMTP", False, f"{where} svarade fel på EHLO ({exc}).")
    finally:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            client.close()


def _dkim(settings: Settings) -> Check:
    if settings.dkim_key_file is None or settings.dkim_selector is None:
        return Check("DKIM", True, "ingen DKIM-nyckel konfigurerad (e-post signeras inte).")
    path = settings.dkim_key_file
    try:
        key = path.read_bytes()
    except OSError as exc:
        return Check(
            "DKIM", False, f"nyckelfilen {path} går inte att läsa ({exc.strerror or exc})."
        )
    import dkim

    domain = settings.dkim_domain or settings.mail_domain
    message = (
        f"From: {settings.mail_from}\r\nTo: test@{domain}\r\nSubject: test\r\n\r\nhej\r\n"
    ).encode()
    try:
        signature = dkim.sign(
            message,
            settings.dkim_selector.encode(),
            domain.encode(),
            key,
            include_headers=[b"from", b"to", b"subject"],
        )
    except Exception as exc:  # dkimpy raises several types for a bad key
        return Check(
            "DKIM",
            False,
            f"{path} är ingen giltig privat nyckel som kan signera ({type(exc).__name__}: {exc}).",
        )
    if not signature.startswith(b"DKIM-Signature:"):
        return Check("DKIM", False, f"{path} gav ingen signatur.")
    mode = path.stat().st_mode & 0o077
    extra = " Varning: filen är läsbar för andra (chmod 600)." if mode else ""
    return Check(
        "DKIM",
        True,
        f"nyckeln i {path} signerar för {settings.dkim_selector}._domainkey.{domain}.{extra}",
    )


class _Recording(Mapping[str, str]):
    """The environment, remembering which names the settings loader asked for."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return self.env[key]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.asked.add(key)
        return key in self.env

    def __iter__(self) -> Iterator[str]:
        return iter(self.env)

    def __len__(self) -> int:
        return len(self.env)


def _unknown_variables(env: _Recording) -> Check | None:
    """``INNAN_*`` variables no setting reads: usually a typo, and then silently ignored."""
    unknown = sorted(k for k in env.env if k.startswith("INNAN_") and k not in env.asked)
    if not unknown:
        return None
    return Check(
        "Okända inställningar",
        False,
        f"{', '.join(unknown)} används inte av tjänsten (stavfel?). "
        "Se deploy/env.example för alla inställningar.",
    )


async def _bounce_mailbox(settings: Settings) -> Check:
    if not settings.bounce_mailbox_url:
        return Check("Studsbrevlåda", True, "INNAN_BOUNCE_MAILBOX_URL är inte satt.")
    import asyncio

    from service.delivery.bounces import MailboxError, check_mailbox

    try:
        where, waiting = await asyncio.to_thread(
            check_mailbox,
            settings.bounce_mailbox_url,
            allow_plaintext=settings.bounce_mailbox_allow_plaintext,
        )
    except MailboxError as exc:
        return Check("Studsbrevlåda", False, str(exc))
    return Check("Studsbrevlåda", True, f"{where} tar emot inloggningen ({waiting} brev väntar).")


async def run_checks(env: Mapping[str, str] | None = None) -> list[Check]:
    """Every check, in order; stops after settings when they cannot be loaded."""
    recording = _Recording(os.environ if env is None else env)
    try:
        settings = load_settings(recording)
    except SettingsError as exc:
        return [Check("Inställningar", False, str(exc))]
    checks = [Check("Inställningar", True, f"INNAN_ENV={settings.env}, {settings.base_url}")]
    unknown = _unknown_variables(recording)
    if unknown is not None:
        checks.append(unknown)
    checks.append(await _database(settings))
    checks.append(_writable("Utkorg (INNAN_OUTBOX_DIR)", settings.outbox_dir))
    checks.append(await _smtp(settings))
    checks.append(_dkim(settings))
    checks.append(await _bounce_mailbox(settings))
    checks.append(_writable("Mediekatalog (INNAN_MEDIA_DIR)", settings.media_dir))
    return checks
