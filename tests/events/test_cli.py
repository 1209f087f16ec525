"""``innanforskapet events list / attendees / export`` through click, on both backends."""

from __future__ import annotations

import csv
import io

from service.settings import Settings
from tests.conftest import run_cli as run


def test_list_attendees_and_export(demo_loaded: Settings) -> None:
    listed = run(demo_loaded, "events", "list")
    assert listed.exit_code == 0, listed.output
    assert "bekräftade (av 120)" in listed.output and "bekräftade (av 2)" in listed.output
    people = run(demo_loaded, "events", "attendees", "2")
    assert people.exit_code == 0, people.output
    assert "Eva Strand" in people.output and "Reservlista" in people.output
    exported = run(demo_loaded, "events", "export", "2")
    assert exported.exit_code == 0, exported.output
    rows = list(csv.reader(io.StringIO(exported.output)))
    assert rows[0][:2] == ["Namn", "E-post"]
    assert {row[0] for row in rows[1:]} == {"Eva Strand", "Ali Karimi", "Maja Berg"}


def test_empty_and_bad_ids(settings: Settings) -> None:
    empty = run(settings, "events", "list")
    assert empty.exit_code == 0 and "Inga evenemang med anmälan ännu." in empty.output
    for command in ("attendees", "export"):
        bad = run(settings, "events", command, "999")
        assert bad.exit_code == 1
        assert "Fel: Det finns ingen anmälan till det här evenemanget." in bad.output
    notanumber = run(settings, "events", "export", "abc")
    assert notanumber.exit_code == 1 and "är inget evenemangsnummer" in notanumber.output
