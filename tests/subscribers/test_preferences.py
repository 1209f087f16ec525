"""The preference centre: details, lists, address change, unsubscribe, and bad input."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.settings import Settings
from subscribers.messages import MESSAGES
from subscribers.models import ConsentEvent, MailingList, Subscriber
from subscribers.preferences import ADDRESS_CHANGES_PER_HOUR
from tests.mails import text_of
from tests.pages import Client, csrf
from tests.subscribers.helpers import link, mails, signup, subscribe_confirmed


async def _get(session: AsyncSession, address: str) -> Subscriber | None:
    session.expire_all()
    found = await session.execute(select(Subscriber).where(Subscriber.email == address))
    return found.scalar_one_or_none()


async def test_change_details(client: Client, settings: Settings, session: AsyncSession) -> None:
    prefs = await subscribe_confirmed(client, settings, "details@example.se")
    page = await client.get(prefs)
    saved = await client.post(
        prefs + "/uppgifter",
        data={
            "_csrf_token": csrf(page.text),
            "name": "Eva Ek",
            "organisation": "Hylte kommun",
            "role": "Samordnare",
        },
        follow_redirects=True,
    )
    assert saved.status_code == 200
    assert "Dina uppgifter är sparade." in saved.text
    assert 'value="Hylte kommun"' in saved.text
    sub = await _get(session, "details@example.se")
    assert sub is not None
    assert (sub.name, sub.organisation, sub.role) == ("Eva Ek", "Hylte kommun", "Samordnare")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "Eva\r\nBcc: x@example.se"}, "radbrytningar"),
        ({"organisation": "o" * 201}, "Högst 200 tecken."),
    ],
)
async def test_bad_details_are_shown_on_the_form(
    client: Client, settings: Settings, session: AsyncSession, data: dict[str, str], message: str
) -> None:
    prefs = await subscribe_confirmed(client, settings, "bad@example.se")
    page = await client.get(prefs)
    response = await client.post(
        prefs + "/uppgifter", data={"_csrf_token": csrf(page.text), **data}
    )
    assert response.status_code == 422
    assert message in response.text
    assert 'aria-invalid="true"' in response.text


async def test_preference_forms_need_the_csrf_token(client: Client, settings: Settings) -> None:
    prefs = await subscribe_confirmed(client, settings, "csrf@example.se")
    response = await client.post(prefs + "/avregistrera", data={})
    assert response.status_code == 403


async def test_an_unknown_preference_form_is_a_swedish_404_and_changes_nothing(
    client: Client, settings: Settings, session: AsyncSession
) -> None:
    prefs = await subscribe_confirmed(client, settings, "okand@example.se")
    page = await client.get(prefs)
    response = await client.post(
        prefs + "/avregistrera-allt", data={"_csrf_token": csrf(page.text)}
    )
    assert response.status_code == 404
    assert "Gå tillbaka till dina inställningar" in response.text
    sub = await _get(session, "okand@example.se")
    assert sub is not None and sub.status == "active"


async def test_hidden_list_cannot_be_joined_by_tampering(
    client: Client, settings: Settings, session: AsyncSession
) -> None:
    session.add(MailingList(slug="ledningsgrupper", name="Ledningsgrupper", is_public=False))
    await session.commit()
    prefs = await subscribe_confirmed(client, settings, "tamper@example.se")
    page = await client.get(prefs)
    assert "Ledningsgrupper" not in page.text
    response = await client.post(
        prefs + "/listor", data={"_csrf_token": csrf(page.text), "lists": ["1", "2"]}
    )
    assert response.status_code == 422
    assert "Välj bland utskicken i formuläret." in response.text
    sub = await _get(session, "tamper@example.se")
    assert sub is not None and [s.list_id for s in sub.subscriptions] == [1]


async def test_leaving_every_list_in_the_preference_centre(
    client: Client, settings: Settings, session: AsyncSession
) -> None:
    prefs = await subscribe_confirmed(client, settings, "none@example.se")
    page = await client.get(prefs)
    saved = await client.post(
        prefs + "/listor", data={"_csrf_token": csrf(page.text)}, follow_redirects=True
    )
    assert saved.status_code == 200
    sub = await _get(session, "none@example.se")
    assert sub is not None and sub.status == "unsubscribed"
    withdrawn = (
        (await session.execute(select(ConsentEvent).where(ConsentEvent.event == "withdrawn")))
        .scalars()
        .all()
    )
    assert [(e.list_slug, e.channel) for e in withdrawn] == [("nyhetsbrev", "preference-centre")]
    # Choosing a list again (the signed link proves the address) reactivates.
    again = await client.post(
        prefs + "/listor",
        data={"_csrf_token": csrf(saved.text), "lists": ["1"]},
        follow_redirects=False,
    )
    assert again.status_code == 303
    assert again.headers["location"].endswith("?sparat=listor")
    sub = await _get(session, "none@example.se")
    assert sub is not None and sub.status == "active"


async def test_unsubscribe_all_from_the_preference_centre(
    client: Client, settings: Settings, session: AsyncSession
) -> None:
    prefs = await subscribe_confirmed(client, settings, "all@example.se")
    page = await client.get(prefs)
    done = await client.post(
        prefs + "/avregistrera", data={"_csrf_token": csrf(page.text)}, follow_redirects=True
    )
    assert "Du är avregistrerad från alla utskick." in done.text
    sub = await _get(session, "all@example.se")
    assert sub is not None and sub.status == "unsubscribed"


async def test_address_change_is_confirmed_by_the_new_address(
    client: Client, settings: Settings, session: AsyncSession
) -> None:
    prefs = await subscribe_confirmed(client, settings, "gammal@example.se")
    page = await client.get(prefs)
    asked = await client.post(
        prefs + "/adress",
        data={"_csrf_token": csrf(page.text), "new_email": "Ny@Example.se"},
        follow_redirects=True,
    )
    assert "Vi har skickat en bekräftelselänk till den nya adressen." in asked.text
    # Nothing changes until the new address confirms.
    assert await _get(session, "gammal@example.se") is not None
    change_mail = mails(settings)[-1]
    assert change_mail["To"] == "ny@example.se"
    assert change_mail["Subject"] == "Bekräfta din nya e-postadress"
    url = link(text_of(change_mail), "/bekrafta/")
    confirm_page = await client.get(url)
    assert "ny@example.se" in confirm_page.text
    assert await _get(session, "ny@example.se") is None
    done = await client.post(url)
    assert done.status_code == 200
    assert "E-postadressen är ändrad" in done.text
    sub = await _get(session, "ny@example.se")
    assert sub is not None and sub.token_version == 2
    assert await _get(session, "gammal@example.se") is None
    # Links handed out before the change no longer open the preference centre.
    assert (await client.get(prefs)).status_code == 410
    new_prefs = link(done.text, "/installningar/")
    assert (await client.get(new_prefs)).status_code == 200


async def test_address_changes_are_limited_per_hour(
    client: Client, settings: Settings, session: AsyncSession
) -> None:
    """Each change mails a typed-in address: a few an hour, typos (invalid ones) count."""
    prefs = await subscribe_confirmed(client, settings, "manga@example.se")
    page = await client.get(prefs)
    token = csrf(page.text)
    codes = []
    for n in range(ADDRESS_CHANGES_PER_HOUR + 1):
        address = "inte-en-adress" if n == 0 else f"ny{n}@example.se"
        answer = await client.post(
            prefs + "/adress", data={"_csrf_token": token, "new_email": address}
        )
        codes.append(answer.status_code)
    assert codes == [422] + [200] * (ADDRESS_CHANGES_PER_HOUR - 1) + [422]
    assert MESSAGES["change_rate"] in answer.text
    subject = "Bekräfta din nya e-postadress"
    sent = [m["To"] for m in mails(settings) if m["Subject"] == subject]
    assert len(sent) == ADDRESS_CHANGES_PER_HOUR - 1


async def test_address_change_to_an_address_in_use_is_refused(
    client: Client, settings: Settings, session: AsyncSession
) -> None:
    await subscribe_confirmed(client, settings, "upptagen@example.se")
    prefs = await subscribe_confirmed(client, settings, "byter@example.se")
    page = await client.get(prefs)
    await client.post(
        prefs + "/adress", data={"_csrf_token": csrf(page.text), "new_email": "upptagen@example.se"}
    )
    url = link(text_of(mails(settings)[-1]), "/bekrafta/")
    confirm_page = await client.get(url)
    assert confirm_page.status_code == 200
    refused = await client.post(url)
    assert refused.status_code == 409
    assert "Adressen används redan" in refused.text
    assert await _get(session, "byter@example.se") is not None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("inte-en-adress", "Det ser inte ut som en giltig e-postadress"),
        ("a@example.se\r\nBcc: b@example.se", "otillåtna tecken"),
        ("same@example.se", "Det är redan den adress vi har."),
    ],
)
async def test_bad_new_address(
    client: Client, settings: Settings, value: str, message: str
) -> None:
    prefs = await subscribe_confirmed(client, settings, "same@example.se")
    sent = len(mails(settings))
    page = await client.get(prefs)
    response = await client.post(
        prefs + "/adress", data={"_csrf_token": csrf(page.text), "new_email": value}
    )
    assert response.status_code == 422
    assert message in response.text
    assert 'aria-describedby="new_email-tips new_email-fel"' in response.text
    assert len(mails(settings)) == sent


async def test_pending_signup_is_confirmed_with_the_latest_details(
    client: Client, settings: Settings, session: AsyncSession
) -> None:
    await signup(client, "detaljer@example.se", name="Först", organisation="Region Halland")
    sub = await _get(session, "detaljer@example.se")
    assert sub is not None and sub.name == "Först"
