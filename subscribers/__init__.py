"""Subscribers: lists, subscriptions, the consent ledger, double opt-in, the preference
centre, one-click unsubscribe, export/erasure, suppression, retention and import."""
