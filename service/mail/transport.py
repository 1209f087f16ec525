"""Transports behind one small Protocol: an outbox directory of .eml files and SMTP.

A transport takes a fully serialised message (bytes, CRLF line endings) and an envelope,
and reports, per recipient, whether it was accepted, temporarily refused (4xx, retry)
or permanently refused (5xx).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib

from service.mail.addresses import NO_SMTPUTF8, UnsendableAddress, ascii_domain, header_form
from service.mail.wire import unstuff
from service.settings import Settings


@dataclass(frozen=True)
class RecipientResult:
    code: int  # SMTP reply code; 250 for accepted
    message: str

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300

    @property
    def temporary(self) -> bool:
        return 400 <= self.code < 500

    @property
    def permanent(self) -> bool:
        return self.code >= 500


@dataclass
class SendResult:
    per_recipient: dict[str, RecipientResult] = field(default_factory=dict)

    @property
    def all_ok(self) -> bool:
        return all(r.ok for r in self.per_recipient.values())


class Transport(Protocol):
    name: str

    async def send(self, sender: str, recipients: list[str], message: bytes) -> SendResult: ...

    async def send_prepared(self, sender: str, recipients: list[str], wire: bytes) -> SendResult:
        """Send DATA bytes that are already CRLF-normalised, dot-stuffed and end in
        ``.\\r\\n`` (see ``service.mail.wire``)."""
        ...

    async def close(self) -> None: ...


class OutboxTransport:
    """Writes each message as one ``.eml`` file into a directory (the default without SMTP)."""

    name = "outbox"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, sender: str, recipients: list[str], message: bytes) -> SendResult:
        await asyncio.to_thread(self._write, sender, recipients, message)
        return SendResult({r: RecipientResult(250, "queued in outbox") for r in recipients})

    async def send_prepared(self, sender: str, recipients: list[str], wire: bytes) -> SendResult:
        return await self.send(sender, recipients, unstuff(wire))

    def _write(self, sender: str, recipients: list[str], message: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{uuid.uuid4().hex}.eml"
        tmp = self.directory / f".{name}.tmp"
        envelope = f"X-Envelope-From: <{sender}>\r\nX-Envelope-To: {', '.join(recipients)}\r\n"
        with open(tmp, "wb") as fh:
            fh.write(envelope.encode("utf-8"))
            fh.write(message)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.rename(self.directory / name)

    async def close(self) -> None:
        return None


def _envelope_recipients(path: Path) -> list[str]:
    with open(path, "rb") as fh:
        head = fh.read(4096)
    for line in head.split(b"\r\n")[:2]:
        if line.startswith(b"X-Envelope-To: "):
            value = line.removeprefix(b"X-Envelope-To: ").decode("utf-8", "replace")
            return [r.strip() for r in value.split(",")]
    return []


def forget_in_outbox(directory: Path, address: str) -> int:
    """Erasure: delete the outbox's copies of mails to ``address``; returns how many."""
    if not directory.is_dir():
        return 0
    wanted = {address, header_form(address)}
    removed = 0
    for path in directory.glob("*.eml"):
        try:
            if wanted & set(_envelope_recipients(path)):
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def prune_outbox(directory: Path, older_than_seconds: float, *, now: float | None = None) -> int:
    """Delete outbox files older than ``older_than_seconds``; returns how many."""
    import time

    if not directory.is_dir():
        return 0
    cutoff = (time.time() if now is None else now) - older_than_seconds
    removed = 0
    for path in directory.glob("*.eml"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


@dataclass(frozen=True)
class SmtpEndpoint:
    hostname: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool

    @classmethod
    def from_url(cls, url: str) -> SmtpEndpoint:
        parts = urlsplit(url)
        scheme = parts.scheme
        default_port = 465 if scheme == "smtps" else (587 if scheme == "smtp+starttls" else 25)
        return cls(
            hostname=parts.hostname or "localhost",
            port=parts.port or default_port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=scheme == "smtps",
            start_tls=scheme == "smtp+starttls",
        )


class SmtpTransport:
    """A pool of reused SMTP connections; one message at a time per connection.

    A connection is opened lazily, recycled after ``recycle_after`` messages, and closed
    on any error so that the next send reopens it.
    """

    name = "smtp"

    def __init__(
        self,
        endpoint: SmtpEndpoint,
        *,
        pool_size: int = 4,
        recycle_after: int = 500,
        timeout: float = 30.0,
        local_hostname: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.recycle_after = recycle_after
        self.timeout = timeout
        self.local_hostname = local_hostname
        self._idle: asyncio.Queue[_PooledConnection] = asyncio.Queue()
        for _ in range(pool_size):
            self._idle.put_nowait(_PooledConnection())

    async def send(self, sender: str, recipients: list[str], message: bytes) -> SendResult:
        conn = await self._idle.get()
        try:
            return await conn.send(self, sender, recipients, message)
        finally:
            self._idle.put_nowait(conn)

    async def send_prepared(self, sender: str, recipients: list[str], wire: bytes) -> SendResult:
        conn = await self._idle.get()
        try:
            return await conn.send(self, sender, recipients, wire, prepared=True)
        finally:
            self._idle.put_nowait(conn)

    async def close(self) -> None:
        conns: list[_PooledConnection] = []
        while not self._idle.empty():
            conns.append(self._idle.get_nowait())
        for conn in conns:
            await conn.close()
            self._idle.put_nowait(conn)


class _PooledConnection:
    def __init__(self) -> None:
        self.client: aiosmtplib.SMTP | None = None
        self.sent = 0

    async def _connect(self, owner: SmtpTransport) -> aiosmtplib.SMTP:
        ep = owner.endpoint
        client = aiosmtplib.SMTP(
            hostname=ep.hostname,
            port=ep.port,
            use_tls=ep.use_tls,
            start_tls=ep.start_tls if ep.start_tls else False,
            timeout=owner.timeout,
            local_hostname=owner.local_hostname,
        )
        await client.connect()
        if ep.username and ep.password:
            await client.login(ep.username, ep.password)
        self.sent = 0
        return client

    async def send(
        self,
        owner: SmtpTransport,
        sender: str,
        recipients: list[str],
        message: bytes,
        *,
        prepared: bool = False,
    ) -> SendResult:
        """Send to ``recipients`` (as stored: Unicode); results are keyed the same way.

        Domains go out in IDNA form; a local part beyond ASCII needs SMTPUTF8, and a
        server without it gets no such mail (a permanent refusal with the reason).
        """
        result = SendResult()
        wire: dict[str, str] = {}  # wire form -> address as given
        for rcpt in recipients:
            try:
                wire[ascii_domain(rcpt)] = rcpt
            except UnsendableAddress as exc:
                result.per_recipient[rcpt] = RecipientResult(553, str(exc))
        if not wire:
            return result
        utf8 = not sender.isascii() or any(not w.isascii() for w in wire)
        try:
            if self.client is None or not self.client.is_connected:
                self.client = await self._connect(owner)
            if utf8:
                await self.client._ehlo_or_helo_if_needed()
                if not self.client.supports_extension("smtputf8"):
                    for rcpt in wire.values():
                        result.per_recipient[rcpt] = RecipientResult(553, NO_SMTPUTF8)
                    return result
            if prepared:
                refused = await _send_wire(self.client, sender, list(wire), message, utf8=utf8)
            else:
                refused, _reply = await self.client.sendmail(
                    sender, list(wire), message, mail_options=["SMTPUTF8"] if utf8 else None
                )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            for err in exc.recipients:
                given = wire.get(err.recipient, err.recipient)
                result.per_recipient[given] = RecipientResult(err.code, err.message)
            await self._reset()
            return result
        except aiosmtplib.SMTPResponseException as exc:
            await self.close()
            for rcpt in wire.values():
                result.per_recipient[rcpt] = RecipientResult(exc.code, exc.message)
            return result
        except (aiosmtplib.SMTPException, OSError) as exc:
            await self.close()
            for rcpt in wire.values():
                result.per_recipient[rcpt] = RecipientResult(451, f"connection error: {exc}")
            return result
        self.sent += 1
        for address, rcpt in wire.items():
            if address in refused:
                resp = refused[address]
                result.per_recipient[rcpt] = RecipientResult(resp.code, resp.message)
            else:
                result.per_recipient[rcpt] = RecipientResult(250, "accepted")
        if self.sent >= owner.recycle_after:
            await self.close()
        return result

    async def _reset(self) -> None:
        if self.client is not None and self.client.is_connected:
            try:
                await self.client.rset()
            except (aiosmtplib.SMTPException, OSError):
                await self.close()

    async def close(self) -> None:
        if self.client is not None:
            try:
                if self.client.is_connected:
                    await self.client.quit()
            except (aiosmtplib.SMTPException, OSError):
                self.client.close()
            self.client = None


async def _send_wire(
    client: aiosmtplib.SMTP, sender: str, recipients: list[str], wire: bytes, *, utf8: bool
) -> dict[str, aiosmtplib.SMTPResponse]:
    """MAIL, RCPT, DATA with bytes that are already in wire form.

    aiosmtplib's ``sendmail``/``data`` run two regex passes over every body (line-ending
    normalisation and dot-stuffing); our byte templates do both once per issue, so here
    the DATA payload is written as is. Raises like ``sendmail``.
    """
    await client._ehlo_or_helo_if_needed()
    for address in (sender, *recipients):
        if any(c in address for c in "\r\n\x00<> "):
            raise aiosmtplib.SMTPRecipientsRefused(
                [aiosmtplib.SMTPRecipientRefused(553, "invalid address", address)]
            )
    size = f" SIZE={len(wire) - 3}" if client.supports_extension("size") else ""
    if utf8:
        size += " SMTPUTF8"
    # Envelope addresses come from our own normalised data, so the RFC 5322 parse that
    # ``client.mail``/``client.rcpt`` run per address (costly for long VERP addresses)
    # is skipped.
    response = await client.execute_command(f"MAIL FROM:<{sender}>{size}".encode())
    if response.code != 250:
        raise aiosmtplib.SMTPSenderRefused(response.code, response.message, sender)
    refused: dict[str, aiosmtplib.SMTPResponse] = {}
    errors: list[aiosmtplib.SMTPRecipientRefused] = []
    for rcpt in recipients:
        response = await client.execute_command(f"RCPT TO:<{rcpt}>".encode())
        if response.code not in (250, 251):
            errors.append(aiosmtplib.SMTPRecipientRefused(response.code, response.message, rcpt))
            refused[rcpt] = response
    if len(errors) == len(recipients):
        raise aiosmtplib.SMTPRecipientsRefused(errors)
    protocol = client.protocol
    if protocol is None or protocol._command_lock is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    async with protocol._command_lock:
        protocol._response_pending = True
        protocol.write(b"DATA\r\n")
        start = await protocol.read_response(timeout=client.timeout)
        if start.code != 354:
            raise aiosmtplib.SMTPDataError(start.code, start.message)
        protocol._response_pending = True
        protocol.write(wire)
        response = await protocol.read_response(timeout=client.timeout)
        if response.code != 250:
            raise aiosmtplib.SMTPDataError(response.code, response.message)
    return refused


def make_transport(settings: Settings) -> Transport:
    """The SMTP transport when ``INNAN_SMTP_URL`` is set, otherwise the outbox directory."""
    if settings.smtp_url:
        return SmtpTransport(
            SmtpEndpoint.from_url(settings.smtp_url),
            pool_size=settings.smtp_pool_size,
            recycle_after=settings.smtp_recycle_after,
            timeout=settings.smtp_timeout,
            local_hostname=settings.mail_domain or None,
        )
    return OutboxTransport(settings.outbox_dir)
