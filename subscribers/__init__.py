"""Subscribers: lists, subscriptions, the consent ledger, double opt-in, the preference
centre, one-click unsubscribe, export/erasure, suppression, retention and import.

Other domains call :mod:`subscribers.service` (and read ``models``, ``links``,
``suppression``). Inside, one module per concern: ``lists``, ``consent_texts``,
``signup``, ``confirmation``, ``preferences``, ``unsubscribe``, ``privacy`` (export,
erasure, retention, and the ``PersonalData`` hook other domains' data joins them by),
with ``people``, ``tokens``, ``ledger`` and ``fields`` for what several of them share;
``handlers`` and ``cli`` translate HTTP and the command line into calls of those.
"""
