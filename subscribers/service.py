"""The subscribers domain as other domains see it: the few functions they call, with
stable names and signatures. Other packages (and their tests and benchmarks) import
these from here; the domain's own modules import each other directly:

* ``await unsubscribe(session, settings, subscriber_id, *, channel, list_ids=None)`` —
  withdraw from the given lists (all when ``None``); idempotent; one ``withdrawn``
  ledger row per list actually left. ``channel``: "one-click", "preference-centre",
  "mailto", "editor", "bounce" (:mod:`subscribers.unsubscribe`).
* ``await unsubscribe_by_token(session, settings, token, *, channel) -> bool`` — the
  same from the token in a List-Unsubscribe link (the ``mailto:`` handler uses it with
  channel "mailto"); False for a forged token.
* ``await erase(session, settings, subscriber_id, *, actor)`` — Art. 17: deletes the
  person, their subscriptions, ledger rows and tokens, and what other domains hold
  about them (their :class:`PersonalData` holders); only HMAC-SHA256 of the address
  stays in ``suppressions`` (reason "erased"); an audit entry without the address
  (:mod:`subscribers.privacy`).
* ``await run_retention(session, settings, now=None) -> dict[str, int]`` — daily purge:
  unconfirmed signups older than ``INNAN_UNCONFIRMED_DAYS`` are deleted; unsubscribed
  (``INNAN_UNSUBSCRIBED_DAYS``) and bounced (``INNAN_BOUNCED_DAYS``) people are deleted
  with their ledger, and their address is kept only as a suppression HMAC so that an
  import or an editor cannot mail them again by accident.
* ``await find_by_address(session, normalised) -> Subscriber | None``.
* Lists: ``all_lists``, ``list_by_slug``, ``count_active``, ``create_list``.
* ``await add_confirmed(session, *, email, lists, ...)`` — a subscriber whose consent
  was obtained elsewhere (import, demo, editor).
* ``await request_address_change(session, settings, subscriber, raw_address)``.
* :class:`PersonalData` and :func:`export_time` — what a domain that keeps rows about a
  subscriber implements (and names in ``service.personal_data.HOLDERS``) so that
  export, erasure and retention cover them (:mod:`subscribers.privacy`).

The delivery worker composes a queued signup's confirmation mail with
``subscribers.signup:process_signup`` (named in ``service.delivery.outbound.COMPOSERS``).

Everything takes an ``AsyncSession`` (the caller commits) and raises
:mod:`service.errors` exceptions with Swedish messages.
"""

from __future__ import annotations

from subscribers.lists import all_lists, count_active, create_list, list_by_slug
from subscribers.people import find_by_address
from subscribers.preferences import request_address_change
from subscribers.privacy import PersonalData, erase, export_time, run_retention
from subscribers.signup import add_confirmed
from subscribers.unsubscribe import unsubscribe, unsubscribe_by_token

__all__ = [
    "PersonalData",
    "add_confirmed",
    "all_lists",
    "count_active",
    "create_list",
    "erase",
    "export_time",
    "find_by_address",
    "list_by_slug",
    "request_address_change",
    "run_retention",
    "unsubscribe",
    "unsubscribe_by_token",
]
