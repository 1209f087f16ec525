"""Login, logout, session rotation, rate limit, bearer tokens, guards and the CLI."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from litestar import Request, get
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import create_app
from service.core.models import AuditEntry, HttpSession
from service.db import create_engine, create_session_factory
from service.editor.auth import hash_password, verify_password
from service.editor.guards import (
    LOGIN_REDIRECT,
    admin_guard,
    api_guard,
    current_editor,
    editor_guard,
)
from service.editor.models import ApiToken, Editor
from service.settings import Settings
from tests.conftest import cli_env, make_settings
from tests.editor.helpers import (
    PASSWORD,
    ProxiedClient,
    behind_proxy,
    login,
    make_editor,
    make_token,
    try_login,
)
from tests.pages import Client, csrf


def test_argon2id_hash() -> None:
    hashed = hash_password("hemligt-lösen")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "hemligt-lösen")
    assert not verify_password(hashed, "fel")
    assert not verify_password("inte-en-hash", "fel")


async def test_login_rotates_session_and_logout(client: Client, session: AsyncSession) -> None:
    await make_editor(session)
    page = await client.get("/redaktion/logga-in?next=/redaktion/kalender")
    assert "Logga in på redaktionen" in page.text
    before = client.cookies.get("innan_session")
    response = await client.post(
        "/redaktion/logga-in",
        data={
            "_csrf_token": csrf(page.text),
            "email": "RED@example.org",
            "password": PASSWORD,
            "next": "/redaktion/kalender",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/redaktion/kalender"
    after = client.cookies.get("innan_session")
    assert after and after != before
    actions = (await session.execute(select(AuditEntry.action))).scalars().all()
    assert "login" in actions
    out = await client.post(
        "/redaktion/logga-ut", data={"_csrf_token": csrf(page.text)}, follow_redirects=False
    )
    assert out.status_code == 303


async def test_logout_deletes_the_cookie_and_the_session(
    client: Client, session: AsyncSession
) -> None:
    await make_editor(session)
    await login(client)
    old = client.cookies.get("innan_session")
    assert old and (await client.get("/redaktion", follow_redirects=False)).status_code == 200
    page = await client.get("/redaktion")
    out = await client.post(
        "/redaktion/logga-ut", data={"_csrf_token": csrf(page.text)}, follow_redirects=False
    )
    assert out.status_code == 303
    cookies = [c for c in out.headers.get_list("set-cookie") if c.startswith("innan_session=")]
    assert len(cookies) == 1, out.headers.get_list("set-cookie")
    attributes = {
        part.split("=", 1)[0].strip().lower(): part.partition("=")[2]
        for part in cookies[0].split(";")[1:]
    }
    assert attributes.get("max-age") == "0", cookies[0]  # the browser drops it at once
    # The old cookie, kept by someone who copied it, no longer logs anyone in.
    assert (await session.get(HttpSession, old)) is None
    client.cookies.clear()
    client.cookies.set("innan_session", old)
    again = await client.get("/redaktion", follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"].startswith("/redaktion/logga-in")


async def test_wrong_password_and_open_redirect(client: Client, session: AsyncSession) -> None:
    await make_editor(session)
    page = await client.get("/redaktion/logga-in")
    bad = await client.post(
        "/redaktion/logga-in",
        data={
            "_csrf_token": csrf(page.text),
            "email": "red@example.org",
            "password": "fel",
            "next": "https://evil.example/",
        },
    )
    assert bad.status_code == 422
    assert "Fel e-postadress eller lösenord." in bad.text
    ok = await client.post(
        "/redaktion/logga-in",
        data={
            "_csrf_token": csrf(page.text),
            "email": "red@example.org",
            "password": PASSWORD,
            "next": "https://evil.example/",
        },
        follow_redirects=False,
    )
    assert ok.headers["location"] == "/redaktion"


async def test_login_needs_csrf(client: Client, session: AsyncSession) -> None:
    await make_editor(session)
    await client.get("/redaktion/logga-in")
    response = await client.post(
        "/redaktion/logga-in", data={"email": "red@example.org", "password": PASSWORD}
    )
    assert response.status_code == 403


ATTACKER, OWNER, OTHER = "203.0.113.9", "198.51.100.7", "192.0.2.44"


@pytest.fixture
async def proxied(tmp_path: Path, db_url: str) -> AsyncIterator[ProxiedClient]:
    """A client behind the reverse proxy (it picks the client address per request), with
    at most 3 failed logins per address and client address (so 9 per client address)."""
    settings = make_settings(tmp_path, db_url, INNAN_LOGIN_ATTEMPTS_PER_15MIN="3")
    engine = create_engine(settings.database_url)
    async with create_session_factory(engine)() as session:
        await make_editor(session)
        await make_editor(session, "chef@example.org")
    await engine.dispose()
    app = behind_proxy(create_app(settings))
    async with AsyncTestClient(app, base_url="http://testserver.local") as client:
        yield client


async def _token(client: ProxiedClient) -> str:
    return csrf((await client.get("/redaktion/logga-in")).text)


async def test_an_attacker_is_throttled_while_the_owner_logs_in_from_elsewhere(
    proxied: ProxiedClient, db_url: str, tmp_path: Path
) -> None:
    token = await _token(proxied)
    answers = [
        (await try_login(proxied, "red@example.org", f"gissning-{n}", ATTACKER, token))
        for n in range(12)
    ]
    assert [a.status_code for a in answers] == [422] * 3 + [429] * 9
    assert "För många inloggningsförsök" in answers[-1].text
    # A client told to wait is told for how long (the 15-minute window), and a typo is not.
    assert answers[-1].headers["retry-after"] == "900"
    assert "retry-after" not in answers[0].headers
    # Once throttled, even the right password from the attacker's address is refused:
    # the answer must not confirm a guess.
    assert (
        await try_login(proxied, "red@example.org", PASSWORD, ATTACKER, token)
    ).status_code == 429
    # The owner, from an address that has not been failing, logs in.
    owner = await try_login(proxied, "red@example.org", PASSWORD, OWNER, token)
    assert owner.status_code == 303 and owner.headers["location"] == "/redaktion"
    assert (await proxied.get("/redaktion", follow_redirects=False)).status_code == 200
    # ... and the attacker is still throttled afterwards.
    assert (await try_login(proxied, "red@example.org", "igen", ATTACKER, token)).status_code == 429
    settings = make_settings(tmp_path, db_url)
    engine = create_engine(settings.database_url)
    async with create_session_factory(engine)() as session:
        entries = (await session.execute(select(AuditEntry.actor, AuditEntry.action))).all()
    await engine.dispose()
    assert entries.count((f"ip:{ATTACKER}", "login_failed")) == 3
    assert (f"ip:{ATTACKER}", "login_rate_limited") in entries
    assert ("editor:1", "login") in entries


async def test_failed_logins_are_limited_per_client_address_across_accounts(
    proxied: ProxiedClient,
) -> None:
    token = await _token(proxied)
    # One wrong password each for nine addresses from one client address: the per-address
    # limit (3) is never reached, the per-client-address limit (3 x 3) is.
    for n in range(9):
        wrong = await try_login(proxied, f"person{n}@example.org", "fel", ATTACKER, token)
        assert wrong.status_code == 422, n
    assert (
        await try_login(proxied, "annan@example.org", "fel", ATTACKER, token)
    ).status_code == 429
    assert (
        await try_login(proxied, "chef@example.org", PASSWORD, ATTACKER, token)
    ).status_code == 429
    assert (await try_login(proxied, "chef@example.org", PASSWORD, OTHER, token)).status_code == 303


async def test_an_ipv6_attacker_cannot_escape_by_rotating_addresses(
    proxied: ProxiedClient,
) -> None:
    token = await _token(proxied)
    answers = [
        await try_login(proxied, "red@example.org", "fel", f"2001:db8:1:2::{n:x}", token)
        for n in range(1, 6)
    ]
    assert [a.status_code for a in answers] == [422] * 3 + [429] * 2
    # Another /64 is another client.
    owner = await try_login(proxied, "red@example.org", PASSWORD, "2001:db8:1:3::1", token)
    assert owner.status_code == 303


async def test_successful_logins_are_not_counted(proxied: ProxiedClient) -> None:
    token = await _token(proxied)
    for _ in range(10):  # more than the 9 failures a client address may have
        assert (
            await try_login(proxied, "red@example.org", PASSWORD, OWNER, token)
        ).status_code == 303
    # Two typos, a login, two more typos: the typos before the login are forgiven.
    for _ in range(2):
        assert (await try_login(proxied, "red@example.org", "fel", OWNER, token)).status_code == 422
    assert (await try_login(proxied, "red@example.org", PASSWORD, OWNER, token)).status_code == 303
    for _ in range(2):
        assert (await try_login(proxied, "red@example.org", "fel", OWNER, token)).status_code == 422
    assert (await try_login(proxied, "red@example.org", PASSWORD, OWNER, token)).status_code == 303


def _normalised(page: str, email: str) -> str:
    page = re.sub(r'name="_csrf_token" value="[^"]+"', 'name="_csrf_token" value=""', page)
    return page.replace(email, "ADRESS")


async def test_unknown_accounts_answer_like_known_ones(proxied: ProxiedClient) -> None:
    token = await _token(proxied)
    long_unknown = "x" * 240 + "@example.org"  # longer than a rate-limit key may be
    runs: dict[str, list[tuple[int, str]]] = {}
    for email, ip in (
        ("red@example.org", ATTACKER),
        ("okand@example.org", OWNER),
        (long_unknown, OTHER),
    ):
        answers = [await try_login(proxied, email, "fel", ip, token) for _ in range(4)]
        runs[email] = [(a.status_code, _normalised(a.text, email)) for a in answers]
    known = runs["red@example.org"]
    assert [status for status, _ in known] == [422, 422, 422, 429]
    assert runs["okand@example.org"] == known
    assert runs[long_unknown] == known


@get("/redaktion/test-skyddad", guards=[editor_guard], exception_handlers=LOGIN_REDIRECT)
async def protected(request: Request[Any, Any, Any]) -> str:
    return f"hej {current_editor(request).email}"


@get("/api/v1/test-skyddad", guards=[api_guard])
async def protected_api(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {"email": current_editor(request).email}


@get("/api/v1/test-admin", guards=[api_guard, admin_guard])
async def admin_api(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {"ok": "ja"}


async def test_guards(settings: Settings, session: AsyncSession) -> None:
    app = create_app(settings)
    for handler in (protected, protected_api, admin_api):
        app.register(handler)
    await make_editor(session)
    token = await make_token(session)
    async with AsyncTestClient(app, base_url="http://testserver.local") as client:
        anon = await client.get("/redaktion/test-skyddad", follow_redirects=False)
        assert anon.status_code == 303
        assert anon.headers["location"] == "/redaktion/logga-in?next=%2Fredaktion%2Ftest-skyddad"
        await login(client)
        assert (await client.get("/redaktion/test-skyddad")).text == "hej red@example.org"

        no_token = await client.get("/api/v1/test-skyddad")
        assert no_token.status_code == 401
        assert "API-nyckel saknas" in no_token.json()["error"]
        bad = await client.get("/api/v1/test-skyddad", headers={"Authorization": "Bearer fel"})
        assert bad.status_code == 401
        auth = {"Authorization": f"Bearer {token}"}
        assert (await client.get("/api/v1/test-skyddad", headers=auth)).json() == {
            "email": "red@example.org"
        }
        assert (await client.get("/api/v1/test-admin", headers=auth)).status_code == 403
    stored = (await session.execute(select(ApiToken.token_hash))).scalars().all()
    assert token not in stored and len(stored[0]) == 64


def test_cli_create_list_token(settings: Settings) -> None:
    from service.cli import main

    runner = CliRunner(env=cli_env(settings))
    created = runner.invoke(
        main,
        [
            "editors",
            "create",
            "Admin@Example.org",
            "--role",
            "admin",
            "--name",
            "Ada",
            "--password-stdin",
        ],
        input="ett-långt-lösenord\n",
    )
    assert created.exit_code == 0, created.output
    assert "admin@example.org" in created.output
    again = runner.invoke(
        main,
        ["editors", "create", "admin@example.org", "--password-stdin"],
        input="ett-långt-lösenord\n",
    )
    assert again.exit_code == 1 and "finns redan" in again.output
    short = runner.invoke(
        main, ["editors", "create", "b@example.org", "--password-stdin"], input="kort\n"
    )
    assert short.exit_code == 1 and "minst 10 tecken" in short.output
    bad = runner.invoke(
        main,
        ["editors", "create", "inte-en-adress", "--password-stdin"],
        input="ett-långt-lösenord\n",
    )
    assert bad.exit_code == 1
    role = runner.invoke(main, ["editors", "create", "c@example.org", "--role", "kung"])
    assert role.exit_code == 2
    listed = runner.invoke(main, ["editors", "list"])
    assert "admin@example.org\tadmin\tAda" in listed.output
    token = runner.invoke(main, ["editors", "token", "create", "admin@example.org", "--name", "ci"])
    assert token.exit_code == 0 and token.output.startswith("innan_")


__all__ = ["Editor"]


async def test_token_ui_create_use_revoke(client: Client, session: AsyncSession) -> None:
    await make_editor(session)
    await login(client)
    page = await client.get("/redaktion/nycklar")
    token = csrf(page.text)
    empty = await client.post("/redaktion/nycklar", data={"_csrf_token": token, "name": ""})
    assert empty.status_code == 422 and "Ge nyckeln ett namn" in empty.text
    made = await client.post("/redaktion/nycklar", data={"_csrf_token": token, "name": "skript"})
    import re

    found = re.search(r'id="ny-nyckel">([^<]+)<', made.text)
    assert found
    auth = {"Authorization": f"Bearer {found.group(1)}"}
    assert (await client.get("/api/v1/issues", headers=auth)).status_code == 200
    token_id = (await session.execute(select(ApiToken.id))).scalar_one()
    await client.post(f"/redaktion/nycklar/{token_id}/aterkalla", data={"_csrf_token": token})
    assert (await client.get("/api/v1/issues", headers=auth)).status_code == 401
