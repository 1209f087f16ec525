"""Render benchmark: the August 2019 issue rendered once (MJML → HTML + text) versus
per-recipient personalisation for 10 000 recipients: ``IssueTemplate.wire``, the DATA
bytes the delivery worker sends (the template is built once, as the worker does).

Uses its own temporary SQLite database (migrated, demo data loaded) and removes it.
Target: personalisation at least 100× cheaper than a full render.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from service.db import create_engine, create_session_factory, session_scope
from service.demo import load_all
from service.issues.demo import AUGUST_SLUG
from service.issues.message import IssueTemplate, Personal
from service.issues.models import Issue
from service.issues.render import RenderedIssue, render_issue
from service.migrate import upgrade
from service.settings import Settings, load_settings

RENDERS = 50
RECIPIENTS = 10_000


async def _run(settings: Settings) -> tuple[float, float, RenderedIssue]:
    engine = create_engine(settings.database_url)
    try:
        factory = create_session_factory(engine)
        async with session_scope(factory) as session:
            await load_all(session, settings)
        async with session_scope(factory) as session:
            issue_id = await session.scalar(select(Issue.id).where(Issue.slug == AUGUST_SLUG))
            assert issue_id is not None
            rendered = await render_issue(session, settings, issue_id)  # warm-up
            started = time.perf_counter()
            for _ in range(RENDERS):
                rendered = await render_issue(session, settings, issue_id)
            render_us = (time.perf_counter() - started) / RENDERS * 1e6
    finally:
        await engine.dispose()

    names = [f"Mottagare {i} Åsa & Co" if i % 3 else "" for i in range(RECIPIENTS)]
    template = IssueTemplate.build(settings, rendered.mail_source)
    started = time.perf_counter()
    for i, name in enumerate(names):
        template.wire(
            Personal(
                to=f"mottagare{i}@example.se",
                message_id=f"<bench.{i}@innanforskapet.example.se>",
                unsubscribe_url=f"{settings.base_url}/avregistrera/token{i:08d}.abcdefghijklmnop",
                unsubscribe_mailto=f"mailto:unsubscribe@example.se?subject=unsubscribe%20t{i}",
                name=name,
                prefs_url=f"{settings.base_url}/installningar/token{i:08d}.abcdefghijklmnop",
            )
        )
    personalise_us = (time.perf_counter() - started) / RECIPIENTS * 1e6
    return render_us, personalise_us, rendered


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="innan-bench-render-") as tmp:
        var_dir = Path(tmp)
        settings = load_settings(
            {
                "INNAN_ENV": "test",
                "INNAN_VAR_DIR": str(var_dir),
                "INNAN_SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
                "INNAN_BASE_URL": "https://innanforskapet.example.se",
            }
        )
        upgrade(settings.database_url)
        render_us, personalise_us, rendered = asyncio.run(_run(settings))
    print(
        f"issue: {AUGUST_SLUG} (HTML {len(rendered.html) / 1024:.1f} KiB, "
        f"text {len(rendered.text) / 1024:.1f} KiB)"
    )
    print(f"full render (MJML→HTML + text + web), mean of {RENDERS}: {render_us:,.0f} µs")
    print(f"personalisation, {RECIPIENTS:,} recipients: {personalise_us:,.1f} µs per recipient")
    ratio = render_us / personalise_us
    verdict = "OK" if ratio >= 100 else "BELOW TARGET"
    print(f"ratio render/personalise: {ratio:,.0f}× (target ≥ 100×: {verdict})")


if __name__ == "__main__":
    main()
