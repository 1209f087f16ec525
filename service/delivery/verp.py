"""VERP return paths: ``bounce+TOKEN@domain`` where TOKEN is the signed delivery id."""

from __future__ import annotations

from service.errors import NotFound
from service.security.signing import sign, unsign
from service.settings import Settings

PURPOSE = "verp"


def bounce_domain(settings: Settings) -> str:
    return settings.bounce_domain or settings.mail_domain


def return_path(settings: Settings, delivery_id: int) -> str:
    return f"bounce+{sign(settings.secret_key, PURPOSE, delivery_id)}@{bounce_domain(settings)}"


def delivery_of(settings: Settings, address: str) -> int | None:
    """The delivery id in a VERP address, or None when it is not ours or forged."""
    local = address.strip().strip("<>").rsplit("@", 1)[0]
    if not local.lower().startswith("bounce+"):
        return None
    try:
        return int(unsign(settings.secret_key, PURPOSE, local[len("bounce+") :]))
    except (NotFound, ValueError, TypeError):
        return None
