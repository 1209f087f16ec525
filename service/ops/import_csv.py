"""CSV import of subscribers: encoding and delimiter detection, row validation, batched inserts.

Used by ``innanforskapet subscribers import`` and by the admin page ``/redaktion/import``.
The file is streamed: memory does not grow with its size (duplicates within the file
are remembered in a temporary on-disk SQLite table, not in a Python set). Every row
read ends in exactly one of four counts - valid, invalid, duplicate, suppressed - and
every row that is not imported is written to the reject file with a Swedish reason.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.core import audit, csvsafe
from service.core.addresses import normalise_address
from service.core.text import has_control_chars
from service.db import begin_immediate, utcnow
from service.errors import ValidationFailed
from service.ops.messages import FIELD_NAMES, IMPORT_ERRORS, REJECT_REASONS
from service.security.signing import address_hmac
from service.settings import Settings
from subscribers.models import (
    ConsentEvent,
    ConsentText,
    MailingList,
    Subscriber,
    Subscription,
    Suppression,
)

BASES = ("consent", "legitimate-interest")
MAX_FIELD = 200
MAX_SOURCE = 64 - len("import:")
BATCH_SIZE = 1000
SAMPLE_BYTES = 64 * 1024

# Header spellings (lower-cased, spaces/underscores removed) -> our field.
HEADER_ALIASES = {
    "email": {"email", "e-mail", "epost", "e-post", "mail", "e-postadress", "epostadress", "mejl"},
    "name": {"namn", "name", "fullständigtnamn", "fullname", "förochefternamn"},
    "organisation": {"organisation", "org", "organization", "företag", "förbund", "myndighet"},
    "role": {"roll", "role", "titel", "title", "befattning"},
    "first_name": {"förnamn", "fornamn", "firstname", "givenname"},
    "last_name": {"efternamn", "lastname", "surname", "familyname"},
}


@dataclass
class ImportReport:
    """What an import did (or, with ``dry_run``, would do)."""

    list_slug: str
    basis: str
    source: str
    dry_run: bool
    encoding: str = ""
    delimiter: str = ""
    rows_read: int = 0
    valid: int = 0
    invalid: int = 0
    duplicate: int = 0
    suppressed: int = 0
    new_subscribers: int = 0
    added_to_existing: int = 0

    @property
    def rejected(self) -> int:
        return self.invalid + self.duplicate + self.suppressed

    @property
    def balanced(self) -> bool:
        return self.valid + self.rejected == self.rows_read

    def lines(self) -> list[str]:
        """The report in Swedish, one line per figure."""
        verb = "skulle importeras" if self.dry_run else "importerade"
        out = [
            f"Lista: {self.list_slug}  Rättslig grund: {self.basis}  Källa: import:{self.source}",
            f"Teckenkodning: {self.encoding}  Avgränsare: {_delimiter_name(self.delimiter)}",
            f"Lästa rader:        {self.rows_read}",
            f"Giltiga ({verb}): {self.valid}",
            f"  varav nya prenumeranter: {self.new_subscribers}",
            f"  varav befintliga som läggs till listan: {self.added_to_existing}",
            f"Ogiltiga:           {self.invalid}",
            f"Dubbletter:         {self.duplicate}",
            f"Spärrade:           {self.suppressed}",
        ]
        if self.dry_run:
            out.append("Provkörning: ingenting har sparats.")
        return out


def _delimiter_name(delimiter: str) -> str:
    return {",": "komma", ";": "semikolon", "\t": "tabb"}.get(delimiter, repr(delimiter))


# ----------------------------------------------------------------------------- detection


def detect_encoding(stream: IO[bytes]) -> str:
    """``utf-8-sig``, ``utf-8``, ``cp1252`` or charset-normalizer's guess; rewinds ``stream``.

    Strict UTF-8 is tried over the whole file first (streamed), since Windows-1252 bytes
    almost never form valid UTF-8 while the reverse guess is often wrong.
    """
    stream.seek(0)
    head = stream.read(4)
    stream.seek(0)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        while chunk := stream.read(SAMPLE_BYTES):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
        stream.seek(0)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    stream.seek(0)
    cp1252 = codecs.getincrementaldecoder("cp1252")("strict")
    try:
        while chunk := stream.read(SAMPLE_BYTES):
            cp1252.decode(chunk)
        stream.seek(0)
        return "cp1252"
    except UnicodeDecodeError:
        pass
    stream.seek(0)
    from charset_normalizer import from_bytes

    best = from_bytes(stream.read(SAMPLE_BYTES * 4)).best()
    stream.seek(0)
    if best is None:
        raise ValidationFailed(IMPORT_ERRORS["undecodable"])
    return str(best.encoding)


def detect_delimiter(sample: str) -> str:
    """``,``, ``;`` or tab, by csv.Sniffer on a sample; falls back to counting in line one."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        first = sample.splitlines()[0] if sample else ""
        counts = {d: first.count(d) for d in (";", ",", "\t")}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def _header_key(cell: str) -> str:
    return cell.strip().lstrip("\ufeff").lower().replace(" ", "").replace("_", "")


def map_header(row: list[str]) -> dict[str, int] | None:
    """Column index per field when ``row`` is a header row naming an address column."""
    columns: dict[str, int] = {}
    for index, cell in enumerate(row):
        key = _header_key(cell)
        for fld, aliases in HEADER_ALIASES.items():
            if key in aliases and fld not in columns:
                columns[fld] = index
    return columns if "email" in columns else None


# ----------------------------------------------------------------------------- rows


@dataclass
class _Row:
    number: int
    cells: list[str]
    unreadable: bool = False
    email: str = ""
    name: str = ""
    organisation: str = ""
    role: str = ""


@dataclass
class _Batch:
    rows: list[_Row] = field(default_factory=list)


def _validate(row: _Row, columns: dict[str, int]) -> str | None:
    """The Swedish reason ``row`` is invalid, or None (filling its normalised fields)."""
    if row.unreadable:
        return REJECT_REASONS["unreadable"]
    if not any(cell.strip() for cell in row.cells):
        return REJECT_REASONS["empty_row"]
    values: dict[str, str] = {}
    for fld, index in columns.items():
        cell = row.cells[index] if index < len(row.cells) else ""
        # A cell our own CSV writer neutralised ("'=…") reads as the value it was.
        values[fld] = csvsafe.restore(cell.strip()).strip()
    if any(has_control_chars(v) for v in values.values()):
        return REJECT_REASONS["line_break"]
    first, last = values.pop("first_name", ""), values.pop("last_name", "")
    if not values.get("name") and (first or last):
        values["name"] = f"{first} {last}".strip()
    if not values["email"]:
        return REJECT_REASONS["no_address"]
    for fld in ("name", "organisation", "role"):
        if len(values.get(fld, "")) > MAX_FIELD:
            return REJECT_REASONS["too_long"].format(field=FIELD_NAMES[fld], max=MAX_FIELD)
    try:
        row.email = normalise_address(values["email"])
    except ValidationFailed as exc:
        return exc.message
    row.name = values.get("name", "")
    row.organisation = values.get("organisation", "")
    row.role = values.get("role", "")
    return None


class _SeenAddresses:
    """Addresses met earlier in the file, kept on disk so memory stays flat."""

    def __init__(self) -> None:
        self._tmp = tempfile.NamedTemporaryFile(prefix="innan-import-", suffix=".db")  # noqa: SIM115
        self._db = sqlite3.connect(self._tmp.name)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE seen (h INTEGER PRIMARY KEY, row INTEGER NOT NULL)")

    @staticmethod
    def _key(address: str) -> int:
        return int.from_bytes(hashlib.blake2b(address.encode(), digest_size=8).digest(), "big") >> 1

    def first_rows(self, addresses: list[str]) -> dict[str, int]:
        """Earlier row number of each address already seen."""
        keys = {self._key(a): a for a in addresses}
        found: dict[str, int] = {}
        items = list(keys)
        for start in range(0, len(items), 500):
            chunk = items[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for h, row in self._db.execute(f"SELECT h, row FROM seen WHERE h IN ({marks})", chunk):
                found[keys[h]] = row
        return found

    def add(self, pairs: list[tuple[str, int]]) -> None:
        self._db.executemany(
            "INSERT OR IGNORE INTO seen (h, row) VALUES (?, ?)",
            [(self._key(a), n) for a, n in pairs],
        )

    def close(self) -> None:
        self._db.close()
        self._tmp.close()


class RejectWriter:
    """Writes rejected rows as CSV: row number, the original values, the reason.

    Every cell goes through ``service.core.csvsafe``: a value that would start a formula
    in a spreadsheet gets a leading quote (the import strips it again on reading).
    """

    def __init__(self, out: IO[str] | None, delimiter: str) -> None:
        self._writer = csvsafe.writer(out, delimiter=delimiter) if out is not None else None
        self._header_written = False

    def header(self, original: list[str]) -> None:
        if self._writer is not None and not self._header_written:
            self._writer.writerow(["rad", *original, "orsak"])
            self._header_written = True

    def reject(self, row: _Row, reason: str) -> None:
        if self._writer is not None:
            self._writer.writerow([row.number, *row.cells, reason])


def _records(reader: Iterator[list[str]], first_number: int) -> Iterator[_Row]:
    """Rows with their numbers; a row the csv module cannot parse becomes an unreadable row."""
    number = first_number
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield _Row(number=number, cells=[], unreadable=True)
        else:
            yield _Row(number=number, cells=cells)
        number += 1


# ----------------------------------------------------------------------------- import


async def import_subscribers(
    session: AsyncSession,
    settings: Settings,
    stream: IO[bytes],
    *,
    list_slug: str,
    basis: str,
    source: str,
    dry_run: bool = False,
    reject_out: IO[str] | None = None,
    actor: str = "cli",
    progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportReport:
    """Import the CSV in ``stream`` (binary, seekable) into the list ``list_slug``.

    Commits once per batch unless ``dry_run``, also in the import page's request
    session: short write transactions, so a 100 000-row import does not hold SQLite's
    write lock (or one PostgreSQL transaction) for its whole length. Every refusal of
    the file as a whole (ValidationFailed) comes before the first batch. ``progress`` is
    called with the number of bytes consumed so far after each batch.
    """
    if basis not in BASES:
        message = IMPORT_ERRORS["bad_basis"]
        raise ValidationFailed(message, fields={"basis": message})
    source = (source or "").strip()
    if not source or len(source) > MAX_SOURCE or has_control_chars(source):
        message = IMPORT_ERRORS["bad_source"].format(max=MAX_SOURCE)
        raise ValidationFailed(message, fields={"source": message})
    mailing_list = (
        await session.execute(select(MailingList).where(MailingList.slug == list_slug))
    ).scalar_one_or_none()
    if mailing_list is None:
        message = IMPORT_ERRORS["unknown_list"].format(slug=list_slug)
        raise ValidationFailed(message, fields={"list": message})

    report = ImportReport(list_slug=list_slug, basis=basis, source=source, dry_run=dry_run)
    report.encoding = detect_encoding(stream)
    # utf-8(-sig) and cp1252 were verified over the whole file; a guessed codec may not hold.
    strict = report.encoding in ("utf-8", "utf-8-sig", "cp1252")
    text = io.TextIOWrapper(
        stream, encoding=report.encoding, errors="strict" if strict else "replace", newline=""
    )
    try:
        sample = text.read(SAMPLE_BYTES)
        if not sample.strip():
            raise ValidationFailed(IMPORT_ERRORS["empty_file"])
        report.delimiter = detect_delimiter(sample)
        text.seek(0)
        reader = csv.reader(text, delimiter=report.delimiter)
        try:
            first = next(reader, None)
        except csv.Error:
            message = IMPORT_ERRORS["no_email_column"]
            raise ValidationFailed(message, fields={"file": message}) from None
        if first is None:
            raise ValidationFailed(IMPORT_ERRORS["empty_file"])
        columns = map_header(first)
        rejects = RejectWriter(reject_out, report.delimiter)
        if columns is None:
            if "@" not in (first[0] if first else ""):
                message = IMPORT_ERRORS["no_email_column"]
                raise ValidationFailed(message, fields={"file": message})
            # No header row: email, name, organisation, role by position.
            columns = {"email": 0, "name": 1, "organisation": 2, "role": 3}
            rejects.header(["e-post", "namn", "organisation", "roll"][: max(len(first), 1)])
            rows: Iterator[_Row] = _chain_first(_Row(1, first), _records(reader, 2))
        else:
            rejects.header(first)
            rows = _records(reader, 2)
        context = await _ImportContext.load(session, settings, mailing_list, basis, source)
        seen = _SeenAddresses()
        try:
            batch: list[_Row] = []
            for row in rows:
                report.rows_read += 1
                reason = _validate(row, columns)
                if reason is not None:
                    report.invalid += 1
                    rejects.reject(row, reason)
                    continue
                batch.append(row)
                if len(batch) >= batch_size:
                    await _process(session, context, batch, seen, report, rejects, actor)
                    batch = []
                    if progress is not None:
                        progress(stream.tell())
            if batch:
                await _process(session, context, batch, seen, report, rejects, actor)
            if progress is not None:
                progress(stream.tell())
        finally:
            seen.close()
    finally:
        text.detach()
    if dry_run:
        assert report.balanced
        return report
    audit.record(
        session,
        actor,
        "subscribers.import",
        "mailing_list",
        list_slug,
        basis=basis,
        source="import:" + source,
        rows=report.rows_read,
        valid=report.valid,
        invalid=report.invalid,
        duplicate=report.duplicate,
        suppressed=report.suppressed,
    )
    await session.commit()
    assert report.balanced
    return report


def _chain_first(first: _Row, rest: Iterator[_Row]) -> Iterator[_Row]:
    yield first
    yield from rest


@dataclass
class _ImportContext:
    settings: Settings
    mailing_list: MailingList
    basis: str
    source: str
    consent_text_id: int | None
    privacy_notice_id: int | None
    purpose: str

    @classmethod
    async def load(
        cls,
        session: AsyncSession,
        settings: Settings,
        mailing_list: MailingList,
        basis: str,
        source: str,
    ) -> _ImportContext:
        async def current(kind: str) -> int | None:
            found = await session.execute(
                select(ConsentText.id)
                .where(ConsentText.kind == kind, ConsentText.language == "sv")
                .order_by(ConsentText.version.desc())
                .limit(1)
            )
            return found.scalar_one_or_none()

        return cls(
            settings=settings,
            mailing_list=mailing_list,
            basis=basis,
            source="import:" + source,
            consent_text_id=await current("consent") if basis == "consent" else None,
            privacy_notice_id=await current("privacy"),
            purpose=f"Att få utskicket ”{mailing_list.name}” med e-post"[:200],
        )


async def _process(
    session: AsyncSession,
    context: _ImportContext,
    batch: list[_Row],
    seen: _SeenAddresses,
    report: ImportReport,
    rejects: RejectWriter,
    actor: str,
) -> None:
    """Classify one batch of syntactically valid rows and (unless dry run) insert it."""
    earlier = seen.first_rows([r.email for r in batch])
    fresh: list[_Row] = []
    in_batch: dict[str, int] = {}
    for row in batch:
        first_row = earlier.get(row.email) or in_batch.get(row.email)
        if first_row is not None:
            report.duplicate += 1
            rejects.reject(row, REJECT_REASONS["duplicate_in_file"].format(row=first_row))
            continue
        in_batch[row.email] = row.number
        fresh.append(row)
    seen.add([(r.email, r.number) for r in fresh])
    if not fresh:
        return

    if not report.dry_run:
        await begin_immediate(session)
    secret = context.settings.secret_key
    hmacs = {r.email: address_hmac(secret, r.email) for r in fresh}
    suppressed = set(
        (
            await session.execute(
                select(Suppression.address_hmac).where(
                    Suppression.address_hmac.in_(list(hmacs.values()))
                )
            )
        ).scalars()
    )
    existing_rows = await session.execute(
        select(Subscriber.id, Subscriber.email, Subscriber.status).where(
            Subscriber.email.in_([r.email for r in fresh])
        )
    )
    existing = {email: (sid, status) for sid, email, status in existing_rows}
    memberships: dict[int, str] = {}
    if existing:
        found = await session.execute(
            select(Subscription.subscriber_id, Subscription.status).where(
                Subscription.list_id == context.mailing_list.id,
                Subscription.subscriber_id.in_([sid for sid, _ in existing.values()]),
            )
        )
        memberships = {sid: status for sid, status in found}

    new_rows: list[_Row] = []
    add_existing: list[tuple[_Row, int, str, str | None]] = []
    for row in fresh:
        if hmacs[row.email] in suppressed:
            report.suppressed += 1
            rejects.reject(row, REJECT_REASONS["suppressed"])
            continue
        if row.email not in existing:
            new_rows.append(row)
            continue
        sid, status = existing[row.email]
        membership = memberships.get(sid)
        if membership == "active":
            report.duplicate += 1
            rejects.reject(row, REJECT_REASONS["already_subscribed"])
        elif membership == "unsubscribed" or status in ("unsubscribed", "bounced"):
            report.suppressed += 1
            rejects.reject(row, REJECT_REASONS["withdrawn"])
        else:
            add_existing.append((row, sid, status, membership))
    report.valid += len(new_rows) + len(add_existing)
    report.new_subscribers += len(new_rows)
    report.added_to_existing += len(add_existing)
    if report.dry_run:
        return

    now = utcnow()
    ids: dict[str, int] = {}
    if new_rows:
        result = await session.execute(
            insert(_table(Subscriber)).returning(
                _table(Subscriber).c.id, _table(Subscriber).c.email
            ),
            [
                {
                    "email": r.email,
                    "name": r.name,
                    "organisation": r.organisation,
                    "role": r.role,
                    "language": "sv",
                    "status": "active",
                    "created_at": now,
                    "confirmed_at": now,
                    "updated_at": now,
                    "token_version": 1,
                    "soft_bounces": 0,
                    "hard_bounces": 0,
                }
                for r in new_rows
            ],
        )
        ids = {email: sid for sid, email in result}
    pending_ids = [sid for _row, sid, status, _m in add_existing if status != "active"]
    if pending_ids:
        await session.execute(
            update(Subscriber)
            .where(Subscriber.id.in_(pending_ids))
            .values(status="active", confirmed_at=now, updated_at=now)
        )
    reactivate = [sid for _row, sid, _s, membership in add_existing if membership is not None]
    if reactivate:
        await session.execute(
            update(Subscription)
            .where(
                Subscription.list_id == context.mailing_list.id,
                Subscription.subscriber_id.in_(reactivate),
            )
            .values(status="active", confirmed_at=now)
        )
    targets = [(r, ids[r.email]) for r in new_rows] + [
        (row, sid) for row, sid, _s, _m in add_existing
    ]
    new_memberships = [
        {
            "subscriber_id": sid,
            "list_id": context.mailing_list.id,
            "status": "active",
            "created_at": now,
            "confirmed_at": now,
        }
        for row, sid in targets
        if sid not in memberships
    ]
    if new_memberships:
        await session.execute(insert(_table(Subscription)), new_memberships)
    await session.execute(
        insert(_table(ConsentEvent)),
        [
            {
                "subscriber_id": sid,
                "list_id": context.mailing_list.id,
                "list_slug": context.mailing_list.slug,
                "event": "confirmed",
                "purpose": context.purpose,
                "lawful_basis": context.basis,
                "source": context.source,
                "channel": "import",
                "consent_text_id": context.consent_text_id,
                "privacy_notice_id": context.privacy_notice_id,
                "language": "sv",
                "occurred_at": now,
                "requested_at": None,
                "detail": {"row": row.number, "actor": actor},
            }
            for row, sid in targets
        ],
    )
    await session.commit()


def _table(model: Any) -> Table:
    """The Core table of a model: Core bulk inserts skip the ORM's per-row bookkeeping."""
    table: Table = model.__table__
    return table


def report_dict(report: ImportReport) -> dict[str, Any]:
    return {
        "rows_read": report.rows_read,
        "valid": report.valid,
        "invalid": report.invalid,
        "duplicate": report.duplicate,
        "suppressed": report.suppressed,
    }
