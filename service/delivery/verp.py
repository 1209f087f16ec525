"""VERP return paths: ``bounce+TOKEN@domain`` where TOKEN is the delivery id and its HMAC."""

from __future__ import annotations

import hashlib
import hmac

from service.settings import Settings

PURPOSE = "verp"


def _mac(settings: Settings, delivery_id: int) -> str:
    digest = hmac.new(
        settings.secret_key.encode(), f"{PURPOSE}:{delivery_id}".encode(), hashlib.sha256
    )
    return digest.hexdigest()[:20]


def bounce_domain(settings: Settings) -> str:
    return settings.bounce_domain or settings.mail_domain


def return_path(settings: Settings, delivery_id: int, domain: str | None = None) -> str:
    """``bounce+<id>-<80-bit HMAC>@domain``: short, cheap, unforgeable, case-insensitive."""
    domain = domain or bounce_domain(settings)
    return f"bounce+{delivery_id}-{_mac(settings, delivery_id)}@{domain}"


def delivery_of(settings: Settings, address: str) -> int | None:
    """The delivery id in a VERP address, or None when it is not ours or forged."""
    local = address.strip().strip("<>").rsplit("@", 1)[0]
    if not local.lower().startswith("bounce+"):
        return None
    raw_id, _, mac = local[len("bounce+") :].partition("-")
    if not raw_id.isdigit() or not hmac.compare_digest(mac.lower(), _mac(settings, int(raw_id))):
        return None
    return int(raw_id)
