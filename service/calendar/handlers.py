"""HTTP handlers of this domain (none yet)."""

from __future__ import annotations

from service.settings import Settings
from service.web import Contribution


def contribute(settings: Settings) -> Contribution:
    return Contribution()
