"""DKIM signing (dkimpy): the one place every outgoing mail is signed, when configured.

Newsletters are signed per recipient by the delivery worker (``IssueTemplate.wire``);
every mail of the transactional queue is signed by the outbound worker just before it is
handed to the transport. Both use :class:`DkimSigner`.
"""

from __future__ import annotations

from service.settings import Settings


class DkimSigner:
    """DKIM signing of per-recipient bytes (dkimpy), only when configured."""

    HEADERS = (
        b"from",
        b"to",
        b"subject",
        b"date",
        b"message-id",
        b"list-id",
        b"list-unsubscribe",
        b"list-unsubscribe-post",
        b"mime-version",
        b"content-type",
    )

    def __init__(self, selector: str, domain: str, key: bytes) -> None:
        self.selector = selector.encode("ascii")
        self.domain = domain.encode("ascii")
        self.key = key

    @classmethod
    def from_settings(cls, settings: Settings) -> DkimSigner | None:
        if not (settings.dkim_selector and settings.dkim_key_file):
            return None
        domain = settings.dkim_domain or settings.mail_domain
        return cls(settings.dkim_selector, domain, settings.dkim_key_file.read_bytes())

    def sign(self, message: bytes) -> bytes:
        """The ``DKIM-Signature:`` header (ending in CRLF) for ``message``."""
        import dkim

        signature: bytes = dkim.sign(
            message,
            self.selector,
            self.domain,
            self.key,
            include_headers=list(self.HEADERS),
            linesep=b"\r\n",
        )
        return signature


def signed(message: bytes, signer: DkimSigner | None) -> bytes:
    """``message`` with its DKIM-Signature header first (unchanged without a signer)."""
    return message if signer is None else signer.sign(message) + message
