"""Rendering an issue to accessible mail: every block kind, escaping, placeholders."""

from __future__ import annotations

import re
import shutil
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.calendar.models import CalendarItem
from service.errors import NotFound, ValidationFailed
from service.issues import placeholders
from service.issues.models import Block
from service.issues.render import (
    CONTRAST_PAIRS,
    ISSUE_TEMPLATES,
    PALETTE,
    RenderedIssue,
    render_issue,
)
from service.settings import Settings
from tests.factories import EVERY_KIND_BLOCKS, make_issue
from tests.issues.helpers import personalised

SEPTEMBER = "Nyhetsbrev september 2019"


async def test_every_block_kind_renders(session: AsyncSession, settings: Settings) -> None:
    issue = await make_issue(
        session,
        EVERY_KIND_BLOCKS,
        slug="provnummer",
        title=SEPTEMBER,
        subject=SEPTEMBER,
        preheader="Nyheter om samverkan i Halland",
        issue_date=date(2019, 9, 1),
        calendar=True,
    )
    rendered = await render_issue(session, settings, issue.id)
    html = rendered.html
    assert rendered.subject == "Nyhetsbrev september 2019"
    assert '<html lang="sv"' in html
    assert re.search(r"<h1[^>]*>Nyhetsbrev september 2019</h1>", html)
    assert re.search(r"<h2[^>]*>Aktuellt</h2>", html)
    assert re.search(r"<h3[^>]*>Social hänsyn vid upphandling</h3>", html)
    assert 'alt="Tre guldhjälmar i Almedalen"' in html
    assert 'src="http://testserver.local/media/bild.png"' in html
    assert "Förbundet i Almedalen 2019" in html
    assert 'href="https://sfhalland.se/nyheter"' in html
    assert "Noterat från Almedalen" in html
    assert ">Anmäl intresse</a>" in html
    assert "Datum:</strong> fredag 20 september" in html
    assert "fredag 4 oktober kl. 10.00–12.00" in html
    assert "Sista anmälningsdag 1 oktober" in html
    assert "Nyheter om samverkan i Halland" in html  # preheader
    assert "Hösten är här och samverkan i Halland växer." in html  # the intro
    for placeholder in placeholders.ALL:
        assert placeholder in html
        assert placeholder in rendered.text
    assert "Visa i webbläsaren" in html
    assert "http://testserver.local/arkiv/2019/provnummer" in html
    assert "Behandling av personuppgifter" in html
    assert settings.org_address in html
    # the web version has the content but nothing personal
    assert "Social hänsyn vid upphandling" in rendered.web_html
    assert "%%" not in rendered.web_html
    assert "Avregistrera" not in rendered.web_html

    html_p, text_p = personalised(
        settings,
        rendered,
        name="Åsa",
        prefs_url="https://x.test/p",
        unsubscribe_url="https://x.test/u",
    )
    assert "%%" not in html_p and "%%" not in text_p
    assert "Hej Åsa!" in html_p and "Hej Åsa!" in text_p
    html_anon, text_anon = personalised(
        settings, rendered, name="", prefs_url="p", unsubscribe_url="u"
    )
    assert "Hej!" in html_anon and "Hej!" in text_anon


class _TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def _tags(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every real start tag with its attributes (text that looks like a tag is not one)."""
    parser = _TagCollector()
    parser.feed(html)
    return parser.tags


async def _render_one(
    session: AsyncSession, settings: Settings, kind: str, data: dict[str, object]
) -> RenderedIssue:
    issue = await make_issue(session, [(kind, data)])
    return await render_issue(session, settings, issue.id)


async def test_markdown_links_and_raw_html_are_neutralised(
    session: AsyncSession, settings: Settings
) -> None:
    body = (
        "Klicka [här](javascript:alert(1)) eller [där](JaVaScRiPt:alert(2)).\n\n"
        "<script>alert('x')</script>\n\n"
        '<a href="javascript:alert(3)">rå länk</a> <img src=x onerror=alert(4)>\n\n'
        "[ok](https://sfhalland.se/ok)"
    )
    rendered = await _render_one(
        session, settings, "article", {"heading": "Rubrik", "body": body, "image": None}
    )
    for html in (rendered.html, rendered.web_html):
        tags = _tags(html)
        urls = [v or "" for _t, attrs in tags for k, v in attrs if k in ("href", "src")]
        assert "https://sfhalland.se/ok" in urls
        assert not [u for u in urls if u.strip().lower().startswith("javascript:")]
        assert "script" not in {t for t, _a in tags}
        assert not [k for _t, attrs in tags for k, _v in attrs if k.startswith("on")]
        assert "&lt;script&gt;" in html  # shown as text, not run
    assert "ok <https://sfhalland.se/ok>" in rendered.text
    assert "<script>" in rendered.text  # plain text cannot run anything; shown as written
    assert "<javascript:" not in rendered.text  # never offered as a link target


async def test_accessibility_of_the_mail(session: AsyncSession, settings: Settings) -> None:
    issue = await make_issue(session, EVERY_KIND_BLOCKS, calendar=True)
    html = (await render_issue(session, settings, issue.id)).html
    assert html.startswith('<!doctype html><html lang="sv"')
    tables = re.findall(r"<table\b[^>]*>", html)
    assert tables
    assert all('role="presentation"' in t for t in tables), tables
    images = re.findall(r"<img\b[^>]*>", html)
    assert images
    assert all(re.search(r'\balt="[^"]+"', img) for img in images), images
    assert len(re.findall(r"<h1\b", html)) == 1
    assert re.findall(r"<h2\b", html) and re.findall(r"<h3\b", html)
    assert 'name="viewport"' in html
    # fluid at 320 px: the column is a percentage and images scale to their container
    assert "mj-column-per-100" in html and "width:100%" in html


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    a, b = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def test_palette_contrast() -> None:
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    for fg, bg in CONTRAST_PAIRS:
        ratio = contrast(PALETTE[fg], PALETTE[bg])
        assert ratio >= 4.5, f"{fg} on {bg}: {ratio:.2f}"


async def test_name_is_escaped_in_html_and_plain_in_text(
    session: AsyncSession, settings: Settings
) -> None:
    rendered = await _render_one(session, settings, "divider", {})
    html, text = personalised(
        settings,
        rendered,
        name="<b>Åsa & Co</b>",
        prefs_url="https://x.test/p?a=1&b=2",
        unsubscribe_url="https://x.test/u",
    )
    assert "Hej &lt;b&gt;Åsa &amp; Co&lt;/b&gt;!" in html
    assert "<b>Åsa" not in html
    assert 'href="https://x.test/p?a=1&amp;b=2"' in html
    assert "Hej <b>Åsa & Co</b>!" in text
    assert "Hantera prenumeration: https://x.test/p?a=1&b=2" in text


async def test_unknown_issue_is_not_found(session: AsyncSession, settings: Settings) -> None:
    with pytest.raises(NotFound) as info:
        await render_issue(session, settings, 999_999)
    assert info.value.message == "Nyhetsbrevet finns inte."


async def test_cta_with_javascript_button_is_refused(
    session: AsyncSession, settings: Settings
) -> None:
    with pytest.raises(ValidationFailed) as info:
        await _render_one(
            session,
            settings,
            "cta",
            {"heading": "X", "body": "", "button_label": "Klicka", "button_url": "javascript:x"},
        )
    assert "https://" in info.value.message


@pytest.mark.parametrize(
    ("template", "broken", "message"),
    [
        ("mjml/divider.mjml", "<mj-section><mj-column>", "inte giltig MJML"),
        (
            "mjml/divider.mjml",
            "<mj-section><mj-column><mj-knapp/></mj-column></mj-section>",
            "okänd",
        ),
        ("mjml/divider.mjml", "{% if %}", "fel i mallen"),
    ],
)
async def test_invalid_mjml_template_is_a_validation_error(
    session: AsyncSession,
    settings: Settings,
    tmp_path: Path,
    template: str,
    broken: str,
    message: str,
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(ISSUE_TEMPLATES, templates)
    (templates / template).write_text(broken, encoding="utf-8")
    issue = await make_issue(session, [("divider", {})])
    with pytest.raises(ValidationFailed) as info:
        await render_issue(session, settings, issue.id, templates_dir=templates)
    assert message in info.value.message
    assert info.value.message.startswith("Nyhetsbrevet kunde inte byggas")


async def test_calendar_selected_order_and_empty(session: AsyncSession, settings: Settings) -> None:
    issue = await make_issue(
        session, [("calendar", {"mode": "upcoming"})], issue_date=date(2019, 9, 1), calendar=True
    )
    issue_id = issue.id
    items = (await session.scalars(select(CalendarItem).order_by(CalendarItem.id))).all()
    first, second = items[0].id, items[1].id
    session.add_all(
        [
            Block(
                issue_id=issue_id,
                position=1,
                kind="calendar",
                data={"heading": "Utvalt", "mode": "selected", "item_ids": [second, first, 9999]},
            ),
            Block(issue_id=issue_id, position=2, kind="calendar", data={"mode": "selected"}),
        ]
    )
    await session.commit()
    session.expire_all()
    rendered = await render_issue(session, settings, issue_id)
    text = rendered.text
    chosen = text.split("Utvalt\n------\n", 1)[1]
    assert chosen.index("Öppen konferensplanering") < chosen.index("Arbetsplatsambassadörsdag")
    assert "Inga kommande aktiviteter just nu." in rendered.html
    assert "Inga kommande aktiviteter just nu." in text
    upcoming = text.split("Kalendarium\n-----------\n", 1)[1].split("Utvalt", 1)[0]
    assert "fredag 20 september · Arbetsplatsambassadörsdag Tema Språkinlärning ·" in upcoming
    # an issue after both items shows none of them as upcoming
    later = await make_issue(
        session, [("calendar", {})], slug="senare", issue_date=date(2019, 12, 1)
    )
    assert "Inga kommande aktiviteter" in (await render_issue(session, settings, later.id)).text


async def test_special_characters_are_escaped_exactly_once(
    session: AsyncSession, settings: Settings
) -> None:
    issue = await make_issue(
        session,
        [
            (
                "article",
                {
                    "heading": 'Åsa & Co <3 "citat"',
                    "body": "Text & mer",
                    "image": {"src": "https://bild.test/a.png?x=1&y=2", "alt": 'Bild "A" & <B>'},
                    "link": {"url": "https://sfhalland.se/?a=1&b=2", "label": "Läs & mer"},
                },
            )
        ],
        title="Nytt & viktigt <i>",
        subject="Nytt & viktigt <i>",
    )
    rendered = await render_issue(session, settings, issue.id)
    html = rendered.html
    assert "Nytt &amp; viktigt &lt;i&gt;</h1>" in html
    assert "<title>Nytt &amp; viktigt &lt;i&gt;</title>" in html
    assert "Åsa &amp; Co &lt;3 &#34;citat&#34;</h2>" in html
    assert 'src="https://bild.test/a.png?x=1&amp;y=2"' in html
    assert 'alt="Bild &#34;A&#34; &amp; &lt;B&gt;"' in html
    assert 'href="https://sfhalland.se/?a=1&amp;b=2"' in html
    assert "&amp;amp;" not in html and "&amp;amp;" not in rendered.web_html
    assert 'Åsa & Co <3 "citat"' in rendered.text
    assert "Läs & mer: https://sfhalland.se/?a=1&b=2" in rendered.text


async def test_body_headings_stay_below_the_block_heading(
    session: AsyncSession, settings: Settings
) -> None:
    body = "# Första\n\ntext\n\n## Andra\n\n![Diagram över kostnader](https://x.test/d.png)"
    issue = await make_issue(
        session,
        [
            ("article", {"heading": "Utanför sektion", "body": body}),
            ("heading", {"text": "Aktuellt"}),
            ("notice", {"heading": "Inne i sektion", "body": body}),
        ],
    )
    rendered = await render_issue(session, settings, issue.id)
    html = rendered.html
    assert re.search(r"<h2[^>]*>Utanför sektion</h2>", html)
    assert "<h3>Första</h3>" in html and "<h4>Andra</h4>" in html
    assert re.search(r"<h3[^>]*>Inne i sektion</h3>", html)
    assert "<h4>Första</h4>" in html and "<h5>Andra</h5>" in html
    assert "<h1>Första" not in html and "<h2>Andra" not in html
    assert "Diagram över kostnader" in html  # an inline image is shown as its alt text
    assert "x.test/d.png" not in html
    assert "Första\n------" in rendered.text


async def test_placeholders_typed_by_an_editor_stay_inert(
    session: AsyncSession, settings: Settings
) -> None:
    issue = await make_issue(
        session,
        [("notice", {"heading": "Hej %%INNAN_NAME%%", "body": "Länk: %%INNAN_UNSUBSCRIBE_URL%%"})],
        title="Till %%INNAN_NAME%%",
        subject="Till %%INNAN_NAME%%",
    )
    rendered = await render_issue(session, settings, issue.id)
    html, text = personalised(settings, rendered, name="Åsa", prefs_url="P", unsubscribe_url="U")
    for output in (html, text, rendered.web_html):
        assert "Åsa %%" not in output and "INNAN_NAME%%" in output  # shown as typed
    assert html.count("Hej Åsa!") == 1 and "Länk: U" not in html
    assert text.count("Åsa") == 1


INTRO = (
    "Hösten är här, och med den FINSAM-konferensen i Halmstad. I det här numret "
    "berättar vi om det nationella projektet om våld i nära relationer.\n\n"
    "Trevlig läsning!"
)


async def test_intro_is_the_lead_in_mail_text_and_web(
    session: AsyncSession, settings: Settings
) -> None:
    issue = await make_issue(
        session,
        [
            ("intro", {"body": INTRO}),
            ("article", {"heading": "Våld i nära relationer", "body": "Projektet startar."}),
        ],
    )
    rendered = await render_issue(session, settings, issue.id)
    html, text = personalised(settings, rendered, name="Åsa", prefs_url="P", unsubscribe_url="U")
    # Mail: after the greeting, before the first article, in lead size, as two paragraphs.
    lead = re.search(r'<p style="margin:0 0 12px 0;font-size:19px;">([^<]*)</p>', html)
    assert lead and lead.group(1).startswith("Hösten är här, och med den FINSAM-konferensen")
    assert html.index("Hej Åsa!") < lead.start() < html.index("Våld i nära relationer</h2>")
    assert '<p style="margin:0 0 12px 0;font-size:19px;">Trevlig läsning!</p>' in html
    # Text: wrapped paragraphs right after the greeting, a blank line between them.
    after = text.split("Hej Åsa!\n\n", 1)[1]
    assert after.startswith(
        "Hösten är här, och med den FINSAM-konferensen i Halmstad. I det här\n"
        "numret berättar vi om det nationella projektet om våld i nära\n"
        "relationer.\n\nTrevlig läsning!\n\nVåld i nära relationer\n"
    )
    # Web (archive, feeds): a lead block of paragraphs, no greeting.
    web = rendered.web_html
    assert '<div class="issue-intro">' in web and "<p>Trevlig läsning!</p>" in web
    assert web.index("issue-intro") < web.index("Våld i nära relationer")


async def test_article_without_heading_has_no_empty_heading(
    session: AsyncSession, settings: Settings
) -> None:
    issue = await make_issue(
        session,
        [
            ("article", {"heading": "", "body": "Bara en text om samverkan.", "image": None}),
            (
                "article",
                {
                    "heading": "",
                    "body": "",
                    "image": {"src": "/media/karta.png", "alt": "Karta över Halland"},
                    "link": {"url": "https://sfhalland.se/", "label": "Läs mer"},
                },
            ),
        ],
    )
    rendered = await render_issue(session, settings, issue.id)
    for html in (rendered.html, rendered.web_html):
        assert not re.search(r"<h[2-6][^>]*>\s*</h[2-6]>", html), "an empty heading"
        assert not re.findall(r"<h[2-6]\b", html), "no article has a heading"
        assert "Bara en text om samverkan." in html and 'alt="Karta över Halland"' in html
    assert "<mj-" not in rendered.html
    _html, text = personalised(settings, rendered, name="", prefs_url="P", unsubscribe_url="U")
    body = text.split("Hej!\n\n", 1)[1].split("\n\n\n-- ", 1)[0]
    assert body == (
        "Bara en text om samverkan.\n\n[Bild: Karta över Halland]\n\nLäs mer: https://sfhalland.se/"
    )
    assert "---" not in body  # no underline of an empty heading
