"""VERP return paths: ``bounce+TOKEN@domain`` where TOKEN is the delivery id and its HMAC."""

from __future__ import annotations

import hmac

from service.security.fasthmac import PreparedHmac
from service.settings import Settings

PURPOSE = "verp"


def bounce_domain(settings: Settings) -> str:
    return settings.bounce_domain or settings.mail_domain


class ReturnPaths:
    """``bounce+<id>-<80-bit HMAC>@domain``: short, cheap, unforgeable, case-insensitive.

    Build one per worker: the key and the domain (parsed from ``mail_from``) are prepared
    once, so an address costs about a microsecond.
    """

    def __init__(self, settings: Settings) -> None:
        self._hmac = PreparedHmac(settings.secret_key.encode(), "sha256")
        self.domain = bounce_domain(settings)

    def mac(self, delivery_id: int) -> str:
        return self._hmac.digest(f"{PURPOSE}:{delivery_id}".encode()).hex()[:20]

    def address(self, delivery_id: int) -> str:
        return f"bounce+{delivery_id}-{self.mac(delivery_id)}@{self.domain}"


def _mac(settings: Settings, delivery_id: int) -> str:
    return ReturnPaths(settings).mac(delivery_id)


def return_path(settings: Settings, delivery_id: int) -> str:
    return ReturnPaths(settings).address(delivery_id)


def delivery_of(settings: Settings, address: str) -> int | None:
    """The delivery id in a VERP address, or None when it is not ours or forged."""
    local = address.strip().strip("<>").rsplit("@", 1)[0]
    if not local.lower().startswith("bounce+"):
        return None
    raw_id, _, mac = local[len("bounce+") :].partition("-")
    if not raw_id.isdigit() or not hmac.compare_digest(mac.lower(), _mac(settings, int(raw_id))):
        return None
    return int(raw_id)
