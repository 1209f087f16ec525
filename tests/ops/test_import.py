"""CSV import through the CLI on both backends: Excel files, bad rows, duplicates, dry run."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.core.models import AuditEntry
from service.ops.import_csv import detect_delimiter, detect_encoding, import_subscribers
from service.settings import Settings
from subscribers import service as subs
from subscribers.models import ConsentEvent, Subscriber, Subscription
from subscribers.suppression import suppress
from tests.ops.helpers import arun

LONG_NAME = "Å" * 201

EXCEL_ROWS = [
    "Namn;E-post;Organisation;Roll",
    "Åsa Öberg;asa.oberg@example.se;Region Halland;Samordnare",
    "Märta Ängström;Marta.Angstrom@Example.se;Halmstads kommun;Handläggare",
    "Fel Adress;inte-en-adress;Kommunen;",
    "Tom Adress;;Kommunen;",
    '"Injektion\r\nBcc: x@evil.example";inj@example.se;;',
    f"{LONG_NAME};lang@example.se;;",
    "Åsa igen;ASA.OBERG@example.se;;",
    "Redan Med;redan@example.se;;",
    "Spärrad Person;sparrad@example.se;;",
    "Avslutad Person;avslutad@example.se;;",
    ";;;",
]


def excel_bytes(rows: list[str] = EXCEL_ROWS) -> bytes:
    """What Excel's "CSV (semikolonavgränsad)" writes on Swedish Windows: cp1252 and CRLF."""
    return ("\r\n".join(rows) + "\r\n").encode("cp1252")


async def _prepare(session: AsyncSession, settings: Settings) -> None:
    newsletter = await subs.list_by_slug(session, "nyhetsbrev")
    assert newsletter is not None
    await subs.add_confirmed(session, email="redan@example.se", lists=[newsletter])
    gone = await subs.add_confirmed(session, email="avslutad@example.se", lists=[newsletter])
    for sub in gone.subscriptions:
        sub.status = "unsubscribed"
    await suppress(session, settings, "sparrad@example.se", "erased")
    await session.commit()


async def _counts(session: AsyncSession) -> tuple[int, int, int]:
    session.expire_all()
    people = (await session.execute(select(func.count()).select_from(Subscriber))).scalar_one()
    events = (await session.execute(select(func.count()).select_from(ConsentEvent))).scalar_one()
    audits = (await session.execute(select(func.count()).select_from(AuditEntry))).scalar_one()
    return int(people), int(events), int(audits)


def _rejects(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle, delimiter=";"))


async def test_excel_csv_import_reports_every_row(
    settings: Settings, session: AsyncSession, tmp_path: Path
) -> None:
    await _prepare(session, settings)
    source = tmp_path / "medlemmar.csv"
    source.write_bytes(excel_bytes())
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
        "Medlemsregister 2019",
        "--reject-file",
        str(rejects),
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Teckenkodning: cp1252" in out
    assert "Avgränsare: semikolon" in out
    assert "Lästa rader:        11" in out
    assert "Giltiga (importerade): 2" in out
    assert "Ogiltiga:           5" in out
    assert "Dubbletter:         2" in out
    assert "Spärrade:           2" in out

    rows = _rejects(rejects)
    assert rows[0] == ["rad", "Namn", "E-post", "Organisation", "Roll", "orsak"]
    reasons = {int(r[0]): r[-1] for r in rows[1:]}
    assert len(reasons) == 9  # every row that was not imported, with its reason
    assert "giltig e-postadress" in reasons[4]
    assert reasons[5] == "E-postadress saknas."
    assert "radbrytning" in reasons[6]
    assert reasons[7] == "Fältet ”namn” är för långt (högst 200 tecken)."
    assert reasons[8] == "Adressen finns redan tidigare i filen (rad 2)."
    assert reasons[9] == "Adressen prenumererar redan på listan."
    assert "spärrad" in reasons[10]
    assert "avslutat prenumerationen" in reasons[11]
    assert reasons[12] == "Raden är tom."
    assert rows[1][1:5] == ["Fel Adress", "inte-en-adress", "Kommunen", ""]

    session.expire_all()
    asa = await subs.find_by_address(session, "asa.oberg@example.se")
    marta = await subs.find_by_address(session, "marta.angstrom@example.se")
    assert asa is not None and marta is not None
    assert (asa.name, asa.organisation, asa.role) == ("Åsa Öberg", "Region Halland", "Samordnare")
    assert marta.name == "Märta Ängström"
    assert asa.status == "active" and asa.confirmed_at is not None
    assert [s.status for s in asa.subscriptions] == ["active"]
    events = (
        (await session.execute(select(ConsentEvent).where(ConsentEvent.subscriber_id == asa.id)))
        .scalars()
        .all()
    )
    assert [(e.event, e.lawful_basis, e.source) for e in events] == [
        ("confirmed", "consent", "import:Medlemsregister 2019")
    ]
    assert events[0].consent_text_id is not None
    for address in ("sparrad@example.se", "inj@example.se", "lang@example.se"):
        assert await subs.find_by_address(session, address) is None
    gone = await subs.find_by_address(session, "avslutad@example.se")
    assert gone is not None and [s.status for s in gone.subscriptions] == ["unsubscribed"]


async def test_dry_run_writes_nothing_but_reports_the_same(
    settings: Settings, session: AsyncSession, tmp_path: Path
) -> None:
    await _prepare(session, settings)
    before = await _counts(session)
    source = tmp_path / "medlemmar.csv"
    source.write_bytes(excel_bytes())
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
        "Prov",
        "--dry-run",
    )
    assert result.exit_code == 0, result.output
    assert "Giltiga (skulle importeras): 2" in result.output
    assert "Dubbletter:         2" in result.output
    assert "Provkörning: ingenting har sparats." in result.output
    assert await _counts(session) == before
    default_rejects = tmp_path / "medlemmar.avvisade.csv"
    assert len(_rejects(default_rejects)) == 10


async def test_bom_utf8_comma_file_with_legitimate_interest(
    settings: Settings, session: AsyncSession, tmp_path: Path
) -> None:
    text = "\ufeffE-mail,Name,Org,Role\nbo.akesson@example.se,Bo Åkesson,Laholm,Chef\n"
    text += "lisa@example.se,Lisa Ek,,\nlisa@example.se,Lisa Ek,,\n"
    source = tmp_path / "lista.csv"
    source.write_bytes(text.encode("utf-8"))
    result = await arun(
        settings,
        "subscribers",
        "import",
        str(source),
        "--list",
        "nyhetsbrev",
        "--basis",
        "legitimate-interest",
        "--source",
        "Nätverket",
    )
    assert result.exit_code == 0, result.output
    assert "Teckenkodning: utf-8-sig" in result.output
    assert "Avgränsare: komma" in result.output
    assert "Giltiga (importerade): 2" in result.output
    assert "Dubbletter:         1" in result.output
    bo = await subs.find_by_address(session, "bo.akesson@example.se")
    assert bo is not None and bo.name == "Bo Åkesson" and bo.organisation == "Laholm"
    event = (
        await session.execute(select(ConsentEvent).where(ConsentEvent.subscriber_id == bo.id))
    ).scalar_one()
    assert (event.lawful_basis, event.source, event.consent_text_id) == (
        "legitimate-interest",
        "import:Nätverket",
        None,
    )


async def test_existing_subscriber_not_on_list_is_added(
    settings: Settings, session: AsyncSession, tmp_path: Path
) -> None:
    other = await subs.create_list(session, "kalendarium", "Kalendarium")
    await subs.add_confirmed(session, email="finns@example.se", lists=[other])
    await session.commit()
    source = tmp_path / "a.csv"
    source.write_text("epost\tnamn\nfinns@example.se\tFinns Redan\n", encoding="utf-8")
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
        "x",
    )
    assert result.exit_code == 0, result.output
    assert "Avgränsare: tabb" in result.output
    assert "varav befintliga som läggs till listan: 1" in result.output
    session.expire_all()
    person = await subs.find_by_address(session, "finns@example.se")
    assert person is not None
    assert len([s for s in person.subscriptions if s.status == "active"]) == 2
    memberships = await session.execute(
        select(func.count())
        .select_from(Subscription)
        .where(Subscription.subscriber_id == person.id)
    )
    assert memberships.scalar_one() == 2


async def test_bad_arguments_and_files_are_refused(settings: Settings, tmp_path: Path) -> None:
    good = tmp_path / "ok.csv"
    good.write_text("email\na@example.se\n", encoding="utf-8")
    args = ["subscribers", "import", str(good), "--basis", "consent", "--source", "x"]
    unknown = await arun(settings, *args, "--list", "finns-inte")
    assert unknown.exit_code == 1
    assert "Det finns ingen lista med kortnamnet ”finns-inte”." in unknown.output
    basis = await arun(settings, "subscribers", "import", str(good), "--list", "nyhetsbrev",
                "--basis", "whatever", "--source", "x")  # fmt: skip
    assert basis.exit_code == 2
    source = await arun(settings, *args[:5], "--source", "a\nb", "--list", "nyhetsbrev")
    assert source.exit_code == 1 and "Ange varifrån adresserna kommer" in source.output
    too_long = await arun(settings, *args[:5], "--source", "x" * 58, "--list", "nyhetsbrev")
    assert too_long.exit_code == 1
    headless = tmp_path / "ingen.csv"
    headless.write_text("namn;telefon\nAnna;123\n", encoding="utf-8")
    no_column = await arun(settings, "subscribers", "import", str(headless), "--list", "nyhetsbrev",
                    "--basis", "consent", "--source", "x")  # fmt: skip
    assert no_column.exit_code == 1
    assert "Hittar ingen kolumn med e-postadresser" in no_column.output
    empty = tmp_path / "tom.csv"
    empty.write_bytes(b"")
    nothing = await arun(settings, "subscribers", "import", str(empty), "--list", "nyhetsbrev",
                  "--basis", "consent", "--source", "x")  # fmt: skip
    assert nothing.exit_code == 1 and "Filen är tom." in nothing.output


async def test_file_without_header_row_uses_column_order(
    settings: Settings, session: AsyncSession
) -> None:
    data = "kim@example.se;Kim Lund;Hylte\nnej;Nej;\n".encode("cp1252")
    report = await import_subscribers(
        session,
        settings,
        io.BytesIO(data),
        list_slug="nyhetsbrev",
        basis="consent",
        source="utan rubrik",
        reject_out=io.StringIO(),
    )
    assert (report.rows_read, report.valid, report.invalid) == (2, 1, 1)
    kim = await subs.find_by_address(session, "kim@example.se")
    assert kim is not None and kim.organisation == "Hylte"


async def test_batches_and_progress(settings: Settings, session: AsyncSession) -> None:
    lines = ["email;namn"] + [f"person{i}@example.se;Person {i}" for i in range(250)]
    lines += ["person7@example.se;Dubblett"]
    data = "\n".join(lines).encode()
    seen: list[int] = []
    report = await import_subscribers(
        session,
        settings,
        io.BytesIO(data),
        list_slug="nyhetsbrev",
        basis="consent",
        source="batch",
        progress=seen.append,
        batch_size=100,
    )
    assert (report.valid, report.duplicate) == (250, 1)
    assert seen[-1] == len(data) and seen == sorted(seen) and len(seen) >= 3
    assert await subs.count_active(session, 1) == 250


def test_detection_helpers() -> None:
    assert detect_encoding(io.BytesIO("Åsa;Öberg".encode("cp1252"))) == "cp1252"
    assert detect_encoding(io.BytesIO("Åsa;Öberg".encode())) == "utf-8"
    assert detect_encoding(io.BytesIO("\ufeffÅsa".encode())) == "utf-8-sig"
    # 0x81 is undefined in Windows-1252: charset-normalizer decides.
    assert detect_encoding(io.BytesIO("Åsa;Öberg;".encode("latin-1") + b"\x81" * 3))
    assert detect_delimiter("a;b;c\n1;2;3\n") == ";"
    assert detect_delimiter("a\tb\n1\t2\n") == "\t"
    assert detect_delimiter("email\nx@example.se\n") == ","


async def test_unparseable_rows_nul_bytes_and_split_names(
    settings: Settings, session: AsyncSession
) -> None:
    data = (
        "Förnamn;Efternamn;E-post\r\n"
        "Åsa;Öberg;asa@example.se\r\n"
        f"{'x' * 140_000};Lång;lang@example.se\r\n"
        "Nul\x00;Byte;nul@example.se\r\n"
        "Pär;Ängström;par@example.se\r\n"
    ).encode("cp1252")
    rejects = io.StringIO()
    report = await import_subscribers(
        session,
        settings,
        io.BytesIO(data),
        list_slug="nyhetsbrev",
        basis="consent",
        source="delade namn",
        reject_out=rejects,
    )
    assert (report.rows_read, report.valid, report.invalid) == (4, 2, 2)
    rows = list(csv.reader(io.StringIO(rejects.getvalue()), delimiter=";"))
    assert [r[0] for r in rows[1:]] == ["3", "4"]
    assert "kunde inte läsas" in rows[1][-1]
    assert "styrtecken" in rows[2][-1]
    par = await subs.find_by_address(session, "par@example.se")
    assert par is not None and par.name == "Pär Ängström"


async def test_unicode_separators_and_direction_controls_are_invalid_rows(
    settings: Settings, session: AsyncSession
) -> None:
    data = (
        "Namn;E-post;Organisation;Roll\r\n"
        "Åsa Öberg;asa@example.se;Region Halland;Samordnare\r\n"
        "Rad\u2028Bcc: x@example.se;radsep@example.se;;\r\n"
        "Stycke;stycke@example.se;Kom\u2029munen;\r\n"
        "Nel;nel@example.se;;Hand\u0085läggare\r\n"
        "Anna \u202eAndersson;vand@example.se;;\r\n"
        "Isolat;isolat@example.se;\u2067Kommunen\u2069;\r\n"
    ).encode()
    rejects = io.StringIO()
    report = await import_subscribers(
        session,
        settings,
        io.BytesIO(data),
        list_slug="nyhetsbrev",
        basis="consent",
        source="osynliga tecken",
        reject_out=rejects,
    )
    assert (report.rows_read, report.valid, report.invalid) == (6, 1, 5)
    rows = list(csv.reader(io.StringIO(rejects.getvalue()), delimiter=";"))
    assert [r[0] for r in rows[1:]] == ["3", "4", "5", "6", "7"]
    for row in rows[1:]:
        assert "styrtecken" in row[-1] and "skrivriktningen" in row[-1], row
    for address in ("radsep", "stycke", "nel", "vand", "isolat"):
        assert await subs.find_by_address(session, f"{address}@example.se") is None
    assert await subs.find_by_address(session, "asa@example.se") is not None
