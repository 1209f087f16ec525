"""Issues: content blocks, composition, MJML rendering and per-recipient personalisation."""
