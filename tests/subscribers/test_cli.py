"""The operator commands, run through click against the test database (both backends)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from service.settings import Settings
from tests.conftest import run_cli as run


def test_lists_create_and_list(settings: Settings) -> None:
    created = run(
        settings, "lists", "create", "kalendarium", "Kalendarium", "--description", "Träffar"
    )
    assert created.exit_code == 0, created.output
    assert "Kalendarium (kalendarium) är skapad" in created.output
    hidden = run(settings, "lists", "create", "ledningsgrupper", "Ledningsgrupper", "--hidden")
    assert hidden.exit_code == 0
    listed = run(settings, "lists", "list")
    assert listed.exit_code == 0
    assert "nyhetsbrev" in listed.output
    assert "kalendarium\tKalendarium\tpublik" in listed.output
    assert "ledningsgrupper\tLedningsgrupper\tdold" in listed.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("Stor Bokstav", "X"), "Kortnamnet får bara innehålla"),
        (("-bad", "X"), "Kortnamnet"),
        (("ok", ""), "Ange ett namn."),
        (("ok", "a\nb"), "styrtecken"),
        (("nyhetsbrev", "Dubblett"), "Det finns redan en lista"),
    ],
)
def test_lists_create_refuses_bad_arguments(
    settings: Settings, args: tuple[str, str], message: str
) -> None:
    result = run(settings, "lists", "create", "--", *args)
    assert result.exit_code != 0
    assert message in result.output


def test_export_show_erase(settings: Settings, tmp_path: Path) -> None:
    assert run(settings, "demo", "load").exit_code == 0
    out = tmp_path / "export.csv"
    exported = run(settings, "subscribers", "export", "--format", "csv", "--output", str(out))
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    anna = next(r for r in rows if r["email"] == "anna.andersson@halmstad.example")
    assert anna["status"] == "active"
    assert anna["lists"] == "kalendarium nyhetsbrev"
    assert anna["confirmed_at"]

    as_json = run(settings, "subscribers", "export", "--format", "json")
    assert as_json.exit_code == 0
    data = json.loads(as_json.output)
    assert {r["email"] for r in data} == {r["email"] for r in rows}

    shown = run(settings, "subscribers", "show", "Anna.Andersson@Halmstad.example")
    assert shown.exit_code == 0, shown.output
    assert "Halmstads kommun" in shown.output
    assert "confirmed nyhetsbrev (källa import, grund consent" in shown.output

    refused = run(settings, "subscribers", "erase", "anna.andersson@halmstad.example", input="n\n")
    assert refused.exit_code != 0
    assert (
        "anna.andersson@halmstad.example"
        in run(settings, "subscribers", "export", "--format", "json").output
    )
    erased = run(settings, "subscribers", "erase", "anna.andersson@halmstad.example", "--yes")
    assert erased.exit_code == 0, erased.output
    assert "raderad" in erased.output
    after = run(settings, "subscribers", "export", "--format", "json").output
    assert "anna.andersson@halmstad.example" not in after


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("subscribers", "show", "inte-en-adress"), "giltig e-postadress"),
        (("subscribers", "show", "okand@example.se"), "ingen prenumerant"),
        (("subscribers", "erase", "okand@example.se", "--yes"), "ingen prenumerant"),
        (("subscribers", "export", "--format", "xml"), "xml"),
    ],
)
def test_subscriber_commands_refuse_bad_arguments(
    settings: Settings, args: tuple[str, ...], message: str
) -> None:
    result = run(settings, *args)
    assert result.exit_code != 0
    assert message in result.output


def test_retention_run_prints_what_it_removed(settings: Settings) -> None:
    result = run(settings, "retention", "run")
    assert result.exit_code == 0, result.output
    assert "Obekräftade anmälningar raderade (äldre än 7 dagar): 0" in result.output
    assert "Avregistrerade raderade" in result.output


def test_consent_text_publish(settings: Settings, tmp_path: Path) -> None:
    text = tmp_path / "samtycke.txt"
    text.write_text("Jag samtycker, version två.\n\nAndra stycket.\n", encoding="utf-8")
    published = run(settings, "consent-text", "publish", "--kind", "consent", "--file", str(text))
    assert published.exit_code == 0, published.output
    assert "Version 2" in published.output
    assert "/integritet/samtycke/2" in published.output
    privacy = run(
        settings,
        "consent-text",
        "publish",
        "--kind",
        "privacy",
        "--file",
        str(text),
        "--title",
        "Personuppgifter",
    )
    assert privacy.exit_code == 0 and "Version 2 av 'Personuppgifter'" in privacy.output


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        (b"   \n", (), "Texten är tom."),
        (b"\xff\xfe not utf-8", (), "UTF-8"),
        (b"ok", ("--kind", "other"), "other"),
        (None, (), "does not exist"),
    ],
)
def test_consent_text_publish_refuses_bad_input(
    settings: Settings, tmp_path: Path, content: bytes | None, extra: tuple[str, ...], message: str
) -> None:
    path = tmp_path / "t.txt"
    if content is not None:
        path.write_bytes(content)
    args = ["consent-text", "publish", "--kind", "consent", "--file", str(path), *extra]
    result = run(settings, *args)
    assert result.exit_code != 0
    assert message in result.output
