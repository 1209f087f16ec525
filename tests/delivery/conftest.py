"""Fixtures for the delivery tests (the shared ones are in tests/conftest.py)."""

from tests.delivery.mailbox import dovecot, dovecot_remote, dovecot_tls  # noqa: F401 - a private Dovecot per test
