"""Tests of the operations domain: import, backup/restore, data migration, check-config, deploy."""
