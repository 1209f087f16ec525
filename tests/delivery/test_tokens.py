"""The worker's fast link tokens are byte-identical to ``subscribers.links``."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from service.delivery.tokens import LinkTokens
from subscribers import links
from tests.conftest import make_settings

SETTINGS = make_settings(Path("/nonexistent"), "sqlite+aiosqlite:///:memory:")
TOKENS = LinkTokens(SETTINGS)


@hsettings(max_examples=300)
@given(st.integers(min_value=1, max_value=2**53), st.integers(min_value=1, max_value=10_000))
def test_tokens_equal_the_links_module(subscriber_id: int, version: int) -> None:
    assert TOKENS.token(links.UNSUBSCRIBE_PURPOSE, subscriber_id, version) == (
        links.unsubscribe_token(SETTINGS, subscriber_id, version)
    )
    assert TOKENS.token(links.PREFS_PURPOSE, subscriber_id, version) == (
        links.preference_token(SETTINGS, subscriber_id, version)
    )
    # And the subscriber pages accept them.
    token = TOKENS.token(links.UNSUBSCRIBE_PURPOSE, subscriber_id, version)
    assert links.read_token(SETTINGS, links.UNSUBSCRIBE_PURPOSE, token) == (subscriber_id, version)
