"""Delivery: audience snapshot, per-recipient ledger, workers, SMTP pool, retries, bounces."""
