"""Operations: backup/restore, data migration, import, check-config, deployment helpers."""
