"""Settings: built once from the environment and passed to everything that needs them.

Every setting is an ``INNAN_*`` environment variable, declared once as a field of
:class:`Settings` with its name, default and meaning (``metadata=doc(...)``). The
settings table in ``docs/operators.md`` and ``deploy/env.example`` are generated from
those (``python -m service.settings_doc``; a test fails when they differ). A bad or missing
value stops start-up with a :class:`SettingsError` naming the variable.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from email.headerregistry import Address
from email.utils import parseaddr
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit


def _package_directory(package: str) -> Path:
    """Where the files of ``package`` are on disk, in a wheel and an editable install alike."""
    found = resources.files(package)
    if not isinstance(found, Path):  # e.g. a zip import: Jinja and static files need a directory
        raise RuntimeError(f"{package} is not installed as files on disk: {found!r}")
    return found


# templates/ of the repository, shipped as the package service.templates.
TEMPLATES_DIR = _package_directory("service.templates")


def default_var_dir() -> Path:
    """``./var`` of the working directory (the repository for ``make run``)."""
    return Path.cwd() / "var"


ENVIRONMENTS = ("development", "test", "production")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


# Groups of settings, in the order the operators' guide and deploy/env.example show them.
BASICS = "Basics"
MAIL = "Mail"
SENDING = "Sending (delivery workers)"
BOUNCES = "Bounces"
DKIM = "DKIM signing"
ORGANISATION = "Organisation shown in mails and pages"
WEB = "Web, framing and uploads"
LIMITS = "Abuse limits"
RETENTION = "Retention (days)"
GROUPS = (BASICS, MAIL, SENDING, BOUNCES, DKIM, ORGANISATION, WEB, LIMITS, RETENTION)


@dataclass(frozen=True)
class SettingDoc:
    """What the documentation says about one setting (``Settings`` field metadata).

    ``docs/operators.md`` and ``deploy/env.example`` are generated from these
    (``python -m service.settings_doc``), and :func:`load_settings` reads each variable
    by this name with the field's default, so name, default and meaning live here once.
    """

    variable: str
    group: str
    meaning: str  # Markdown; one paragraph
    # The default in words, where it is not the field's value (derived or generated).
    shown_default: str | None = None
    # The value deploy/env.example suggests for a production server, where not the default.
    example: str | None = None


def doc(
    variable: str,
    group: str,
    meaning: str,
    *,
    shown_default: str | None = None,
    example: str | None = None,
) -> dict[str, SettingDoc]:
    """Field metadata: the ``Settings`` field is read from ``variable`` and documented."""
    return {"doc": SettingDoc(variable, group, meaning, shown_default, example)}


@dataclass(frozen=True)
class Settings:
    env: str = field(
        default="development",
        metadata=doc(
            "INNAN_ENV",
            BASICS,
            "`development`, `test` or `production`. In production the service refuses to start "
            "without `INNAN_SECRET_KEY` or with an `INNAN_BASE_URL` that is not https.",
            example="production",
        ),
    )
    var_dir: Path = field(
        default_factory=default_var_dir,
        metadata=doc(
            "INNAN_VAR_DIR",
            BASICS,
            "Directory for run-time data: the SQLite database, the outbox, uploaded images, "
            "the import reject files (`imports/`) and, in development, the generated "
            "`secret_key`. Set it for a real deployment.",
            shown_default="`./var` of the working directory",
            example="/var/lib/innanforskapet",
        ),
    )
    database_url: str = field(
        default="",
        metadata=doc(
            "INNAN_DATABASE_URL",
            BASICS,
            "`sqlite+aiosqlite:///PATH` or `postgresql+asyncpg://user:password@host:5432/db`; "
            "`sqlite://`, `postgresql://` and `postgres://` are accepted and rewritten to "
            "these drivers.",
            shown_default="`sqlite+aiosqlite:///INNAN_VAR_DIR/innanforskapet.db`",
            example="postgresql+asyncpg://innanforskapet@127.0.0.1:5432/innanforskapet",
        ),
    )
    base_url: str = field(
        default="http://127.0.0.1:8000",
        metadata=doc(
            "INNAN_BASE_URL",
            BASICS,
            "Public address of the service (absolute http(s), no query), used in every link in "
            "mails, feeds and pages. Cookies are `Secure` when it is https; production "
            "requires https.",
            example="https://nyhetsbrev.example.se",
        ),
    )
    secret_key: str = field(
        default="",
        metadata=doc(
            "INNAN_SECRET_KEY",
            BASICS,
            "At least 32 characters. Signs every link in mails and the CSRF tokens, and keys "
            "the hashes of suppressed addresses: **keep it stable**, and keep it with the "
            "backups. REQUIRED in production; make one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`.",
            shown_default="generated once into `INNAN_VAR_DIR/secret_key` (not in production)",
        ),
    )
    host: str = field(
        default="127.0.0.1",
        metadata=doc(
            "INNAN_HOST",
            BASICS,
            "Address `innanforskapet serve` listens on (`serve --host` overrides it).",
        ),
    )
    port: int = field(
        default=8000,
        metadata=doc(
            "INNAN_PORT",
            BASICS,
            "Port `innanforskapet serve` listens on (`serve --port` overrides it).",
        ),
    )
    outbox_dir: Path = field(
        default_factory=lambda: default_var_dir() / "outbox",
        metadata=doc(
            "INNAN_OUTBOX_DIR",
            MAIL,
            "Without `INNAN_SMTP_URL` every mail is written here as one `.eml` file instead of "
            "being sent (the outbox transport, for development and trials).",
            shown_default="`INNAN_VAR_DIR/outbox`",
            example="/var/lib/innanforskapet/outbox",
        ),
    )
    smtp_url: str | None = field(
        default=None,
        metadata=doc(
            "INNAN_SMTP_URL",
            MAIL,
            "The mail server; setting it selects the SMTP transport: "
            "`smtp://user:password@host:25` (no TLS), `smtp+starttls://…:587` (STARTTLS) or "
            "`smtps://…:465` (TLS); user and password URL-encoded.",
        ),
    )
    mail_from: str = field(
        default="Innanförskapet <nyhetsbrev@innanforskapet.localhost>",
        metadata=doc(
            "INNAN_MAIL_FROM",
            MAIL,
            "From header of every mail, `Namn <adress@domän.se>`. Its domain is the mail domain: "
            "Message-IDs, `List-Id` and, by default, the bounce and DKIM domains.",
            example="Innanförskapet <nyhetsbrev@example.se>",
        ),
    )
    reply_to: str | None = field(
        default=None,
        metadata=doc(
            "INNAN_REPLY_TO",
            MAIL,
            "Reply-To header of every mail (an address like `INNAN_MAIL_FROM`).",
        ),
    )
    bounce_domain: str | None = field(
        default=None,
        metadata=doc(
            "INNAN_BOUNCE_DOMAIN",
            BOUNCES,
            "Domain of the VERP return path `bounce+<id>-<hmac>@domain` and of the "
            "`unsubscribe@domain` mailto address; point its MX at `innanforskapet bounces "
            "listen`, or collect its mail in the mailbox below.",
            shown_default="the domain of `INNAN_MAIL_FROM`",
        ),
    )
    smtp_pool_size: int = field(
        default=4,
        metadata=doc(
            "INNAN_SMTP_POOL_SIZE",
            SENDING,
            "SMTP connections per worker process (one message at a time on each). This is the "
            "worker's concurrency; there is no separate setting for it.",
        ),
    )
    smtp_recycle_after: int = field(
        default=500,
        metadata=doc(
            "INNAN_SMTP_RECYCLE_AFTER",
            SENDING,
            "Messages sent over one SMTP connection before it is closed and reopened.",
        ),
    )
    smtp_timeout: float = field(
        default=30.0,
        metadata=doc(
            "INNAN_SMTP_TIMEOUT",
            SENDING,
            "Seconds to wait for the mail server's answer to one SMTP command.",
        ),
    )
    send_rate_per_second: float = field(
        default=0.0,
        metadata=doc(
            "INNAN_SEND_RATE_PER_SECOND",
            SENDING,
            "Most messages per second, per worker process (a token bucket in each process); "
            "`0` = unlimited.",
        ),
    )
    send_rate_per_hour: int = field(
        default=0,
        metadata=doc(
            "INNAN_SEND_RATE_PER_HOUR",
            SENDING,
            "Most messages per hour for the whole installation (a counter in the database that "
            "every worker shares); `0` = unlimited.",
        ),
    )
    send_max_attempts: int = field(
        default=5,
        metadata=doc(
            "INNAN_SEND_MAX_ATTEMPTS",
            SENDING,
            "Attempts per recipient (and per single mail) on temporary failures (4xx, lost "
            "connection) before it counts as failed; retries back off from 1 minute to 1 hour.",
        ),
    )
    send_batch_size: int = field(
        default=200,
        metadata=doc(
            "INNAN_SEND_BATCH_SIZE",
            SENDING,
            "Recipients a worker claims, and records the outcomes of, at a time.",
        ),
    )
    dkim_selector: str | None = field(
        default=None,
        metadata=doc(
            "INNAN_DKIM_SELECTOR",
            DKIM,
            "DKIM selector; set together with `INNAN_DKIM_KEY_FILE` (both or neither). With "
            "both, every mail is signed.",
        ),
    )
    dkim_domain: str | None = field(
        default=None,
        metadata=doc(
            "INNAN_DKIM_DOMAIN",
            DKIM,
            "The `d=` domain of the DKIM signature.",
            shown_default="the domain of `INNAN_MAIL_FROM`",
        ),
    )
    dkim_key_file: Path | None = field(
        default=None,
        metadata=doc(
            "INNAN_DKIM_KEY_FILE",
            DKIM,
            "PEM file with the DKIM private key; `innanforskapet check-config` tests that it "
            "can sign.",
        ),
    )
    run_workers: bool = field(
        default=True,
        metadata=doc(
            "INNAN_RUN_WORKERS",
            SENDING,
            "Run a delivery worker and the scheduler inside `innanforskapet serve` (right for "
            "one process on SQLite). Set `false` for web instances when separate "
            "`innanforskapet worker` processes run (`serve --no-workers` does the same).",
        ),
    )
    bounce_threshold: int = field(
        default=1,
        metadata=doc(
            "INNAN_BOUNCE_THRESHOLD",
            BOUNCES,
            "Hard bounces after which a subscriber is marked bounced and the address "
            "suppressed (an ARF complaint suppresses at once).",
        ),
    )
    bounce_mailbox_url: str | None = field(
        default=None,
        metadata=doc(
            "INNAN_BOUNCE_MAILBOX_URL",
            BOUNCES,
            "Mailbox that `innanforskapet bounces poll` (and the scheduler leader, every 5 "
            "minutes) reads bounces from: `imaps://user:password@host:993/Folder` (folder "
            "default `INBOX`), `imap://…` (143), `pop3s://user:password@host:995` or "
            "`pop3://…` (110). User, password and folder are URL-encoded (`@` → `%40`, `/` → "
            "`%2F`, `%` → `%25`; ASCII over IMAP). Certificates are verified against the "
            "system's CAs (`SSL_CERT_FILE` names another file). `imap://` and `pop3://` "
            "upgrade with STARTTLS/STLS before logging in. Unset: no polling.",
        ),
    )
    bounce_mailbox_allow_plaintext: bool = field(
        default=False,
        metadata=doc(
            "INNAN_BOUNCE_MAILBOX_ALLOW_PLAINTEXT",
            BOUNCES,
            "`true`: send the mailbox password in clear text to a server on another host that "
            "offers no STARTTLS/STLS (only on a network you trust). Without it the password "
            "goes in clear only to this machine (a loopback address), and otherwise nothing is "
            "sent and the error says so.",
        ),
    )
    org_name: str = field(
        default="Samordningsförbundet i Halland",
        metadata=doc(
            "INNAN_ORG_NAME",
            ORGANISATION,
            "The sender's name in every mail footer and on the public pages.",
        ),
    )
    org_address: str = field(
        default="Storgatan 6, 302 43 Halmstad",
        metadata=doc(
            "INNAN_ORG_ADDRESS",
            ORGANISATION,
            "The sender's postal address in every mail footer and on the public pages.",
        ),
    )
    privacy_url: str = field(
        default="",
        metadata=doc(
            "INNAN_PRIVACY_URL",
            ORGANISATION,
            'Where "Behandling av personuppgifter" in every mail points (an absolute http(s) '
            "URL), e.g. the förbund's own privacy page.",
            shown_default="`/integritet` on this service",
        ),
    )
    embed_origins: tuple[str, ...] = field(
        default=(),
        metadata=doc(
            "INNAN_EMBED_ORIGINS",
            WEB,
            "Sites that may show the signup form `/prenumerera/inbaddning` in a frame: https "
            "origins such as `https://www.example.se` (no path, no wildcard; http only for "
            "localhost), separated by spaces or commas. They go into the form's "
            "`Content-Security-Policy: frame-ancestors`.",
            shown_default="empty: only this service itself",
        ),
    )
    trusted_proxies: tuple[str, ...] = field(
        default=("127.0.0.1", "::1"),
        metadata=doc(
            "INNAN_TRUSTED_PROXIES",
            WEB,
            "Reverse proxies (addresses or networks such as `10.0.0.0/8`, comma- or "
            "space-separated) whose `X-Forwarded-For` and `X-Forwarded-Proto` `serve` believes; "
            "the signup and login limits count clients by the address they give. Behind a "
            "proxy elsewhere (another host, a container bridge) list it, or every client counts "
            "as the proxy.",
        ),
    )
    media_dir: Path = field(
        default_factory=lambda: default_var_dir() / "media",
        metadata=doc(
            "INNAN_MEDIA_DIR",
            WEB,
            "Uploaded images, stored once as `<sha256>.<ext>` and served at `/media/<file>`.",
            shown_default="`INNAN_VAR_DIR/media`",
            example="/var/lib/innanforskapet/media",
        ),
    )
    max_upload_bytes: int = field(
        default=5 * 1024 * 1024,
        metadata=doc(
            "INNAN_MAX_UPLOAD_BYTES",
            WEB,
            "Largest image upload in bytes (5 MiB; at least 1024).",
        ),
    )
    max_body_bytes: int = field(
        default=64 * 1024,
        metadata=doc(
            "INNAN_MAX_BODY_BYTES",
            LIMITS,
            "Largest request body in bytes for forms and the JSON API (image uploads, CSV "
            "imports and the editor's issue and block forms, 8 MiB, have their own limits); "
            "a larger one gets 413.",
        ),
    )
    signup_ip_per_hour: int = field(
        default=20,
        metadata=doc(
            "INNAN_SIGNUP_IP_PER_HOUR",
            LIMITS,
            "Signup POSTs per client address per hour; beyond that a Swedish 429 page.",
        ),
    )
    signup_global_per_hour: int = field(
        default=1000,
        metadata=doc(
            "INNAN_SIGNUP_GLOBAL_PER_HOUR",
            LIMITS,
            "Signup POSTs per hour in total.",
        ),
    )
    registration_ip_per_hour: int = field(
        default=20,
        metadata=doc(
            "INNAN_REGISTRATION_IP_PER_HOUR",
            LIMITS,
            "Event registrations (anmälan) per client address per hour; beyond that 429.",
        ),
    )
    registration_global_per_hour: int = field(
        default=1000,
        metadata=doc(
            "INNAN_REGISTRATION_GLOBAL_PER_HOUR",
            LIMITS,
            "Event registrations per hour in total, over all events.",
        ),
    )
    login_attempts_per_15min: int = field(
        default=10,
        metadata=doc(
            "INNAN_LOGIN_ATTEMPTS_PER_15MIN",
            LIMITS,
            "Failed editor logins per address and client address in 15 minutes, and three "
            "times that per client address over all addresses (an IPv6 client counts as its "
            "/64); beyond that 429, even with the right password.",
        ),
    )
    unconfirmed_days: int = field(
        default=7,
        metadata=doc(
            "INNAN_UNCONFIRMED_DAYS",
            RETENTION,
            "Confirmation links are valid this long, and unconfirmed signups older than this "
            "are deleted.",
        ),
    )
    unsubscribed_days: int = field(
        default=30,
        metadata=doc(
            "INNAN_UNSUBSCRIBED_DAYS",
            RETENTION,
            "People unsubscribed from everything this long are deleted; their address stays "
            "only as a keyed hash in the suppression list (reason `unsubscribed`), so an "
            "import cannot mail them again by accident.",
        ),
    )
    bounced_days: int = field(
        default=90,
        metadata=doc(
            "INNAN_BOUNCED_DAYS",
            RETENTION,
            "Likewise for bounced addresses (reason `bounced`).",
        ),
    )
    mail_log_days: int = field(
        default=30,
        metadata=doc(
            "INNAN_MAIL_LOG_DAYS",
            RETENTION,
            "Sent or given-up single mails (confirmations, links, test sends) stay on "
            '"Utgående e-post" this long, then their rows are deleted.',
        ),
    )
    outbox_keep_days: int = field(
        default=7,
        metadata=doc(
            "INNAN_OUTBOX_KEEP_DAYS",
            RETENTION,
            "With the outbox transport, `.eml` files older than this are deleted.",
        ),
    )
    log_level: str = field(
        default="INFO",
        metadata=doc(
            "INNAN_LOG_LEVEL",
            BASICS,
            "`DEBUG`, `INFO`, `WARNING` or `ERROR`: the lowest level logged, by every "
            "command: the service's own messages (scheduler, workers, bounces, migrations) "
            "and the web server's (uvicorn's) in `innanforskapet serve`.",
        ),
    )

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sender_address(self) -> Address:
        name, addr = parseaddr(self.mail_from)
        user, _, domain = addr.partition("@")
        return Address(display_name=name, username=user, domain=domain)

    @property
    def mail_domain(self) -> str:
        return self.sender_address.domain

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    def url(self, path: str) -> str:
        """Absolute URL for a path on this service."""
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise SettingsError(f"{name} must not be negative, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _str(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    if any(c in raw for c in "\r\n\x00"):
        raise SettingsError(f"{name} must not contain line breaks or NUL characters")
    return raw.strip()


def _opt(env: Mapping[str, str], name: str) -> str | None:
    value = _str(env, name, "")
    return value or None


def _http_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"{name} must be an absolute http(s) URL, got {value!r}")
    if parts.query or parts.fragment:
        raise SettingsError(f"{name} must not have a query or fragment, got {value!r}")
    return value.rstrip("/")


_HOSTNAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def _origin(name: str, item: str) -> str:
    """``scheme://host[:port]`` from one listed origin, or a SettingsError."""
    problem = (
        f"{name} must list origins like https://www.example.se (https, no path, no "
        f"wildcard; http only for localhost), separated by spaces or commas; got {item!r}"
    )
    parts = urlsplit(item)
    try:
        port = parts.port
    except ValueError:
        raise SettingsError(problem) from None
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
        is_ip = True
    except ValueError:
        is_ip = False
    if (
        not (parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK))
        or not (is_ip or _HOSTNAME.fullmatch(host))
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or any(c in item for c in "@?#")
    ):
        raise SettingsError(problem)
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown}" + (f":{port}" if port is not None else "")


def _origins(name: str, value: str) -> tuple[str, ...]:
    return tuple(_origin(name, item) for item in re.split(r"[\s,]+", value) if item)


def _database_url(name: str, value: str) -> str:
    if value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        return value
    if value.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + value.split("://", 1)[1]
    if value.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + value.split("://", 1)[1]
    raise SettingsError(
        f"{name} must be a sqlite+aiosqlite:/// or postgresql+asyncpg:// URL, got {value!r}"
    )


def _smtp_url(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("smtp", "smtps", "smtp+starttls") or not parts.hostname:
        raise SettingsError(
            f"{name} must look like smtp://user:password@host:25, smtps://… or "
            f"smtp+starttls://…, got a value with scheme {parts.scheme!r}"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise SettingsError(f"{name} has an invalid port") from None
    return value


def _mail_from(name: str, value: str) -> str:
    _display, addr = parseaddr(value)
    if "@" not in addr or addr.startswith("@") or addr.endswith("@") or " " in addr:
        raise SettingsError(f"{name} must be an address like 'Namn <adress@domän.se>'")
    return value


def _networks(name: str, value: str) -> tuple[str, ...]:
    """Comma- or space-separated IP addresses or networks (``10.0.0.0/8``)."""
    import ipaddress

    found: list[str] = []
    for part in value.replace(",", " ").split():
        try:
            found.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise SettingsError(
                f"{name} must list IP addresses or networks such as 10.0.0.0/8, got {part!r}"
            ) from None
    return tuple(found)


def _load_or_create_secret(var_dir: Path) -> str:
    path = var_dir / "secret_key"
    if path.exists():
        secret = path.read_text(encoding="utf-8").strip()
        if len(secret) >= 32:
            return secret
    var_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.write_text(secret + "\n", encoding="utf-8")
    path.chmod(0o600)
    return secret


def documented() -> tuple[tuple[Field[object], SettingDoc], ...]:
    """Every ``Settings`` field with its :class:`SettingDoc`, in declaration order."""
    found: list[tuple[Field[object], SettingDoc]] = []
    for f in fields(Settings):
        doc = f.metadata.get("doc")
        if not isinstance(doc, SettingDoc):
            raise TypeError(f"Settings.{f.name} has no metadata=doc(...)")
        found.append((f, doc))
    return tuple(found)


def env_text(value: object) -> str:
    """``value`` as it is written in the environment (``true``, ``30``, ``a,b``, empty)."""
    if value is None or value is MISSING:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple):
        return ",".join(str(item) for item in value)
    return str(value)


class _Reader:
    """Reads a setting by its field name; variable and default come from the field."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        # Not documented(): a field merged without its doc(...) must not stop start-up;
        # tests/ops/test_docs.py fails for it instead.
        self.fields = {
            f.name: (f, doc)
            for f in fields(Settings)
            if isinstance(doc := f.metadata.get("doc"), SettingDoc)
        }

    def variable(self, attribute: str) -> str:
        return self.fields[attribute][1].variable

    def default(self, attribute: str) -> object:
        """The field's own default (``MISSING`` for one computed at start-up)."""
        return self.fields[attribute][0].default

    def text(self, attribute: str, default: str | None = None) -> str:
        if default is None:
            default = env_text(self.default(attribute))
        return _str(self.env, self.variable(attribute), default)

    def optional(self, attribute: str) -> str | None:
        return _opt(self.env, self.variable(attribute))

    def whole(self, attribute: str, minimum: int = 0) -> int:
        default = self.default(attribute)
        if not isinstance(default, int) or isinstance(default, bool):
            raise TypeError(f"Settings.{attribute} has no whole-number default")
        return _int(self.env, self.variable(attribute), default, minimum=minimum)

    def number(self, attribute: str) -> float:
        default = self.default(attribute)
        if not isinstance(default, float):
            raise TypeError(f"Settings.{attribute} has no float default")
        return _float(self.env, self.variable(attribute), default)

    def flag(self, attribute: str) -> bool:
        default = self.default(attribute)
        if not isinstance(default, bool):
            raise TypeError(f"Settings.{attribute} has no true/false default")
        return _bool(self.env, self.variable(attribute), default)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from ``env`` (default: ``os.environ``)."""
    env = os.environ if env is None else env
    read = _Reader(env)
    mode = read.text("env").lower()
    if mode not in ENVIRONMENTS:
        raise SettingsError(f"INNAN_ENV must be one of {', '.join(ENVIRONMENTS)}, got {mode!r}")
    var_dir = Path(read.text("var_dir", str(default_var_dir())))
    database_url = _database_url(
        "INNAN_DATABASE_URL",
        read.text("database_url", f"sqlite+aiosqlite:///{var_dir / 'innanforskapet.db'}"),
    )
    base_url = _http_url("INNAN_BASE_URL", read.text("base_url"))
    secret_key = read.text("secret_key")
    if not secret_key:
        if mode == "production":
            raise SettingsError(
                "INNAN_SECRET_KEY is required when INNAN_ENV=production "
                "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        secret_key = _load_or_create_secret(var_dir)
    elif len(secret_key) < 32:
        raise SettingsError("INNAN_SECRET_KEY must be at least 32 characters long")
    if mode == "production" and not base_url.startswith("https://"):
        raise SettingsError("INNAN_BASE_URL must use https:// when INNAN_ENV=production")

    dkim_key = read.optional("dkim_key_file")
    dkim_selector = read.optional("dkim_selector")
    dkim_domain = read.optional("dkim_domain")
    if any((dkim_key, dkim_selector)) and not all((dkim_key, dkim_selector)):
        raise SettingsError(
            "INNAN_DKIM_SELECTOR and INNAN_DKIM_KEY_FILE must be set together (or neither)"
        )
    reply_to = read.optional("reply_to")
    if reply_to is not None:
        _mail_from("INNAN_REPLY_TO", reply_to)
    privacy_url = read.text("privacy_url")
    if privacy_url:
        privacy_url = _http_url("INNAN_PRIVACY_URL", privacy_url)
    log_level = read.text("log_level").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise SettingsError(
            f"INNAN_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {log_level!r}"
        )

    return Settings(
        env=mode,
        var_dir=var_dir,
        database_url=database_url,
        base_url=base_url,
        secret_key=secret_key,
        host=read.text("host"),
        port=read.whole("port", minimum=1),
        outbox_dir=Path(read.text("outbox_dir", str(var_dir / "outbox"))),
        smtp_url=_smtp_url("INNAN_SMTP_URL", read.optional("smtp_url")),
        mail_from=_mail_from("INNAN_MAIL_FROM", read.text("mail_from")),
        reply_to=reply_to,
        bounce_domain=read.optional("bounce_domain"),
        smtp_pool_size=read.whole("smtp_pool_size", minimum=1),
        smtp_recycle_after=read.whole("smtp_recycle_after", minimum=1),
        smtp_timeout=read.number("smtp_timeout"),
        send_rate_per_second=read.number("send_rate_per_second"),
        send_rate_per_hour=read.whole("send_rate_per_hour"),
        send_max_attempts=read.whole("send_max_attempts", minimum=1),
        send_batch_size=read.whole("send_batch_size", minimum=1),
        dkim_selector=dkim_selector,
        dkim_domain=dkim_domain,
        dkim_key_file=Path(dkim_key) if dkim_key else None,
        run_workers=read.flag("run_workers"),
        bounce_threshold=read.whole("bounce_threshold", minimum=1),
        bounce_mailbox_url=read.optional("bounce_mailbox_url"),
        bounce_mailbox_allow_plaintext=read.flag("bounce_mailbox_allow_plaintext"),
        org_name=read.text("org_name"),
        org_address=read.text("org_address"),
        privacy_url=privacy_url,
        embed_origins=_origins("INNAN_EMBED_ORIGINS", read.text("embed_origins")),
        trusted_proxies=_networks("INNAN_TRUSTED_PROXIES", read.text("trusted_proxies")),
        media_dir=Path(read.text("media_dir", str(var_dir / "media"))),
        max_upload_bytes=read.whole("max_upload_bytes", minimum=1024),
        max_body_bytes=read.whole("max_body_bytes", minimum=1024),
        signup_ip_per_hour=read.whole("signup_ip_per_hour", minimum=1),
        signup_global_per_hour=read.whole("signup_global_per_hour", minimum=1),
        registration_ip_per_hour=read.whole("registration_ip_per_hour", minimum=1),
        registration_global_per_hour=read.whole("registration_global_per_hour", minimum=1),
        login_attempts_per_15min=read.whole("login_attempts_per_15min", minimum=1),
        unconfirmed_days=read.whole("unconfirmed_days", minimum=1),
        unsubscribed_days=read.whole("unsubscribed_days", minimum=1),
        bounced_days=read.whole("bounced_days", minimum=1),
        mail_log_days=read.whole("mail_log_days", minimum=1),
        outbox_keep_days=read.whole("outbox_keep_days", minimum=1),
        log_level=log_level,
    )
