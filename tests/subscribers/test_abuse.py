"""Bad input and abuse on the public subscriber pages: every case a user or bot may try."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import create_app
from service.settings import Settings
from subscribers import links
from subscribers.models import ActionToken, ConsentEvent, MailingList, Subscriber
from tests.conftest import make_settings
from tests.mails import text_of
from tests.pages import Client, visible
from tests.subscribers.helpers import link, mails, signup, subscribe_confirmed


async def _count(session: AsyncSession, model: type) -> int:
    session.expire_all()
    return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("", "Ange en e-postadress."),
        ("inte-en-adress", "Det ser inte ut som en giltig e-postadress"),
        ("anna@", "Det ser inte ut som en giltig e-postadress"),
        ("anna@@example.se", "Det ser inte ut som en giltig e-postadress"),
        ("a" * 250 + "@example.se", "E-postadressen är för lång."),
        ("anna@example.se\r\nBcc: victim@example.se", "otillåtna tecken"),
        ("anna@example.se, bob@example.se", "otillåtna tecken"),
        ("<anna@example.se>", "otillåtna tecken"),
    ],
)
async def test_bad_addresses_are_refused_with_a_linked_error(
    client: Client, settings: Settings, session: AsyncSession, address: str, message: str
) -> None:
    response = await signup(client, address)
    assert response.status_code == 422
    assert message in response.text
    assert 'aria-describedby="email-fel"' in response.text
    assert 'id="email-fel"' in response.text
    assert 'href="#email"' in response.text
    assert mails(settings) == []
    assert await _count(session, Subscriber) == 0


@pytest.mark.parametrize("field", ["name", "organisation", "role"])
@pytest.mark.parametrize("value", ["Anna\r\nBcc: x@example.se", "Anna\nAndersson", "A\x00B"])
async def test_line_breaks_and_control_characters_are_refused(
    client: Client, settings: Settings, field: str, value: str
) -> None:
    response = await signup(client, "anna@example.se", **{field: value})
    assert response.status_code == 422
    assert "radbrytningar eller andra styrtecken" in response.text
    assert f'id="{field}-fel"' in response.text
    assert f"{field}-fel" in response.text.split(f'id="{field}"')[1].split(">")[0]
    assert mails(settings) == []


@pytest.mark.parametrize("field", ["name", "organisation", "role"])
@pytest.mark.parametrize(
    "value",
    [
        "Anna \u202eAndersson",  # RIGHT-TO-LEFT OVERRIDE: reads "nossrednA"
        "Anna\u2066Andersson\u2069",  # an isolate
        "Anna\u200fAndersson",  # RIGHT-TO-LEFT MARK
        "Anna\u2028Bcc: x@example.se",  # LINE SEPARATOR
        "Anna\u2029Andersson",  # PARAGRAPH SEPARATOR
        "Anna\u0085Andersson",  # NEL (C1)
    ],
)
async def test_unicode_separators_and_direction_controls_are_refused(
    client: Client, settings: Settings, session: AsyncSession, field: str, value: str
) -> None:
    response = await signup(client, "anna@example.se", **{field: value})
    assert response.status_code == 422
    assert "radbrytningar eller andra styrtecken" in response.text
    assert "skrivriktningen" in response.text
    assert f'id="{field}-fel"' in response.text
    assert mails(settings) == []
    assert await _count(session, Subscriber) == 0
    assert await _count(session, ConsentEvent) == 0


@pytest.mark.parametrize("field", ["name", "organisation", "role"])
async def test_overlong_fields_are_refused(client: Client, settings: Settings, field: str) -> None:
    response = await signup(client, "anna@example.se", **{field: "x" * 201})
    assert response.status_code == 422
    assert "Högst 200 tecken." in response.text
    # The form is shown again with what the person wrote.
    assert 'value="anna@example.se"' in response.text
    assert mails(settings) == []


async def test_no_list_chosen(client: Client, settings: Settings) -> None:
    response = await client.post("/prenumerera", data={"email": "anna@example.se"})
    assert response.status_code == 422
    assert "Välj minst ett utskick." in response.text
    assert 'aria-describedby="listor-fel"' in response.text
    assert mails(settings) == []


@pytest.mark.parametrize("value", ["999", "abc", "-1", "3"])
async def test_unknown_or_hidden_list_tampered_in_form(
    client: Client, settings: Settings, session: AsyncSession, value: str
) -> None:
    session.add(MailingList(slug="ledningsgrupper", name="Ledningsgrupper", is_public=False))
    session.add(MailingList(slug="kalendarium", name="Kalendarium", is_public=True))
    await session.commit()
    hidden = (
        await session.execute(select(MailingList.id).where(MailingList.slug == "ledningsgrupper"))
    ).scalar_one()
    if value == "3":
        value = str(hidden)
    response = await signup(client, "anna@example.se", lists=["1", value])
    assert response.status_code == 422
    assert "Välj bland utskicken i formuläret." in response.text
    assert "Ledningsgrupper" not in response.text
    assert mails(settings) == []


async def test_honeypot_pretends_success_and_sends_nothing(
    client: Client, settings: Settings, session: AsyncSession
) -> None:
    response = await signup(client, "bot@example.se", hemsida="http://spam.example")
    assert response.status_code == 200
    assert "Kontrollera din e-post" in response.text
    assert mails(settings) == []
    assert await _count(session, Subscriber) == 0


async def test_same_answer_for_new_pending_and_active_and_one_mail_per_day(
    client: Client, settings: Settings, session: AsyncSession
) -> None:
    await subscribe_confirmed(client, settings, "active@example.se")
    sent = len(mails(settings))
    new = await signup(client, "new@example.se")
    pending = await signup(client, "new@example.se")
    active = await signup(client, "active@example.se")
    assert new.status_code == pending.status_code == active.status_code == 200

    def body(r: object) -> str:
        text = r.text  # type: ignore[attr-defined]
        return str(text)

    assert body(new) == body(pending) == body(active)
    # Only the first signup of the new address sent a mail; the second (within a minute)
    # and the already-confirmed address's (within 24 h of its last mail) sent nothing.
    assert len(mails(settings)) == sent + 1
    assert [str(m["To"]) for m in mails(settings)[sent:]] == ["new@example.se"]


async def test_per_ip_rate_limit(tmp_path: Path, db_url: str) -> None:
    settings = make_settings(tmp_path, db_url, INNAN_SIGNUP_IP_PER_HOUR="3")
    async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as c:
        for i in range(3):
            assert (await signup(c, f"p{i}@example.se")).status_code == 200
        limited = await signup(c, "p9@example.se")
        assert limited.status_code == 429
        assert "För många försök" in limited.text
        assert "Vänta en stund" in limited.text
        assert limited.headers["retry-after"] == "3600"
        assert len(mails(settings)) == 3


async def test_global_rate_limit(tmp_path: Path, db_url: str) -> None:
    settings = make_settings(
        tmp_path, db_url, INNAN_SIGNUP_IP_PER_HOUR="100", INNAN_SIGNUP_GLOBAL_PER_HOUR="2"
    )
    async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as c:
        assert (await signup(c, "g1@example.se")).status_code == 200
        assert (await signup(c, "g2@example.se")).status_code == 200
        limited = await signup(c, "g3@example.se")
        assert limited.status_code == 429
        assert "För många försök" in limited.text


async def test_hundred_signups_from_one_ip(client: Client, settings: Settings) -> None:
    codes = [(await signup(client, f"massa{i}@example.se")).status_code for i in range(100)]
    assert codes[: settings.signup_ip_per_hour] == [200] * settings.signup_ip_per_hour
    assert set(codes[settings.signup_ip_per_hour :]) == {429}
    assert len(mails(settings)) == settings.signup_ip_per_hour


async def test_oversized_body_is_refused(client: Client, settings: Settings) -> None:
    response = await client.post(
        "/prenumerera",
        content=b"email=a%40example.se&name=" + b"x" * (settings.max_body_bytes + 10),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert "Det du skickade är för stort: högst 64 kB" in visible(response.text)
    assert mails(settings) == []


async def test_confirmation_link_problems(
    client: Client, settings: Settings, session: AsyncSession
) -> None:
    unknown = await client.get("/bekrafta/detta-finns-inte")
    assert unknown.status_code == 404
    assert "Länken är ogiltig" in unknown.text
    unknown_post = await client.post("/bekrafta/detta-finns-inte")
    assert unknown_post.status_code == 404
    assert "Länken är ogiltig" in unknown_post.text

    await signup(client, "late@example.se")
    token = (await session.execute(select(ActionToken))).scalar_one()
    token.expires_at = token.created_at - timedelta(seconds=1)
    await session.commit()
    expired = await client.get(link(text_of(mails(settings)[-1]), "/bekrafta/"))
    assert expired.status_code == 410
    assert "Länken har slutat gälla." in expired.text
    assert 'href="/prenumerera"' in expired.text


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: "x" + t,
        lambda t: "inte-en-signatur",
    ],
)
async def test_forged_preference_and_unsubscribe_tokens(
    client: Client, settings: Settings, mangle: object
) -> None:
    prefs = await subscribe_confirmed(client, settings, "forge@example.se")
    token = prefs.rsplit("/", 1)[1]
    bad = mangle(token)  # type: ignore[operator]
    page = await client.get(f"/installningar/{bad}")
    assert page.status_code == 404
    assert "Länken är ogiltig" in page.text
    one_click = await client.post(f"/avregistrera/{bad}", content=b"List-Unsubscribe=One-Click")
    assert one_click.status_code == 404
    # Someone else's id with our signature scheme but a wrong key is also refused.
    other = links.preference_token(settings.with_overrides(secret_key="x" * 40), 1, 1)
    assert (await client.get(f"/installningar/{other}")).status_code == 404


async def test_old_preference_link_after_address_change_is_gone(
    client: Client, settings: Settings, session: AsyncSession
) -> None:
    prefs = await subscribe_confirmed(client, settings, "old@example.se")
    sub = (await session.execute(select(Subscriber))).scalar_one()
    sub.token_version += 1
    await session.commit()
    page = await client.get(prefs)
    assert page.status_code == 410
    assert "din e-postadress har ändrats" in page.text


async def test_signup_request_is_recorded_in_the_ledger_per_list(
    client: Client, session: AsyncSession
) -> None:
    session.add(MailingList(slug="kalendarium", name="Kalendarium", is_public=True))
    await session.commit()
    await signup(client, "two@example.se", lists=["1", "2", "2"])
    events = (await session.execute(select(ConsentEvent))).scalars().all()
    assert sorted((e.list_slug, e.event) for e in events) == [
        ("kalendarium", "requested"),
        ("nyhetsbrev", "requested"),
    ]
    assert all(e.requested_at is not None and e.source == "form" for e in events)


async def test_simultaneous_signups_of_one_address(
    client: Client, settings: Settings, session: AsyncSession
) -> None:
    responses = await asyncio.gather(*(signup(client, "samtidig@example.se") for _ in range(4)))
    assert [r.status_code for r in responses] == [200] * 4
    assert len({r.text for r in responses}) == 1
    assert await _count(session, Subscriber) == 1
    assert len(mails(settings)) == 1
