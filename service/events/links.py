"""The links in registration mails: the single-use confirmation link (only its hash is
stored) and the signed personal link to view, change or cancel a registration.

The personal link carries ``[registration_id, manage_version]`` signed with HMAC;
bumping ``Registration.manage_version`` (:func:`service.events.service.revoke_links`)
makes every link handed out before unusable. The paths are the ones the web layer
serves (``/evenemang/anmalan/...``).
"""

from __future__ import annotations

from service.security.signing import sign, unsign
from service.settings import Settings

MANAGE_PURPOSE = "registration"
CONFIRM_PATH = "/evenemang/anmalan/bekrafta/"
MANAGE_PATH = "/evenemang/anmalan/"


def manage_token(settings: Settings, registration_id: int, version: int) -> str:
    return sign(settings.secret_key, MANAGE_PURPOSE, [registration_id, version])


def read_manage_token(settings: Settings, token: str) -> tuple[int, int]:
    """``(registration_id, version)``; NotFound (Swedish) for a forged or garbled link."""
    data = unsign(settings.secret_key, MANAGE_PURPOSE, token)
    return int(data[0]), int(data[1])


def manage_url(settings: Settings, registration_id: int, version: int) -> str:
    return settings.url(MANAGE_PATH + manage_token(settings, registration_id, version))


def confirm_url(settings: Settings, raw_token: str) -> str:
    return settings.url(CONFIRM_PATH + raw_token)
