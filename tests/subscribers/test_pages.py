"""The embeddable form, the one-click page, and the privacy notice with its versions."""

from __future__ import annotations

from pathlib import Path

from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import create_app
from service.settings import Settings
from subscribers import service
from subscribers.consent_texts import current_text, publish_text
from subscribers.models import ConsentEvent, ConsentText
from tests.conftest import deliver_queued, make_settings
from tests.mails import text_of
from tests.pages import Client, visible
from tests.smtp import SmtpServer
from tests.subscribers.helpers import link, mails, signup, subscribe_confirmed


async def test_embed_page_is_minimal_and_posts_without_cookies(
    client: Client, settings: Settings, session: AsyncSession
) -> None:
    page = await client.get("/prenumerera/inbaddning")
    assert page.status_code == 200
    assert '<html lang="sv">' in page.text
    assert 'class="site-header"' not in page.text
    assert 'action="/prenumerera/inbaddning"' in page.text
    # Posted from another site's iframe: no cookie, no CSRF token.
    client.cookies.clear()
    done = await client.post(
        "/prenumerera/inbaddning", data={"email": "inbaddad@example.se", "lists": ["1"]}
    )
    assert done.status_code == 200
    assert "Kontrollera din e-post" in done.text
    assert 'class="site-header"' not in done.text
    deliver_queued(settings)  # the worker records the request and mails the confirmation
    event = (await session.execute(select(ConsentEvent))).scalar_one()
    assert event.source == "embed"
    assert len(mails(settings)) == 1
    # Errors are shown inside the embedded form.
    bad = await client.post("/prenumerera/inbaddning", data={"email": "x", "lists": ["1"]})
    assert bad.status_code == 422
    assert 'class="site-header"' not in bad.text
    assert "Det ser inte ut som en giltig e-postadress" in bad.text


async def test_signup_page_offers_the_iframe_snippet(client: Client) -> None:
    page = await client.get("/prenumerera")
    snippet = visible(page.text)
    assert '<iframe src="http://testserver.local/prenumerera/inbaddning"' in snippet


async def test_one_click_page_shows_a_button_and_get_changes_nothing(
    client: Client, settings: Settings, session: AsyncSession
) -> None:
    await subscribe_confirmed(client, settings, "klick@example.se")
    url = link(mails(settings)[-1]["List-Unsubscribe"], "/avregistrera/")
    page = await client.get(url)
    assert page.status_code == 200
    assert "Avregistrera mig" in page.text
    sub = await service.find_by_address(session, "klick@example.se")
    assert sub is not None and sub.status == "active"
    # The button posts the RFC 8058 body.
    assert 'name="List-Unsubscribe" value="One-Click"' in page.text


async def test_privacy_notice_and_versions(
    client: Client, session: AsyncSession, settings: Settings
) -> None:
    v1 = await current_text(session, "privacy")
    consent_v1 = await current_text(session, "consent")
    page = await client.get("/integritet")
    assert page.status_code == 200
    assert v1.body in page.text
    assert consent_v1.body in page.text

    # A consent given under version 1 ...
    await signup(client, "v1@example.se")
    # ... then a new consent text is published.
    v2 = await publish_text(session, "consent", "Ny text.\n\nAndra stycket.", title="Samtycke")
    await session.commit()
    assert v2.version == 2
    form = await client.get("/prenumerera")
    assert "Ny text." in form.text and "Andra stycket." in form.text
    assert consent_v1.body not in form.text
    old = await client.get("/integritet/samtycke/1")
    assert old.status_code == 200
    assert consent_v1.body in old.text
    assert "äldre version" in old.text
    assert (await client.get("/integritet/samtycke/2")).status_code == 200
    assert (await client.get("/integritet/1")).status_code == 200
    missing = await client.get("/integritet/99")
    assert missing.status_code == 404
    # The ledger still points at the version that was shown.
    event = (await session.execute(select(ConsentEvent))).scalar_one()
    assert event.consent_text_id == consent_v1.id
    texts = (await session.execute(select(ConsentText).order_by(ConsentText.id))).scalars().all()
    assert texts[0].body == consent_v1.body  # never edited


async def test_confirmation_mail_over_real_smtp(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer
) -> None:
    settings = make_settings(
        tmp_path, db_url, INNAN_SMTP_URL=f"smtp://127.0.0.1:{smtp_server.port}"
    )
    async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as c:
        response = await signup(c, "smtp@example.se")
        assert response.status_code == 200
        assert len(smtp_server.received) == 1
        received = smtp_server.received[0]
        assert received.rcpt_tos == ["smtp@example.se"]
        msg = received.message
        assert msg["Subject"] == "Bekräfta din prenumeration"
        url = link(text_of(msg), "/bekrafta/")
        page = await c.get(url)
        assert "Bekräfta prenumerationen" in page.text
        done = await c.post(url)
        assert done.status_code == 200
        deliver_queued(settings)
        welcome = smtp_server.received[-1].message
        assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


async def test_refused_confirmation_mail_still_shows_the_same_page(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer
) -> None:
    settings = make_settings(
        tmp_path, db_url, INNAN_SMTP_URL=f"smtp://127.0.0.1:{smtp_server.port}"
    )
    smtp_server.refuse_recipient("finns-ej@example.se", "550 5.1.1 No such user")
    async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as c:
        response = await signup(c, "finns-ej@example.se")
        assert response.status_code == 200
        assert "Kontrollera din e-post" in response.text


def _checked(page: str) -> dict[str, bool]:
    return {
        box.split('value="')[1].split('"')[0]: "checked" in box.split(">")[0]
        for box in page.split('type="checkbox"')[1:]
    }


async def test_list_can_be_preselected_by_query(client: Client, session: AsyncSession) -> None:
    await service.create_list(session, "kalendarium", "Kalendarium")
    await session.commit()
    page = await client.get("/prenumerera/inbaddning?lista=kalendarium")
    assert page.status_code == 200
    assert _checked(page.text) == {"1": False, "2": True}
    both = await client.get("/prenumerera?lista=kalendarium,nyhetsbrev")
    assert _checked(both.text) == {"1": True, "2": True}
    # Unknown slugs fall back to the default list.
    unknown = await client.get("/prenumerera?lista=finns-inte")
    assert _checked(unknown.text) == {"1": True, "2": False}
