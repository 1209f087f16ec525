"""The foundation: settings validation, migrations on both backends, health, errors, sessions."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from service.settings import SettingsError, load_settings
from subscribers.models import ConsentText, MailingList


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
