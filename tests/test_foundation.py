"""The foundation: settings validation, migrations on both backends, health, errors, mail."""

from __future__ import annotations

import sys
import unicodedata
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from service.core.text import has_control_chars
from service.mail.compose import HeaderInjection, build_message, to_bytes
from service.mail.transport import OutboxTransport, SmtpEndpoint, SmtpTransport
from service.settings import Settings, SettingsError, load_settings
from subscribers.models import ConsentText, MailingList
from tests.conftest import outbox_messages
from tests.smtp import SmtpServer


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"INNAN_PORT": "abc"}, "INNAN_PORT"),
        ({"INNAN_PORT": "0"}, "INNAN_PORT"),
        ({"INNAN_BASE_URL": "ftp://x"}, "INNAN_BASE_URL"),
        ({"INNAN_DATABASE_URL": "mysql://x"}, "INNAN_DATABASE_URL"),
        ({"INNAN_SMTP_URL": "http://mail"}, "INNAN_SMTP_URL"),
        ({"INNAN_MAIL_FROM": "not an address"}, "INNAN_MAIL_FROM"),
        ({"INNAN_ENV": "staging"}, "INNAN_ENV"),
        ({"INNAN_ENV": "production", "INNAN_BASE_URL": "https://x.se"}, "INNAN_SECRET_KEY"),
        ({"INNAN_SECRET_KEY": "short"}, "INNAN_SECRET_KEY"),
        ({"INNAN_RUN_WORKERS": "maybe"}, "INNAN_RUN_WORKERS"),
        ({"INNAN_UNCONFIRMED_DAYS": "-1"}, "INNAN_UNCONFIRMED_DAYS"),
        ({"INNAN_DKIM_SELECTOR": "s1"}, "INNAN_DKIM_SELECTOR"),
        ({"INNAN_ORG_NAME": "a\nb"}, "INNAN_ORG_NAME"),
    ],
)
def test_bad_settings_name_the_variable(tmp_path: Path, env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({"INNAN_VAR_DIR": str(tmp_path), **env})
    assert variable in str(info.value)


def test_dev_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = load_settings({"INNAN_VAR_DIR": str(tmp_path)})
    second = load_settings({"INNAN_VAR_DIR": str(tmp_path)})
    assert len(first.secret_key) >= 32
    assert first.secret_key == second.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_defaults(tmp_path: Path) -> None:
    s = load_settings({"INNAN_VAR_DIR": str(tmp_path)})
    assert s.database_url == f"sqlite+aiosqlite:///{tmp_path / 'innanforskapet.db'}"
    assert s.base_url == "http://127.0.0.1:8000"
    assert s.outbox_dir == tmp_path / "outbox"
    assert s.smtp_url is None
    assert (s.host, s.port) == ("127.0.0.1", 8000)


async def test_migrations_seed_default_list_and_texts(session: object) -> None:
    from sqlalchemy.ext.asyncio import AsyncSession

    assert isinstance(session, AsyncSession)
    lists = (await session.execute(select(MailingList))).scalars().all()
    assert [lst.name for lst in lists] == ["Innanförskapet – nyhetsbrev"]
    kinds = sorted(t.kind for t in (await session.execute(select(ConsentText))).scalars())
    assert kinds == ["consent", "privacy"]


async def test_health_and_readiness(client: AsyncTestClient[Litestar]) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


async def test_readiness_reports_pending_migrations(tmp_path: Path) -> None:
    from service.app import create_app
    from service.migrate import upgrade
    from tests.conftest import make_settings

    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "base")  # a database nobody has migrated yet
    app = create_app(make_settings(tmp_path, url))
    async with AsyncTestClient(app=app) as c:
        response = await c.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "migrations-pending"


async def test_unknown_page_is_a_swedish_404(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/finns-inte", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert 'lang="sv"' in response.text
    assert "Sidan hittades inte" in response.text


async def test_home_page_in_swedish(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert "Prenumerera" in response.text


def test_refused_characters_are_exactly_the_documented_set() -> None:
    """Cc, Zl, Zp, Cs and the bidi controls in single-line text; multi-line keeps CR LF tab."""
    bidi = {
        chr(c) for c in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
    }
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        refused = unicodedata.category(char) in ("Cc", "Zl", "Zp", "Cs") or char in bidi
        assert has_control_chars(f"a{char}b") is refused, hex(code)
        assert has_control_chars(f"a{char}b", multiline=True) is (
            refused and char not in "\r\n\t"
        ), hex(code)


def test_header_injection_rejected(settings: Settings) -> None:
    with pytest.raises(HeaderInjection):
        build_message(settings, to="a@example.se", subject="Hej\r\nBcc: x@y.se", text="t")


async def test_outbox_writes_one_eml_per_mail(settings: Settings) -> None:
    msg = build_message(settings, to="anna@example.se", subject="Välkommen å ä ö", text="Hej")
    result = await OutboxTransport(settings.outbox_dir).send(
        "bounce@innanforskapet.test", ["anna@example.se"], to_bytes(msg)
    )
    assert result.all_ok
    files = outbox_messages(settings)
    assert len(files) == 1
    assert b"=?utf-8?" in files[0]


async def test_smtp_transport_reports_per_recipient(
    settings: Settings, smtp_server: SmtpServer
) -> None:
    smtp_server.refuse_recipient("nej@example.se")
    transport = SmtpTransport(SmtpEndpoint.from_url(smtp_server.url), pool_size=1)
    msg = to_bytes(build_message(settings, to="ja@example.se", subject="Test", text="Hej"))
    result = await transport.send("b@innanforskapet.test", ["ja@example.se", "nej@example.se"], msg)
    assert result.per_recipient["ja@example.se"].ok
    assert result.per_recipient["nej@example.se"].permanent
    smtp_server.fail_next_data("451 4.3.0 Försök senare")
    again = await transport.send("b@innanforskapet.test", ["ja@example.se"], msg)
    assert again.per_recipient["ja@example.se"].temporary
    await transport.close()
    assert len(smtp_server.received) == 1
    assert smtp_server.received[0].message["Subject"] == "Test"


async def test_anonymous_requests_store_no_session(
    client: AsyncTestClient[Litestar], session: object
) -> None:
    """Readers get no session cookie and cost no session row (only editors log in)."""
    from sqlalchemy import func
    from sqlalchemy.ext.asyncio import AsyncSession

    from service.core.models import HttpSession

    assert isinstance(session, AsyncSession)
    for path in ("/", "/static/site.css", "/healthz", "/finns-inte"):
        response = await client.get(path)
        assert "innan_session" not in response.headers.get("set-cookie", ""), path
    rows = (await session.execute(select(func.count()).select_from(HttpSession))).scalar_one()
    assert rows == 0


async def test_migrations_match_the_models(db_url: str) -> None:
    """The migrated schema is what the models declare (a model change needs a migration)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.engine import Connection

    import service.models  # noqa: F401 - registers every table
    from service.db import Base, create_engine

    def diff(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))

    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == []
