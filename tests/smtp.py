"""A real SMTP server for tests (aiosmtpd in a thread) with injectable error replies."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        msg = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    # Replies to give to the next DATA commands, e.g. "451 4.3.0 Try later".
    data_replies: deque[str] = field(default_factory=deque)
    # Per-recipient RCPT replies: address -> reply (every time) e.g. "550 5.1.1 No such user".
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    # Replies for the next RCPT commands regardless of address.
    rcpt_once: deque[str] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # While set, DATA is answered only once ``release`` is set (a slow server); ``held``
    # is set when a message is waiting.
    hold: bool = False
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        with self.lock:
            if self.rcpt_once:
                reply = self.rcpt_once.popleft()
                if not reply.startswith("2"):
                    return reply
            elif address in self.rcpt_replies:
                return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.hold:
            self.held.set()
            while not self.release.is_set():
                await asyncio.sleep(0.01)
        with self.lock:
            if self.data_replies:
                reply = self.data_replies.popleft()
                if not reply.startswith("2"):
                    return reply
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
            )
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, port: int, host: str = "127.0.0.1", *, smtputf8: bool = True) -> None:
        self.host = host
        self.port = port
        self.handler = _Handler()
        self._controller = Controller(
            self.handler, hostname=host, port=port, enable_SMTPUTF8=smtputf8
        )

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def fail_next_data(self, *replies: str) -> None:
        with self.handler.lock:
            self.handler.data_replies.extend(replies)

    def refuse_recipient(self, address: str, reply: str = "550 5.1.1 No such user") -> None:
        with self.handler.lock:
            self.handler.rcpt_replies[address] = reply

    def fail_next_rcpt(self, *replies: str) -> None:
        with self.handler.lock:
            self.handler.rcpt_once.extend(replies)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


class HungSmtpServer:
    """A listener that accepts connections and never says a word (no greeting): a mail
    server that hangs. Counts the connections it accepted."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port
        self.accepted = threading.Event()
        self._count = 0
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.listen(16)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    @property
    def connections(self) -> int:
        with self._lock:
            return self._count

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self._count += 1
                self._conns.append(conn)
            self.accepted.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Close the listener and every accepted connection (the client sees a reset)."""
        self._sock.close()
        with self._lock:
            for conn in self._conns:
                conn.close()
        self._thread.join(timeout=5)
