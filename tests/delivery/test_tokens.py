"""The worker's fast link tokens are byte-identical to ``subscribers.links``."""

from __future__ import annotations

import hmac
from pathlib import Path

from hypothesis import example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from service.delivery import verp
from service.delivery.tokens import LinkTokens
from service.security.fasthmac import PreparedHmac
from subscribers import links
from tests.conftest import make_settings

SETTINGS = make_settings(Path("/nonexistent"), "sqlite+aiosqlite:///:memory:")
TOKENS = LinkTokens(SETTINGS)


@hsettings(max_examples=300)
@example(999_999, 9)  # the longest payload that is never worth compressing
@example(1_000_000, 1)  # the shortest one that is tried
@example(11_111_111_111_111, 1)  # repetitive enough that itsdangerous compresses it
@given(st.integers(min_value=1, max_value=2**53), st.integers(min_value=1, max_value=10_000))
def test_tokens_equal_the_links_module(subscriber_id: int, version: int) -> None:
    unsubscribe, prefs = TOKENS.tokens(
        (links.UNSUBSCRIBE_PURPOSE, links.PREFS_PURPOSE), subscriber_id, version
    )
    assert unsubscribe == links.unsubscribe_token(SETTINGS, subscriber_id, version)
    assert prefs == links.preference_token(SETTINGS, subscriber_id, version)
    # And the subscriber pages accept them.
    assert links.read_token(SETTINGS, links.UNSUBSCRIBE_PURPOSE, unsubscribe) == (
        subscriber_id,
        version,
    )


@hsettings(max_examples=200)
@given(st.binary(max_size=200), st.binary(max_size=300), st.sampled_from(["sha1", "sha256"]))
def test_prepared_hmac_equals_the_standard_library(key: bytes, message: bytes, name: str) -> None:
    assert PreparedHmac(key, name).digest(message) == hmac.digest(key, message, name)


@given(st.integers(min_value=1, max_value=2**62))
def test_return_paths_keep_their_format_and_verify(delivery_id: int) -> None:
    # Addresses already out in the world (bounces arrive days later) must keep verifying.
    mac = hmac.new(SETTINGS.secret_key.encode(), f"verp:{delivery_id}".encode(), "sha256")
    address = verp.ReturnPaths(SETTINGS).address(delivery_id)
    assert address == f"bounce+{delivery_id}-{mac.hexdigest()[:20]}@{verp.bounce_domain(SETTINGS)}"
    assert verp.delivery_of(SETTINGS, address.upper()) == delivery_id
    assert verp.delivery_of(SETTINGS, address.replace("-", "-0", 1)) is None
