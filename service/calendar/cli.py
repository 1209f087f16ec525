"""Command-line commands of this domain (none yet)."""

from __future__ import annotations

import click


def register(main: click.Group) -> None:
    return None
