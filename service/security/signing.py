"""Signed links (HMAC via itsdangerous), keyed address hashes and token hashing."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

from service.errors import Gone, NotFound


def _serializer(secret_key: str, purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=f"innanforskapet:{purpose}")


def sign(secret_key: str, purpose: str, data: Any) -> str:
    """A URL-safe signed token carrying ``data`` that never expires (e.g. preference links)."""
    return str(_serializer(secret_key, purpose).dumps(data))


def unsign(secret_key: str, purpose: str, token: str) -> Any:
    """The data in ``token``; raises :class:`NotFound` when the signature does not hold."""
    try:
        return _serializer(secret_key, purpose).loads(token)
    except BadSignature:
        raise NotFound("Länken är ogiltig. Kontrollera att du har kopierat hela länken.") from None


def sign_timed(secret_key: str, purpose: str, data: Any) -> str:
    return str(URLSafeTimedSerializer(secret_key, salt=f"innanforskapet:{purpose}").dumps(data))


def unsign_timed(secret_key: str, purpose: str, token: str, max_age_seconds: int) -> Any:
    serializer = URLSafeTimedSerializer(secret_key, salt=f"innanforskapet:{purpose}")
    try:
        return serializer.loads(token, max_age=max_age_seconds)
    except SignatureExpired:
        raise Gone("Länken har slutat gälla.") from None
    except BadSignature:
        raise NotFound("Länken är ogiltig. Kontrollera att du har kopierat hela länken.") from None


def address_hmac(secret_key: str, normalised_address: str) -> str:
    """HMAC-SHA256 of a normalised address: what the suppression list keeps instead of it."""
    return hmac.new(
        secret_key.encode(), normalised_address.encode("utf-8"), hashlib.sha256
    ).hexdigest()


def new_token(nbytes: int = 24) -> str:
    return secrets.token_urlsafe(nbytes)


def hash_token(token: str) -> str:
    """SHA-256 of a random token; tokens are stored only in this form."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
