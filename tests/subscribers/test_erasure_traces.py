"""Erasure leaves no trace: not in the SQLite files (database and ``-wal``), not in the
outbox transport's mail copies. The probe found the address, name, organisation and role
still readable in the ``-wal`` file, and the mails still in the outbox, after erasure."""

from __future__ import annotations

from pathlib import Path

from service.settings import Settings
from tests.pages import Client, csrf
from tests.subscribers.helpers import mails, subscribe_confirmed

MARKERS = {
    "email": "spar.efter.radering@example.se",
    "name": "Gunvor Raderasson",
    "organisation": "Spårlösa kommunen",
    "role": "Utplånad handläggare",
}


def _files_containing(settings: Settings, needles: list[bytes]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    paths = list(settings.var_dir.rglob("*")) + list(settings.outbox_dir.rglob("*"))
    if settings.is_sqlite:
        db = Path(settings.database_url.split("///", 1)[1])
        paths += [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-journal")]
    for path in paths:
        if not path.is_file():
            continue
        data = path.read_bytes()
        hits = [n.decode() for n in needles if n in data]
        if hits:
            found[str(path)] = hits
    return found


async def test_erased_data_is_not_left_in_the_files(client: Client, settings: Settings) -> None:
    prefs = await subscribe_confirmed(client, settings, MARKERS["email"])
    details = await client.get(prefs)
    saved = await client.post(
        prefs + "/uppgifter",
        data={
            "_csrf_token": csrf(details.text),
            "name": MARKERS["name"],
            "organisation": MARKERS["organisation"],
            "role": MARKERS["role"],
        },
    )
    assert saved.status_code in (200, 303), saved.text
    assert len(mails(settings)) == 2  # confirmation and welcome, in the outbox
    needles = [value.encode() for value in MARKERS.values()]
    assert _files_containing(settings, needles), "the test data should be on disk first"

    erase_page = await client.get(prefs + "/radera")
    erased = await client.post(prefs + "/radera", data={"_csrf_token": csrf(erase_page.text)})
    assert "Dina uppgifter är raderade" in erased.text
    assert _files_containing(settings, needles) == {}
