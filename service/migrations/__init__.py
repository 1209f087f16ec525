"""Alembic migrations (run with ``innanforskapet db upgrade``)."""
