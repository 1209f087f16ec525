"""SMTP DATA wire form: dot-stuffing, done once where bodies are built, and undone."""

from __future__ import annotations


def stuff(chunk: bytes) -> bytes:
    """SMTP dot-stuffing of a chunk that starts at the beginning of a line."""
    if chunk.startswith(b"."):
        chunk = b"." + chunk
    return chunk.replace(b"\r\n.", b"\r\n..")


def unstuff(wire: bytes) -> bytes:
    """The message from its DATA wire form (dot-stuffed, ending in ``.\\r\\n``)."""
    if wire.endswith(b"\r\n.\r\n"):
        wire = wire[:-3]
    if wire.startswith(b".."):
        wire = wire[1:]
    return wire.replace(b"\r\n..", b"\r\n.")
