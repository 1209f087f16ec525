"""Cross-cutting records: audit log, shared rate-limit counters, server-side sessions."""
