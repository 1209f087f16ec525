"""The whole subscriber journey, as a new user would take it, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import Base, utcnow
from service.mail.models import QueuedMail
from service.settings import Settings
from subscribers.models import ConsentEvent, ConsentText, MailingList, Subscriber, Suppression
from subscribers.suppression import suppression_key
from tests.mails import text_of
from tests.pages import Client, csrf, visible
from tests.subscribers.helpers import confirm_latest, link, mails, signup, subscribe_confirmed


async def _subscriber(session: AsyncSession, address: str) -> Subscriber | None:
    session.expire_all()
    found = await session.execute(select(Subscriber).where(Subscriber.email == address))
    return found.scalar_one_or_none()


async def _tables_containing(session: AsyncSession, needle: str) -> list[str]:
    hits = []
    for table in Base.metadata.sorted_tables:
        rows = (await session.execute(select(table))).all()
        if any(needle in str(tuple(row)) for row in rows):
            hits.append(table.name)
    return hits


async def test_signup_page_shows_form_and_current_consent_text(
    client: Client, session: AsyncSession
) -> None:
    page = await client.get("/prenumerera")
    assert page.status_code == 200
    assert '<html lang="sv">' in page.text
    consent = (
        await session.execute(select(ConsentText).where(ConsentText.kind == "consent"))
    ).scalar_one()
    assert consent.body in page.text
    assert 'href="/integritet"' in page.text
    assert '<label for="email">' in page.text
    assert 'name="lists" value="1"' in page.text and "checked" in page.text
    assert "Region Halland" in page.text
    assert 'name="hemsida"' in page.text


async def test_whole_journey(client: Client, settings: Settings, session: AsyncSession) -> None:
    address = "anna.andersson@halmstad.example"
    # Sign up.
    response = await signup(
        client, address, name="Anna Andersson", organisation="Halmstads kommun", role="Handläggare"
    )
    assert response.status_code == 200
    assert "Kontrollera din e-post" in response.text
    sub = await _subscriber(session, address)
    assert sub is not None and sub.status == "pending"
    events = (await session.execute(select(ConsentEvent))).scalars().all()
    assert [(e.event, e.source, e.language) for e in events] == [("requested", "form", "sv")]
    assert events[0].consent_text_id is not None and events[0].privacy_notice_id is not None

    # The confirmation mail.
    [confirmation] = mails(settings)
    assert confirmation["To"] == address
    assert "=?utf-8?" in str(confirmation.as_bytes()).lower()  # RFC 2047 encoded subject
    assert confirmation["Subject"] == "Bekräfta din prenumeration"
    confirm_path = link(text_of(confirmation), "/bekrafta/")
    token = confirm_path.rsplit("/", 1)[1]
    stored = (await session.execute(text("SELECT token_hash FROM action_tokens"))).scalars().all()
    assert token not in stored  # stored only hashed

    # GET shows a button and changes nothing.
    page = await client.get(confirm_path)
    assert page.status_code == 200
    assert "Bekräfta prenumerationen" in page.text and "<button" in page.text
    assert (await _subscriber(session, address)).status == "pending"  # type: ignore[union-attr]

    # POST confirms.
    client.cookies.clear()  # works without cookies; the secret token is the defence
    done = await client.post(confirm_path)
    assert done.status_code == 200
    assert "Prenumerationen är bekräftad" in done.text
    sub = await _subscriber(session, address)
    assert sub is not None and sub.status == "active" and sub.confirmed_at is not None
    assert [s.status for s in sub.subscriptions] == ["active"]

    # Used link: a clear Swedish page.
    again = await client.get(confirm_path)
    assert again.status_code == 410
    assert "Länken har redan använts" in again.text

    # The welcome mail.
    welcome = mails(settings)[-1]
    assert welcome["Subject"] == "Välkommen som prenumerant"
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe_header = welcome["List-Unsubscribe"]
    assert "<http://testserver.local/avregistrera/" in unsubscribe_header
    assert "<mailto:" in unsubscribe_header
    assert welcome["List-Id"].endswith("<nyhetsbrev.innanforskapet.test>")
    prefs = link(text_of(welcome), "/installningar/")
    unsubscribe = link(unsubscribe_header, "/avregistrera/")

    # Preference centre: add the second public list.
    lists_page = await client.get(prefs)
    assert lists_page.status_code == 200
    assert address in lists_page.text
    assert lists_page.headers["cache-control"] == "no-store"
    assert lists_page.headers["referrer-policy"] == "no-referrer"
    session.add(MailingList(slug="kalendarium", name="Kalendarium", is_public=True))
    await session.commit()
    lists_page = await client.get(prefs)
    assert "Kalendarium" in lists_page.text
    saved = await client.post(
        prefs + "/listor",
        data={"_csrf_token": csrf(lists_page.text), "lists": ["1", "2"]},
        follow_redirects=True,
    )
    assert saved.status_code == 200
    assert "Dina val av utskick är sparade" in saved.text
    sub = await _subscriber(session, address)
    assert sub is not None
    assert sorted(s.list_id for s in sub.subscriptions if s.status == "active") == [1, 2]

    # Export: JSON with the consent history and the exact consent text.
    exported = await client.post(prefs + "/export", data={"_csrf_token": csrf(saved.text)})
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]
    data = json.loads(exported.content)
    assert data["subscriber"]["email"] == address
    assert data["subscriber"]["organisation"] == "Halmstads kommun"
    history = [(h["event"], h["list"], h["source"]) for h in data["consent_history"]]
    assert ("requested", "nyhetsbrev", "form") in history
    assert ("confirmed", "nyhetsbrev", "form") in history
    assert ("confirmed", "kalendarium", "preference-centre") in history
    consent = (
        await session.execute(select(ConsentText).where(ConsentText.kind == "consent"))
    ).scalar_one()
    assert consent.body in [t["body"] for t in data["consent_texts"].values()]

    # Raw RFC 8058 one-click POST: only the body, no cookie, no CSRF token, twice.
    client.cookies.clear()
    for _ in range(2):
        gone = await client.post(
            unsubscribe,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert gone.status_code == 200
        assert "Du är avregistrerad" in gone.text
    sub = await _subscriber(session, address)
    assert sub is not None and sub.status == "unsubscribed"
    withdrawn = (
        (await session.execute(select(ConsentEvent).where(ConsentEvent.event == "withdrawn")))
        .scalars()
        .all()
    )
    assert sorted(e.list_slug for e in withdrawn) == ["kalendarium", "nyhetsbrev"]
    assert {e.channel for e in withdrawn} == {"one-click"}

    # Erase: confirmation step, then only the HMAC remains.
    erase_page = await client.get(prefs + "/radera")
    assert erase_page.status_code == 200
    assert "Det går inte att ångra" in erase_page.text
    erased = await client.post(prefs + "/radera", data={"_csrf_token": csrf(erase_page.text)})
    assert erased.status_code == 200
    assert "Dina uppgifter är raderade" in erased.text
    session.expire_all()
    assert await _tables_containing(session, address) == []
    suppressions = (await session.execute(select(Suppression))).scalars().all()
    assert [(s.address_hmac, s.reason) for s in suppressions] == [
        (suppression_key(settings, address), "erased")
    ]
    audit = (await session.execute(text("SELECT action FROM audit_log"))).scalars().all()
    assert "subscriber.erased" in audit
    assert (await client.get(prefs)).status_code == 404

    # Signing up again works only through a fresh double opt-in.
    before = len(mails(settings))
    again_signup = await signup(client, address)
    assert again_signup.status_code == 200
    assert len(mails(settings)) == before + 1
    assert (await session.execute(select(Suppression))).scalars().all() != []
    sub = await _subscriber(session, address)
    assert sub is not None and sub.status == "pending"
    page = await client.get(link(text_of(mails(settings)[-1]), "/bekrafta/"))
    await client.post(link(text_of(mails(settings)[-1]), "/bekrafta/"))
    session.expire_all()
    assert (await session.execute(select(Suppression))).scalars().all() == []
    sub = await _subscriber(session, address)
    assert sub is not None and sub.status == "active"
    assert visible(page.text).count("Innanförskapet – nyhetsbrev") >= 1


async def test_active_subscriber_adds_a_list_by_signing_up_again(
    client: Client, settings: Settings, session: AsyncSession
) -> None:
    await subscribe_confirmed(client, settings, "mer@example.se")
    session.add(MailingList(slug="kalendarium", name="Kalendarium", is_public=True))
    sub = await _subscriber(session, "mer@example.se")
    assert sub is not None
    first_confirmed = sub.confirmed_at
    # The confirmation mail of the first signup was sent more than a day ago.
    await session.execute(
        update(QueuedMail)
        .where(QueuedMail.subscriber_id == sub.id, QueuedMail.kind == "confirm")
        .values(sent_at=utcnow() - timedelta(hours=25))
    )
    await session.commit()
    sent = len(mails(settings))
    response = await signup(client, "mer@example.se", lists=["2"])
    assert response.status_code == 200
    assert len(mails(settings)) == sent + 1
    # Nothing changes before the owner of the address confirms.
    sub = await _subscriber(session, "mer@example.se")
    assert sub is not None and sorted(s.status for s in sub.subscriptions) == ["active", "pending"]
    confirmed = await confirm_latest(client, settings)
    assert "Kalendarium" in confirmed.text
    sub = await _subscriber(session, "mer@example.se")
    assert sub is not None
    assert sorted(s.status for s in sub.subscriptions) == ["active", "active"]
    assert sub.confirmed_at == first_confirmed
