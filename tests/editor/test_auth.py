"""Login, logout, session rotation, rate limit, bearer tokens, guards and the CLI."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner
from litestar import Request, get
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.core.models import AuditEntry, HttpSession
from service.editor.auth import (
    LOGIN_REDIRECT,
    admin_guard,
    api_guard,
    current_editor,
    editor_guard,
    hash_password,
    verify_password,
)
from service.editor.models import ApiToken, Editor
from service.settings import Settings
from tests.conftest import cli_env
from tests.editor.helpers import PASSWORD, Client, csrf, login, make_editor, make_token


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


async def test_login_rate_limit(tmp_path: Any, db_url: str) -> None:
    from litestar.testing import AsyncTestClient

    from service.app import create_app
    from service.db import create_engine, create_session_factory
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, db_url, INNAN_LOGIN_ATTEMPTS_PER_15MIN="2")
    engine = create_engine(settings.database_url)
    async with create_session_factory(engine)() as session:
        await make_editor(session)
    await engine.dispose()
    async with AsyncTestClient(create_app(settings), base_url="http://testserver.local") as client:
        page = await client.get("/redaktion/logga-in")
        token = csrf(page.text)
        for _ in range(2):
            r = await client.post(
                "/redaktion/logga-in",
                data={"_csrf_token": token, "email": "red@example.org", "password": "fel"},
            )
            assert r.status_code == 422
        r = await client.post(
            "/redaktion/logga-in",
            data={"_csrf_token": token, "email": "red@example.org", "password": PASSWORD},
        )
        assert r.status_code == 429
        assert "För många inloggningsförsök" in r.text


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
    from litestar.testing import AsyncTestClient

    from service.app import create_app

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
