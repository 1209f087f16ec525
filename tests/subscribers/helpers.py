"""Helpers for the subscriber tests: reading mails from the outbox, links, signing up."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from typing import Any

from service.settings import Settings
from tests.conftest import deliver_queued, outbox_messages
from tests.mails import text_of
from tests.pages import Client


def mails(settings: Settings) -> list[EmailMessage]:
    """Every mail sent so far, oldest first, after the worker sent what is queued."""
    deliver_queued(settings)
    parsed = []
    for raw in outbox_messages(settings):
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        parsed.append(msg)
    return parsed


def link(text: str, prefix: str) -> str:
    """The first URL in ``text`` on this service that starts with ``prefix`` (a path)."""
    found = re.search(r"http://testserver\.local(" + re.escape(prefix) + r"[^\s<>\"]*)", text)
    assert found, f"no link to {prefix} in:\n{text}"
    return found.group(1)


async def signup(client: Client, email_address: str, **fields: Any) -> Any:
    """Post the signup form, then let the worker process the queued request (it records
    the request and sends the confirmation mail, as it does within seconds in service)."""
    data: dict[str, Any] = {"email": email_address, "lists": ["1"]}
    data.update(fields)
    response = await client.post("/prenumerera", data=data)
    deliver_queued(client.app.state.settings)
    return response


async def confirm_latest(client: Client, settings: Settings) -> Any:
    """Follow the confirmation link in the newest mail: GET the page, press the button."""
    # The newest mail with a confirmation link: the worker sends queued mails a few at a
    # time, so a welcome mail queued just before may have arrived after it.
    url = next(
        link(text, "/bekrafta/")
        for text in (text_of(m) for m in reversed(mails(settings)))
        if "/bekrafta/" in text
    )
    page = await client.get(url)
    assert page.status_code == 200, page.text
    return await client.post(url)


async def subscribe_confirmed(client: Client, settings: Settings, address: str) -> str:
    """Sign up and confirm; returns the preference-centre path from the welcome mail."""
    response = await signup(client, address)
    assert response.status_code == 200, response.text
    confirmed = await confirm_latest(client, settings)
    assert confirmed.status_code == 200, confirmed.text
    return link(text_of(mails(settings)[-1]), "/installningar/")
