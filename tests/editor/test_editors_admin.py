"""Editor accounts in the browser (``/redaktion/redaktorer``) and set-password links."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from datetime import timedelta

import httpx
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.cli import main
from service.core.models import AuditEntry, HttpSession
from service.db import create_engine, create_session_factory, utcnow
from service.editor import service
from service.editor.models import ApiToken, Editor, PasswordLink
from service.errors import Conflict
from service.settings import Settings
from tests.conftest import cli_env, deliver_queued, outbox_messages
from tests.editor.helpers import PASSWORD, login, make_editor, make_token
from tests.pages import Client, csrf

ADMIN = "chef@example.org"
PAGE = "/redaktion/redaktorer"
NEW_PASSWORD = "ett-nytt-långt-lösen"
LINK = re.compile(r"http://testserver\.local(/redaktion/losenord/[A-Za-z0-9_-]+)")


async def _admin(client: Client, session: AsyncSession) -> tuple[int, str]:
    """Log in as an admin; returns the admin's id and a CSRF token of the editors page."""
    admin_id = await make_editor(session, ADMIN, role="admin")
    await login(client, ADMIN)
    page = await client.get(PAGE)
    assert page.status_code == 200, page.text
    return admin_id, csrf(page.text)


def _as_stranger(client: Client) -> httpx.Cookies:
    """Forget the cookies (another browser); returns them to switch back."""
    saved = httpx.Cookies(client.cookies)
    client.cookies.clear()
    return saved


async def _editor(session: AsyncSession, address: str) -> Editor:
    session.expire_all()
    found = (
        await session.execute(select(Editor).where(Editor.email == address))
    ).scalar_one_or_none()
    assert found is not None
    return found


async def _cli(settings: Settings, *args: str) -> Result:
    """``innanforskapet editors ...`` (in a thread: the CLI runs its own event loop)."""
    return await asyncio.to_thread(
        CliRunner(env=cli_env(settings)).invoke, main, ["editors", *args]
    )


async def _count_editors(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count(Editor.id)))).scalar_one())


async def _actions(session: AsyncSession) -> list[tuple[str, str, str | None]]:
    rows = await session.execute(
        select(AuditEntry.actor, AuditEntry.action, AuditEntry.object_id).order_by(AuditEntry.id)
    )
    return [(a, b, c) for a, b, c in rows.all()]


async def test_admin_invites_editor_who_sets_password_and_logs_in(
    client: Client, session: AsyncSession, settings: Settings
) -> None:
    admin_id, token = await _admin(client, session)
    page = await client.get(PAGE)
    assert '<a href="/redaktion/redaktorer">Redaktörer</a>' in page.text
    assert ADMIN in page.text and "Administratör" in page.text
    created = await client.post(
        PAGE,
        data={
            "_csrf_token": token,
            "email": " Ny.Redaktor@Example.org ",
            "name": "Nora Ny",
            "role": "editor",
            "send_mail": "1",
        },
    )
    assert created.status_code == 200, created.text
    assert created.headers["cache-control"] == "no-store"
    assert "Kontot för ny.redaktor@example.org är skapat" in created.text
    assert "Länken mejlas också till ny.redaktor@example.org" in created.text
    deliver_queued(settings)
    assert "Väntar på lösenord" in created.text
    shown = LINK.search(created.text)
    assert shown
    path = shown.group(1)
    # The same link went out by mail, in Swedish, with the expiry.
    [raw] = outbox_messages(settings)
    mail = email.message_from_bytes(raw.split(b"\r\n", 2)[2], policy=email.policy.default)
    assert mail["To"] == "ny.redaktor@example.org"
    assert "Välkommen som redaktör" in str(mail["Subject"])
    text = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert path in text and "gäller till" in text and "Hej Nora Ny!" in text
    new = await _editor(session, "ny.redaktor@example.org")
    assert new.role == "editor" and new.is_active and new.password_set_at is None
    assert (f"editor:{admin_id}", "create", str(new.id)) in await _actions(session)
    # Only the hash of the link is stored.
    stored = (await session.execute(select(PasswordLink.token_hash))).scalars().all()
    assert path.rsplit("/", 1)[1] not in stored and len(stored) == 1

    admin_cookies = _as_stranger(client)
    # An invited editor cannot log in before choosing a password.
    login_page = await client.get("/redaktion/logga-in")
    refused = await client.post(
        "/redaktion/logga-in",
        data={"_csrf_token": csrf(login_page.text), "email": new.email, "password": ""},
    )
    assert refused.status_code == 422
    form = await client.get(path)
    assert form.status_code == 200 and 'value="ny.redaktor@example.org"' in form.text
    assert form.headers["referrer-policy"] == "no-referrer"
    link_token = csrf(form.text)
    weak = await client.post(
        path,
        data={"_csrf_token": link_token, "password": "kort", "password_repeat": "kort"},
    )
    assert weak.status_code == 422 and "minst 10 tecken" in weak.text
    mismatch = await client.post(
        path,
        data={
            "_csrf_token": link_token,
            "password": NEW_PASSWORD,
            "password_repeat": NEW_PASSWORD + "x",
        },
    )
    assert mismatch.status_code == 422 and "Lösenorden stämmer inte överens" in mismatch.text
    done = await client.post(
        path,
        data={"_csrf_token": link_token, "password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/redaktion/logga-in?losenord=1"
    assert "Ditt lösenord är sparat" in (await client.get(done.headers["location"])).text
    await login(client, new.email, NEW_PASSWORD)
    assert (await client.get("/redaktion")).status_code == 200
    # Used up: the link neither opens nor works again.
    again = await client.get(path)
    assert again.status_code == 410 and "redan använts" in again.text
    replay = await client.post(
        path,
        data={"_csrf_token": link_token, "password": "x" * 12, "password_repeat": "x" * 12},
    )
    assert replay.status_code == 410
    # An editor is not an admin: no link in the menu, 403 on the page and its forms.
    assert "Redaktörer</a>" not in (await client.get("/redaktion")).text
    assert (await client.get(PAGE)).status_code == 403
    editor_token = csrf((await client.get("/redaktion")).text)
    for url in (PAGE, f"{PAGE}/{admin_id}/stang-av", f"{PAGE}/{admin_id}/roll"):
        r = await client.post(
            url, data={"_csrf_token": editor_token, "email": "x@example.org", "role": "editor"}
        )
        assert r.status_code == 403, url
        assert "kräver behörigheten administratör" in r.text
    assert await _count_editors(session) == 2
    client.cookies = admin_cookies
    listing = await client.get(PAGE)
    assert "Väntar på lösenord" not in listing.text and "aldrig" not in listing.text


async def test_disabling_ends_sessions_tokens_and_login(
    client: Client, session: AsyncSession
) -> None:
    victim_id = await make_editor(session, "bo@example.org")
    api_token = await make_token(session, "bo@example.org")
    auth = {"Authorization": f"Bearer {api_token}"}
    assert (await client.get("/api/v1/issues", headers=auth)).status_code == 200
    await login(client, "bo@example.org")
    assert (await client.get("/redaktion")).status_code == 200
    victim_cookies = _as_stranger(client)
    admin_id, token = await _admin(client, session)
    disabled = await client.post(
        f"{PAGE}/{victim_id}/stang-av", data={"_csrf_token": token}, follow_redirects=False
    )
    assert disabled.status_code == 303 and disabled.headers["location"] == PAGE + "?klart=avstangd"
    page = await client.get(disabled.headers["location"])
    assert "Kontot är avstängt" in page.text and "Avstängd" in page.text
    # The open session is gone, the token refused, a new login refused.
    sessions = (await session.execute(select(HttpSession.data))).scalars().all()
    assert not any(b'"editor_id":' + str(victim_id).encode() in data for data in sessions)
    admin_cookies = _as_stranger(client)
    client.cookies = victim_cookies
    kicked = await client.get("/redaktion", follow_redirects=False)
    assert kicked.status_code == 303 and "/redaktion/logga-in" in kicked.headers["location"]
    assert (await client.get("/api/v1/issues", headers=auth)).status_code == 401
    login_page = await client.get("/redaktion/logga-in")
    refused = await client.post(
        "/redaktion/logga-in",
        data={
            "_csrf_token": csrf(login_page.text),
            "email": "bo@example.org",
            "password": PASSWORD,
        },
    )
    assert refused.status_code == 422 and "Fel e-postadress eller lösenord." in refused.text
    actions = await _actions(session)
    assert (f"editor:{admin_id}", "disable", str(victim_id)) in actions
    # Enabling restores the login, not the revoked token.
    client.cookies = admin_cookies
    enabled = await client.post(
        f"{PAGE}/{victim_id}/aktivera", data={"_csrf_token": token}, follow_redirects=False
    )
    assert enabled.headers["location"] == PAGE + "?klart=aktiverad"
    _as_stranger(client)
    await login(client, "bo@example.org")
    assert (await client.get("/api/v1/issues", headers=auth)).status_code == 401
    session.expire_all()
    revoked = (await session.execute(select(ApiToken.revoked_at))).scalars().all()
    assert revoked and all(revoked)


async def test_admin_rules_self_and_last_admin(
    client: Client, session: AsyncSession, settings: Settings
) -> None:
    admin_id, token = await _admin(client, session)
    own = await client.post(
        f"{PAGE}/{admin_id}/stang-av", data={"_csrf_token": token}, follow_redirects=False
    )
    assert own.status_code == 409 and "Du kan inte stänga av ditt eget konto." in own.text
    demote = await client.post(
        f"{PAGE}/{admin_id}/roll",
        data={"_csrf_token": token, "role": "editor"},
        follow_redirects=False,
    )
    assert demote.status_code == 409 and "din egen administratörsbehörighet" in demote.text
    assert "Redaktörer" in demote.text  # the page, with the message, not an error page
    me = await _editor(session, ADMIN)
    assert me.is_active and me.role == "admin"
    # Without an acting admin (the CLI) the last active admin is still protected.
    for args in (["disable", ADMIN], ["role", ADMIN, "editor"]):
        result = await _cli(settings, *args)
        assert result.exit_code == 1, result.output
        assert "minst en aktiv administratör" in result.output
    # Another admin, promoted in the browser, makes the change possible.
    other = await make_editor(session, "vice@example.org")
    promoted = await client.post(
        f"{PAGE}/{other}/roll", data={"_csrf_token": token, "role": "admin"}, follow_redirects=False
    )
    assert promoted.headers["location"] == PAGE + "?klart=roll"
    assert (await _editor(session, "vice@example.org")).role == "admin"
    result = await _cli(settings, "role", ADMIN, "editor")
    assert result.exit_code == 0, result.output
    result = await _cli(settings, "list")
    assert "chef@example.org\teditor" in result.output
    # The demoted admin's next request is no longer an admin's.
    assert (await client.get(PAGE)).status_code == 403
    actions = [a[1] for a in await _actions(session)]
    assert actions.count("role") == 2


async def test_two_admins_demoting_each_other_leave_one(settings: Settings) -> None:
    """The admin rows are locked: the second demotion waits, then sees it is the last."""
    engine = create_engine(settings.database_url)
    try:
        factory = create_session_factory(engine)
        async with factory() as setup:
            a = (await service.create_editor(setup, "a@example.org", PASSWORD, role="admin")).id
            b = (await service.create_editor(setup, "b@example.org", PASSWORD, role="admin")).id
            await setup.commit()
        async with factory() as first, factory() as second:
            await service.set_role(first, b, "editor", actor_id=a, actor=f"editor:{a}")
            racing = asyncio.create_task(
                service.set_role(second, a, "editor", actor_id=b, actor=f"editor:{b}")
            )
            await asyncio.sleep(0.3)
            assert not racing.done()  # waiting for the first one's lock
            await first.commit()
            with pytest.raises(Conflict, match="minst en aktiv administratör"):
                await racing
            await second.rollback()
        async with factory() as check:
            roles = dict((await check.execute(select(Editor.email, Editor.role))).all())
        assert roles == {"a@example.org": "admin", "b@example.org": "editor"}
    finally:
        await engine.dispose()


async def test_bad_input_keeps_the_form_and_creates_nothing(
    client: Client, session: AsyncSession
) -> None:
    _, token = await _admin(client, session)
    before = await _count_editors(session)
    cases = [
        ({"email": "inte-en-adress", "name": "Ada"}, 422, "giltig e-postadress"),
        ({"email": ADMIN.upper(), "name": "Ada"}, 409, "Det finns redan en redaktör"),
        ({"email": "ada@example.org", "name": "Ada", "role": "superuser"}, 422, "Välj admin"),
        ({"email": "ada@example.org", "name": "A" * 201}, 422, "högst 200 tecken"),
        ({"email": "", "name": "Ada"}, 422, "Ange en e-postadress."),
        ({"email": "ada@example.org", "name": "Ada\u2028Lovelace"}, 422, "radbrytningar"),
        ({"email": "ada@example.org", "name": "Ada\u202eLovelace"}, 422, "skrivriktningen"),
    ]
    for fields, status, message in cases:
        data = {"_csrf_token": token, "role": "editor", **fields}
        r = await client.post(PAGE, data=data)
        assert r.status_code == status, (fields, r.text)
        assert message in r.text, fields
        assert 'role="alert"' in r.text and 'aria-invalid="true"' in r.text
        if fields["name"] == "Ada":
            assert 'value="Ada"' in r.text  # what was typed is still there
    # No CSRF token: refused before anything happens.
    no_csrf = await client.post(PAGE, data={"email": "ada@example.org", "role": "editor"})
    assert no_csrf.status_code == 403
    wrong_role = await client.post(
        f"{PAGE}/1/roll", data={"_csrf_token": token, "role": "kung"}, follow_redirects=False
    )
    assert wrong_role.status_code == 422 and "Okänd roll" in wrong_role.text
    missing = await client.post(f"{PAGE}/9999/stang-av", data={"_csrf_token": token})
    assert missing.status_code == 404 and "Redaktören finns inte." in missing.text
    assert await _count_editors(session) == before
    anon = _as_stranger(client)
    r = await client.get(PAGE, follow_redirects=False)
    assert r.status_code == 303 and "/redaktion/logga-in" in r.headers["location"]
    client.cookies = anon


async def test_links_expire_are_replaced_and_die_with_the_account(
    client: Client, session: AsyncSession, settings: Settings
) -> None:
    _, token = await _admin(client, session)
    r = await client.post(
        PAGE, data={"_csrf_token": token, "email": "cy@example.org", "role": "editor"}
    )
    assert "Länken har inte mejlats" in r.text
    deliver_queued(settings)
    assert outbox_messages(settings) == []
    match = LINK.search(r.text)
    assert match
    first = match.group(1)
    cy = await _editor(session, "cy@example.org")
    # A new link (e.g. the mail got lost) replaces the earlier one, and is mailed.
    again = await client.post(f"{PAGE}/{cy.id}/lank", data={"_csrf_token": token})
    assert again.status_code == 200 and "Tidigare oanvända länkar gäller inte längre" in again.text
    match = LINK.search(again.text)
    assert match
    second = match.group(1)
    deliver_queued(settings)
    assert second != first and len(outbox_messages(settings)) == 1
    admin_cookies = _as_stranger(client)
    old = await client.get(first)
    assert old.status_code == 410 and "Be en administratör om en ny länk" in old.text
    unknown = await client.get("/redaktion/losenord/" + "x" * 43)
    assert unknown.status_code == 404 and "Länken är ogiltig" in unknown.text
    # Expired.
    await session.execute(update(PasswordLink).values(expires_at=utcnow() - timedelta(minutes=1)))
    await session.commit()
    expired = await client.get(second)
    assert expired.status_code == 410 and "slutat gälla" in expired.text
    page = await client.get("/redaktion/logga-in")
    post = await client.post(
        second,
        data={
            "_csrf_token": csrf(page.text),
            "password": NEW_PASSWORD,
            "password_repeat": NEW_PASSWORD,
        },
    )
    assert post.status_code == 410
    # Disabling the account uses up a fresh link too.
    client.cookies = admin_cookies
    fresh = await client.post(f"{PAGE}/{cy.id}/lank", data={"_csrf_token": token})
    match = LINK.search(fresh.text)
    assert match
    await client.post(f"{PAGE}/{cy.id}/stang-av", data={"_csrf_token": token})
    _as_stranger(client)
    dead = await client.get(match.group(1))
    assert dead.status_code == 410
    assert (await _editor(session, "cy@example.org")).password_set_at is None
