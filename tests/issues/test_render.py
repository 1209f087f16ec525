"""Rendering an issue to accessible mail: every block kind, escaping, placeholders."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from service.issues import placeholders
from service.issues.render import personalise, render_issue
from service.settings import Settings
from tests.issues.helpers import make_issue


async def test_every_block_kind_renders(session: AsyncSession, settings: Settings) -> None:
    issue = await make_issue(session)
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

    html_p, text_p = personalise(
        rendered, name="Åsa", prefs_url="https://x.test/p", unsubscribe_url="https://x.test/u"
    )
    assert "%%" not in html_p and "%%" not in text_p
    assert "Hej Åsa!" in html_p and "Hej Åsa!" in text_p
    html_anon, text_anon = personalise(rendered, name="", prefs_url="p", unsubscribe_url="u")
    assert "Hej!" in html_anon and "Hej!" in text_anon
