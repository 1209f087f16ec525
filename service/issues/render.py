"""Rendering an issue: blocks → ONE MJML document → HTML (mjml-python), plus a text part.

Rendering happens once per issue; the output keeps the per-recipient placeholders of
:mod:`service.issues.placeholders`, which :mod:`service.issues.message` fills per
recipient (real sends, test sends and previews alike).
The MJML templates live in ``templates/mail/issue/`` (Jinja, autoescaped); Markdown
bodies go through :func:`service.issues.markdown.render_markdown` (sanitised).

Accessibility: ``<html lang="sv">``, ``role="presentation"`` on every layout table
(mjml-python sets it; any table without a role gets it here), one ``<h1>`` title and
``<h2>``/``<h3>`` block headings, alt text on every image, and a palette whose text
colours reach a WCAG contrast of at least 4.5:1 (see :data:`PALETTE`).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import jinja2
import mjml
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.calendar.models import CalendarItem
from service.core.dates import format_date, format_deadline, format_when
from service.db import is_row_id
from service.errors import NotFound, ValidationFailed
from service.issues import placeholders
from service.issues.markdown import render_markdown
from service.issues.message import MailSource, subject_of
from service.issues.models import Issue, IssueList
from service.issues.text import render_text
from service.issues.urls import archive_url
from service.public_calendar import notes_for
from service.settings import TEMPLATES_DIR, Settings
from subscribers.models import MailingList

ISSUE_TEMPLATES = TEMPLATES_DIR / "mail" / "issue"
DEFAULT_LIST_SLUG = "nyhetsbrev"

# Mail colours. Every text/background pair used reaches WCAG 2.1 contrast ≥ 4.5:1
# (checked by tests/issues/test_render.py::test_palette_contrast).
PALETTE = {
    "page": "#f3f5f7",
    "background": "#ffffff",
    "text": "#1f2328",
    "heading": "#0b3d5c",
    "link": "#0a5a8c",
    "muted": "#545b62",
    "rule": "#c4ccd3",
    "header": "#0b3d5c",
    "header_text": "#ffffff",
    "button": "#0a5a8c",
    "button_text": "#ffffff",
    "notice": "#eef4f8",
    "notice_rule": "#0a5a8c",
    "footer": "#e9edf0",
    "footer_text": "#2f353b",
    "footer_link": "#0a4d78",
}
# (foreground, background) pairs of text actually shown.
CONTRAST_PAIRS = (
    ("text", "background"),
    ("heading", "background"),
    ("link", "background"),
    ("muted", "background"),
    ("text", "notice"),
    ("heading", "notice"),
    ("link", "notice"),
    ("header_text", "header"),
    ("button_text", "button"),
    ("footer_text", "footer"),
    ("footer_link", "footer"),
)


@dataclass(frozen=True)
class RenderedIssue:
    """One issue rendered once. ``html``/``text`` keep the per-recipient placeholders.

    ``web_html`` is a semantic fragment for the archive page (starts with
    ``<article class="issue">`` holding the ``<h1>`` title and date; no greeting, no
    placeholders, footer without preference/unsubscribe links).
    """

    issue_id: int
    subject: str
    preheader: str
    html: str
    text: str
    web_html: str
    slug: str = ""
    issue_date: date | None = None
    archive_url: str = ""
    list_slug: str = DEFAULT_LIST_SLUG
    list_name: str = ""

    @property
    def mail_source(self) -> MailSource:
        """What :class:`~service.issues.message.IssueTemplate` builds the mail from."""
        return MailSource(
            issue_id=self.issue_id,
            slug=self.slug,
            subject=self.subject,
            text=self.text,
            html=self.html,
            list_slug=self.list_slug,
            list_name=self.list_name,
        )


@functools.lru_cache(maxsize=8)
def _environment(directory: str) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
    )


def _absolute(settings: Settings, url: str) -> str:
    if url.startswith("/") and not url.startswith("//"):
        return settings.url(url)
    return url


def _is_web_url(url: str) -> bool:
    return url.lower().startswith(("https://", "http://"))


def _is_link_url(url: str) -> bool:
    return _is_web_url(url) or url.lower().startswith("mailto:")


def _text(data: dict[str, Any], key: str, default: str = "") -> str:
    value = data.get(key)
    return default if value is None else str(value).strip() or default


def _inert(value: Any) -> Any:
    """Editor content cannot contain working placeholders: personal values appear only
    where the templates put them (an invisible word joiner breaks ``%%INNAN_``)."""
    if isinstance(value, str):
        return value.replace("%%INNAN_", "%%\u2060INNAN_")
    if isinstance(value, dict):
        return {k: _inert(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_inert(v) for v in value]
    return value


def intro_paragraphs(text: str) -> list[str]:
    """An intro's plain text as paragraphs: split at blank lines, lines joined by spaces."""
    return [" ".join(part.split()) for part in re.split(r"\n\s*\n", text) if part.strip()]


def privacy_url(settings: Settings) -> str:
    return settings.privacy_url or settings.url("/integritet")


async def _calendar_items(
    session: AsyncSession, issue: Issue, data: dict[str, Any]
) -> list[CalendarItem]:
    if data.get("mode") == "selected":
        ids = [int(i) for i in data.get("item_ids") or [] if str(i).lstrip("-").isdigit()]
        ids = [i for i in ids if is_row_id(i)]
        if not ids:
            return []
        rows = (await session.scalars(select(CalendarItem).where(CalendarItem.id.in_(ids)))).all()
        by_id = {row.id: row for row in rows}
        return [by_id[i] for i in ids if i in by_id]
    try:
        limit = max(1, min(20, int(data.get("limit") or 5)))
    except (TypeError, ValueError, OverflowError):
        limit = 5
    query = (
        select(CalendarItem)
        .where(CalendarItem.start_date >= issue.issue_date)
        .order_by(CalendarItem.start_date, CalendarItem.starts_at, CalendarItem.id)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def _block_views(
    session: AsyncSession, settings: Settings, issue: Issue
) -> list[dict[str, Any]]:
    views: list[dict[str, Any]] = []
    in_section = False
    for block in issue.blocks:
        data: dict[str, Any] = _inert(block.data or {})
        kind = block.kind
        view: dict[str, Any] = {"kind": kind, "id": block.id, "level": 3 if in_section else 2}
        if kind == "heading":
            in_section = True
            view.update(level=2, text=_text(data, "text"))
        elif kind == "intro":
            paragraphs = intro_paragraphs(str(data.get("body") or ""))
            if not paragraphs:
                continue
            view.update(paragraphs=paragraphs)
        elif kind in ("article", "notice", "cta"):
            body = str(data.get("body") or "")
            view.update(
                heading=_text(data, "heading"),
                body=body,
                body_html=Markup(  # noqa: S704 - sanitised by nh3
                    render_markdown(body, top_level=view["level"] + 1)
                ),
            )
            if kind == "article":
                view.update(image=None, link=None)
                image = data.get("image") or None
                if isinstance(image, dict) and image.get("src"):
                    src = _absolute(settings, str(image["src"]))
                    if _is_web_url(src):
                        view["image"] = {
                            "src": src,
                            "alt": _text(image, "alt"),
                            "caption": _text(image, "caption"),
                            "width": None,
                        }
                link = data.get("link") or None
                if isinstance(link, dict) and _is_link_url(str(link.get("url") or "")):
                    view["link"] = {
                        "url": str(link["url"]).strip(),
                        "label": _text(link, "label", "Läs mer"),
                    }
            if kind == "cta":
                url = str(data.get("button_url") or "").strip()
                if not _is_web_url(url):
                    raise ValidationFailed(
                        "Knappens länk måste vara en webbadress som börjar med https://.",
                        fields={"button_url": "Ange en adress som börjar med https://."},
                    )
                view.update(button_url=url, button_label=_text(data, "button_label", "Läs mer"))
        elif kind == "calendar":
            items = await _calendar_items(session, issue, data)
            # An item that takes registrations links to its form ("Anmäl dig").
            notes = await notes_for(session, [item.id for item in items])
            view.update(
                heading=_text(data, "heading", "Kalendarium"),
                items=[
                    {
                        "when": format_when(item, reference=issue.issue_date),
                        "title": _inert(item.title),
                        "place": _inert(item.place),
                        "link": item.link if _is_link_url(item.link or "") else "",
                        "notes": [
                            {"url": settings.url(n.mail_href), "label": _inert(n.mail_label)}
                            for n in notes.get(item.id, [])
                            if n.mail_href
                        ],
                        "deadline": (
                            format_deadline(item.registration_deadline, reference=issue.issue_date)
                            if item.registration_deadline
                            else ""
                        ),
                    }
                    for item in items
                ],
            )
        elif kind == "divider":
            pass
        else:
            continue  # unknown kinds are never rendered
        views.append(view)
    return views


async def target_list(session: AsyncSession, issue_id: int) -> tuple[str, str]:
    """``(slug, name)`` of the list an issue's mail is sent on behalf of (List-Id,
    Feedback-ID): its first list in the lists' order, else the default list."""
    row = (
        await session.execute(
            select(MailingList.slug, MailingList.name)
            .join(IssueList, IssueList.list_id == MailingList.id)
            .where(IssueList.issue_id == issue_id)
            .order_by(MailingList.sort_order, MailingList.id)
            .limit(1)
        )
    ).first()
    if row is None:
        row = (
            await session.execute(
                select(MailingList.slug, MailingList.name).where(
                    MailingList.slug == DEFAULT_LIST_SLUG
                )
            )
        ).first()
    if row is None:
        return DEFAULT_LIST_SLUG, "Innanförskapet"
    return str(row[0]), str(row[1])


_TABLE_WITHOUT_ROLE = re.compile(r"<table(?![^>]*\brole=)", re.IGNORECASE)


def _postprocess(html: str) -> str:
    """Accessibility fixes applied once per issue to mjml-python's output."""
    html = _TABLE_WITHOUT_ROLE.sub('<table role="presentation"', html)
    if '<html lang="sv"' not in html:
        html = re.sub(r"<html(?![^>]*\blang=)", '<html lang="sv"', html, count=1)
    return html


def mjml_to_html(source: str) -> str:
    """HTML for an MJML document; invalid MJML raises ValidationFailed (Swedish)."""
    try:
        html = mjml.mjml2html(source)
    except (ValueError, RuntimeError) as exc:
        raise ValidationFailed(
            f"Nyhetsbrevet kunde inte byggas: mallen är inte giltig MJML ({exc})."
        ) from None
    unknown = re.search(r"<(mj-[a-z-]+)", html)
    if unknown:
        raise ValidationFailed(
            "Nyhetsbrevet kunde inte byggas: mallen innehåller en okänd "
            f"MJML-komponent ({unknown.group(1)})."
        )
    return _postprocess(html)


def build_context(settings: Settings, issue: Issue, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "issue": issue,
        "title": _inert(issue.title),
        "preheader": _inert(issue.preheader),
        "blocks": blocks,
        "c": PALETTE,
        "org_name": settings.org_name,
        "org_address": settings.org_address,
        "privacy_url": privacy_url(settings),
        "archive_url": archive_url(settings, issue.issue_date, issue.slug),
        "issue_date_text": format_date(issue.issue_date),
        "name_placeholder": placeholders.NAME,
        "prefs_placeholder": placeholders.PREFS_URL,
        "unsubscribe_placeholder": placeholders.UNSUBSCRIBE_URL,
    }


async def render_issue(
    session: AsyncSession,
    settings: Settings,
    issue_id: int,
    *,
    templates_dir: Path | None = None,
) -> RenderedIssue:
    """Render ``issue_id`` once (MJML → HTML, text, web); raises NotFound/ValidationFailed."""
    issue = await session.get(Issue, issue_id) if is_row_id(issue_id) else None
    if issue is None or issue.deleted_at is not None:
        raise NotFound("Nyhetsbrevet finns inte.")
    blocks = await _block_views(session, settings, issue)
    list_slug, list_name = await target_list(session, issue.id)
    ctx = build_context(settings, issue, blocks)
    env = _environment(str(templates_dir or ISSUE_TEMPLATES))
    try:
        source = env.get_template("issue.mjml").render(ctx)
        web_html = env.get_template("web.html").render(ctx)
    except jinja2.TemplateError as exc:
        raise ValidationFailed(f"Nyhetsbrevet kunde inte byggas: fel i mallen ({exc}).") from None
    html = mjml_to_html(source)
    return RenderedIssue(
        issue_id=issue.id,
        subject=subject_of(issue.subject, issue.title),
        preheader=issue.preheader,
        html=html,
        text=render_text(ctx),
        web_html=web_html.strip(),
        slug=issue.slug,
        issue_date=issue.issue_date,
        archive_url=ctx["archive_url"],
        list_slug=list_slug,
        list_name=list_name,
    )


async def calendar_block_items(
    session: AsyncSession, issue: Issue, data: dict[str, Any]
) -> list[CalendarItem]:
    """The items a calendar block with ``data`` shows in ``issue`` (chosen, or upcoming)."""
    return await _calendar_items(session, issue, data)
