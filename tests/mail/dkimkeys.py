"""A real DKIM key pair for tests (openssl), and a verifier that reads its DNS record."""

from __future__ import annotations

import base64
import subprocess
from dataclasses import dataclass
from pathlib import Path

SELECTOR = "nyhet"
DOMAIN = "innanforskapet.test"


@dataclass(frozen=True)
class DkimKey:
    path: Path
    record: bytes  # the TXT record at SELECTOR._domainkey.DOMAIN

    def env(self) -> dict[str, str]:
        """The settings that make the service sign with this key."""
        return {
            "INNAN_DKIM_SELECTOR": SELECTOR,
            "INNAN_DKIM_DOMAIN": DOMAIN,
            "INNAN_DKIM_KEY_FILE": str(self.path),
        }

    def verifies(self, message: bytes) -> bool:
        import dkim

        def dns(name: bytes, timeout: int = 5) -> bytes:
            assert name == f"{SELECTOR}._domainkey.{DOMAIN}.".encode()
            return self.record

        return bool(dkim.verify(message, dnsfunc=dns))


def make_key(directory: Path) -> DkimKey:
    key = directory / "dkim.pem"
    subprocess.run(
        ["openssl", "genrsa", "-traditional", "-out", str(key), "2048"],
        check=True,
        capture_output=True,
    )
    der = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return DkimKey(path=key, record=b"v=DKIM1; k=rsa; p=" + base64.b64encode(der))
