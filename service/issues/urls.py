"""Public URLs of an issue (the archive page is also the "Visa i webbläsaren" target)."""

from __future__ import annotations

from datetime import date

from service.settings import Settings


def archive_path(issue_date: date, slug: str) -> str:
    return f"/arkiv/{issue_date.year}/{slug}"


def archive_url(settings: Settings, issue_date: date, slug: str) -> str:
    return settings.url(archive_path(issue_date, slug))
