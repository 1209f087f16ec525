"""HTTP side of delivery: the in-process worker/scheduler lifespan hook (``make run``)."""

from __future__ import annotations

from service.delivery.runner import in_app
from service.settings import Settings
from service.web import Contribution


def contribute(settings: Settings) -> Contribution:
    return Contribution(lifespan=[in_app] if settings.run_workers else [])
