"""Settings: built once from the environment and passed to everything that needs them.

Every setting is an ``INNAN_*`` environment variable, documented in README.md and
``deploy/env.example``. A bad or missing value stops start-up with a
:class:`SettingsError` naming the variable.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
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


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    var_dir: Path = field(default_factory=default_var_dir)
    database_url: str = ""
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    # Mail
    outbox_dir: Path = field(default_factory=lambda: default_var_dir() / "outbox")
    smtp_url: str | None = None
    mail_from: str = "Innanförskapet <nyhetsbrev@innanforskapet.localhost>"
    reply_to: str | None = None
    bounce_domain: str | None = None
    smtp_pool_size: int = 4
    smtp_recycle_after: int = 500
    smtp_timeout: float = 30.0
    send_rate_per_second: float = 0.0  # 0 = unlimited
    send_rate_per_hour: int = 0  # 0 = unlimited
    send_max_attempts: int = 5
    send_batch_size: int = 200
    dkim_selector: str | None = None
    dkim_domain: str | None = None
    dkim_key_file: Path | None = None
    run_workers: bool = True
    bounce_threshold: int = 1
    bounce_mailbox_url: str | None = None  # imaps://user:pw@host/INBOX or pop3s://… (bounces poll)
    # imap:// and pop3:// to a server without STARTTLS on another host: refused unless set
    bounce_mailbox_allow_plaintext: bool = False
    # Organisation shown in mails and pages
    org_name: str = "Samordningsförbundet i Halland"
    org_address: str = "Storgatan 6, 302 43 Halmstad"
    privacy_url: str = ""
    # Origins besides this service that may frame the signup form /prenumerera/inbaddning
    embed_origins: tuple[str, ...] = ()
    # Reverse proxies whose X-Forwarded-For/-Proto is believed (addresses or networks):
    # the client address that signup and login limits count by comes from them.
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    # Media
    media_dir: Path = field(default_factory=lambda: default_var_dir() / "media")
    max_upload_bytes: int = 5 * 1024 * 1024
    # Abuse limits
    max_body_bytes: int = 64 * 1024
    signup_ip_per_hour: int = 20
    signup_global_per_hour: int = 1000
    login_attempts_per_15min: int = 10
    # Retention (days)
    unconfirmed_days: int = 7
    unsubscribed_days: int = 30
    bounced_days: int = 90
    mail_log_days: int = 30  # finished rows of the transactional mail queue
    outbox_keep_days: int = 7  # .eml files of the outbox transport (development)
    log_level: str = "INFO"

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


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from ``env`` (default: ``os.environ``)."""
    env = os.environ if env is None else env
    mode = _str(env, "INNAN_ENV", "development").lower()
    if mode not in ENVIRONMENTS:
        raise SettingsError(f"INNAN_ENV must be one of {', '.join(ENVIRONMENTS)}, got {mode!r}")
    var_dir = Path(_str(env, "INNAN_VAR_DIR", str(default_var_dir())))
    database_url = _database_url(
        "INNAN_DATABASE_URL",
        _str(env, "INNAN_DATABASE_URL", f"sqlite+aiosqlite:///{var_dir / 'innanforskapet.db'}"),
    )
    base_url = _http_url("INNAN_BASE_URL", _str(env, "INNAN_BASE_URL", "http://127.0.0.1:8000"))
    secret_key = _str(env, "INNAN_SECRET_KEY", "")
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

    dkim_key = _opt(env, "INNAN_DKIM_KEY_FILE")
    dkim_selector = _opt(env, "INNAN_DKIM_SELECTOR")
    dkim_domain = _opt(env, "INNAN_DKIM_DOMAIN")
    if any((dkim_key, dkim_selector)) and not all((dkim_key, dkim_selector)):
        raise SettingsError(
            "INNAN_DKIM_SELECTOR and INNAN_DKIM_KEY_FILE must be set together (or neither)"
        )
    reply_to = _opt(env, "INNAN_REPLY_TO")
    if reply_to is not None:
        _mail_from("INNAN_REPLY_TO", reply_to)
    privacy_url = _str(env, "INNAN_PRIVACY_URL", "")
    if privacy_url:
        privacy_url = _http_url("INNAN_PRIVACY_URL", privacy_url)
    log_level = _str(env, "INNAN_LOG_LEVEL", "INFO").upper()
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
        host=_str(env, "INNAN_HOST", "127.0.0.1"),
        port=_int(env, "INNAN_PORT", 8000, minimum=1),
        outbox_dir=Path(_str(env, "INNAN_OUTBOX_DIR", str(var_dir / "outbox"))),
        smtp_url=_smtp_url("INNAN_SMTP_URL", _opt(env, "INNAN_SMTP_URL")),
        mail_from=_mail_from(
            "INNAN_MAIL_FROM",
            _str(env, "INNAN_MAIL_FROM", "Innanförskapet <nyhetsbrev@innanforskapet.localhost>"),
        ),
        reply_to=reply_to,
        bounce_domain=_opt(env, "INNAN_BOUNCE_DOMAIN"),
        smtp_pool_size=_int(env, "INNAN_SMTP_POOL_SIZE", 4, minimum=1),
        smtp_recycle_after=_int(env, "INNAN_SMTP_RECYCLE_AFTER", 500, minimum=1),
        smtp_timeout=_float(env, "INNAN_SMTP_TIMEOUT", 30.0),
        send_rate_per_second=_float(env, "INNAN_SEND_RATE_PER_SECOND", 0.0),
        send_rate_per_hour=_int(env, "INNAN_SEND_RATE_PER_HOUR", 0),
        send_max_attempts=_int(env, "INNAN_SEND_MAX_ATTEMPTS", 5, minimum=1),
        send_batch_size=_int(env, "INNAN_SEND_BATCH_SIZE", 200, minimum=1),
        dkim_selector=dkim_selector,
        dkim_domain=dkim_domain,
        dkim_key_file=Path(dkim_key) if dkim_key else None,
        run_workers=_bool(env, "INNAN_RUN_WORKERS", True),
        bounce_threshold=_int(env, "INNAN_BOUNCE_THRESHOLD", 1, minimum=1),
        bounce_mailbox_url=_opt(env, "INNAN_BOUNCE_MAILBOX_URL"),
        bounce_mailbox_allow_plaintext=_bool(env, "INNAN_BOUNCE_MAILBOX_ALLOW_PLAINTEXT", False),
        org_name=_str(env, "INNAN_ORG_NAME", "Samordningsförbundet i Halland"),
        org_address=_str(env, "INNAN_ORG_ADDRESS", "Storgatan 6, 302 43 Halmstad"),
        privacy_url=privacy_url,
        embed_origins=_origins("INNAN_EMBED_ORIGINS", _str(env, "INNAN_EMBED_ORIGINS", "")),
        trusted_proxies=_networks(
            "INNAN_TRUSTED_PROXIES", _str(env, "INNAN_TRUSTED_PROXIES", "127.0.0.1,::1")
        ),
        media_dir=Path(_str(env, "INNAN_MEDIA_DIR", str(var_dir / "media"))),
        max_upload_bytes=_int(env, "INNAN_MAX_UPLOAD_BYTES", 5 * 1024 * 1024, minimum=1024),
        max_body_bytes=_int(env, "INNAN_MAX_BODY_BYTES", 64 * 1024, minimum=1024),
        signup_ip_per_hour=_int(env, "INNAN_SIGNUP_IP_PER_HOUR", 20, minimum=1),
        signup_global_per_hour=_int(env, "INNAN_SIGNUP_GLOBAL_PER_HOUR", 1000, minimum=1),
        login_attempts_per_15min=_int(env, "INNAN_LOGIN_ATTEMPTS_PER_15MIN", 10, minimum=1),
        unconfirmed_days=_int(env, "INNAN_UNCONFIRMED_DAYS", 7, minimum=1),
        unsubscribed_days=_int(env, "INNAN_UNSUBSCRIBED_DAYS", 30, minimum=1),
        bounced_days=_int(env, "INNAN_BOUNCED_DAYS", 90, minimum=1),
        mail_log_days=_int(env, "INNAN_MAIL_LOG_DAYS", 30, minimum=1),
        outbox_keep_days=_int(env, "INNAN_OUTBOX_KEEP_DAYS", 7, minimum=1),
        log_level=log_level,
    )
