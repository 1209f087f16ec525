"""Domain errors: one type per kind of failure, mapped centrally to HTTP in ``service.app``.

Messages are Swedish, because they are shown to subscribers and editors as they are.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every expected failure. ``message`` is shown to the user (Swedish)."""

    status_code = 400

    def __init__(self, message: str, *, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class ValidationFailed(DomainError):
    """Input was rejected; ``fields`` maps a field name to what was wrong with it."""

    status_code = 422


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class Forbidden(DomainError):
    status_code = 403


class RateLimited(DomainError):
    """Too many attempts; ``retry_after`` is how many seconds until the window has passed
    (sent as ``Retry-After``)."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Gone(DomainError):
    """A link that has expired or was already used."""

    status_code = 410
