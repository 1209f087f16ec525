"""Fixtures for the operations tests (the shared ones are in tests/conftest.py)."""

from tests.delivery.mailbox import dovecot, dovecot_remote  # noqa: F401 - a private Dovecot per test
