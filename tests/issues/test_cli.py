"""``innanforskapet issues list/preview/test-send`` through click, on both backends."""

from __future__ import annotations

import email
import email.policy
import json

import pytest

from service.issues.demo import AUGUST_SLUG
from service.settings import Settings
from tests.conftest import outbox_messages
from tests.conftest import run_cli as run


def test_list_text_and_json(demo_loaded: Settings) -> None:
    text = run(demo_loaded, "issues", "list")
    assert text.exit_code == 0, text.output
    assert f"2019-08-28  skickad     {AUGUST_SLUG}  Nyhetsbrev augusti 2019" in text.output
    assert "utkast" in text.output
    rows = json.loads(run(demo_loaded, "issues", "list", "--format", "json").output)
    assert {"slug": AUGUST_SLUG, "title": "Nyhetsbrev augusti 2019", "status": "sent",
            "date": "2019-08-28"} in rows  # fmt: skip


def test_list_when_empty(settings: Settings) -> None:
    result = run(settings, "issues", "list")
    assert result.exit_code == 0
    assert "Inga nyhetsbrev ännu." in result.output


def test_preview_formats(demo_loaded: Settings) -> None:
    html = run(demo_loaded, "issues", "preview", AUGUST_SLUG, "--format", "html")
    assert html.exit_code == 0, html.output
    assert html.output.startswith('<!doctype html><html lang="sv"')
    assert "Hej Exempel Exempelsson!" in html.output and "%%" not in html.output
    text = run(demo_loaded, "issues", "preview", AUGUST_SLUG, "--format", "text")
    assert "Nyhetsbrev augusti 2019\n=======================" in text.output
    eml = run(demo_loaded, "issues", "preview", AUGUST_SLUG, "--format", "eml")
    assert eml.exit_code == 0
    msg = email.message_from_bytes(eml.stdout_bytes, policy=email.policy.default)
    assert msg["Subject"].startswith("Nyhetsbrev augusti 2019")
    assert not msg["Subject"].startswith("[TEST]")
    assert msg.get_content_type() == "multipart/alternative"


def test_test_send_to_the_outbox(demo_loaded: Settings) -> None:
    result = run(
        demo_loaded,
        "issues",
        "test-send",
        AUGUST_SLUG,
        "--to",
        "a@example.se",
        "--to",
        "b@example.se",
    )
    assert result.exit_code == 0, result.output
    assert "Provutskick skickat till a@example.se." in result.output
    messages = outbox_messages(demo_loaded)
    assert len(messages) == 2
    msg = email.message_from_bytes(messages[0], policy=email.policy.default)
    assert msg["Subject"].startswith("[TEST] Nyhetsbrev augusti 2019")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("preview", "finns-inte"), "Det finns inget nyhetsbrev med adressnamnet ”finns-inte”"),
        (("preview", AUGUST_SLUG, "--format", "pdf"), "Invalid value for '--format'"),
        (("test-send", AUGUST_SLUG, "--to", "inte-en-adress"), "”inte-en-adress”"),
        (("test-send", AUGUST_SLUG), "Missing option '--to'"),
        (("test-send", "finns-inte", "--to", "a@example.se"), "Det finns inget nyhetsbrev"),
        (("list", "--format", "xml"), "Invalid value for '--format'"),
    ],
)
def test_bad_input_exits_non_zero(
    demo_loaded: Settings, args: tuple[str, ...], message: str
) -> None:
    result = run(demo_loaded, "issues", *args)
    assert result.exit_code != 0
    assert message in result.output
    assert outbox_messages(demo_loaded) == []
