"""Innanförskapet: the core service (settings, database, app factory, CLI and domains)."""
