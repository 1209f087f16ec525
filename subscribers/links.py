"""Signed per-subscriber links that go into every mail.

The token carries ``[subscriber_id, token_version]`` signed with HMAC (itsdangerous);
bumping ``Subscriber.token_version`` invalidates every link handed out before.
"""

from __future__ import annotations

from service.security.signing import sign, unsign
from service.settings import Settings
from subscribers.models import Subscriber

PREFS_PURPOSE = "prefs"
UNSUBSCRIBE_PURPOSE = "unsubscribe"


def preference_token(settings: Settings, subscriber_id: int, token_version: int) -> str:
    return sign(settings.secret_key, PREFS_PURPOSE, [subscriber_id, token_version])


def unsubscribe_token(settings: Settings, subscriber_id: int, token_version: int) -> str:
    return sign(settings.secret_key, UNSUBSCRIBE_PURPOSE, [subscriber_id, token_version])


def read_token(settings: Settings, purpose: str, token: str) -> tuple[int, int]:
    """``(subscriber_id, token_version)``; raises NotFound (Swedish) if the link is forged."""
    data = unsign(settings.secret_key, purpose, token)
    subscriber_id, version = int(data[0]), int(data[1])
    return subscriber_id, version


def preference_url(settings: Settings, subscriber_id: int, token_version: int) -> str:
    return settings.url(
        f"/installningar/{preference_token(settings, subscriber_id, token_version)}"
    )


def unsubscribe_url(settings: Settings, subscriber_id: int, token_version: int) -> str:
    return settings.url(
        f"/avregistrera/{unsubscribe_token(settings, subscriber_id, token_version)}"
    )


def unsubscribe_mailto(settings: Settings, subscriber_id: int, token_version: int) -> str:
    """mailto: target for List-Unsubscribe, handled by the inbound bounce/command listener."""
    token = unsubscribe_token(settings, subscriber_id, token_version)
    domain = settings.bounce_domain or settings.mail_domain
    return f"mailto:unsubscribe@{domain}?subject=unsubscribe%20{token}"


def links_for(settings: Settings, subscriber: Subscriber) -> dict[str, str]:
    return {
        "prefs_url": preference_url(settings, subscriber.id, subscriber.token_version),
        "unsubscribe_url": unsubscribe_url(settings, subscriber.id, subscriber.token_version),
        "unsubscribe_mailto": unsubscribe_mailto(settings, subscriber.id, subscriber.token_version),
    }
