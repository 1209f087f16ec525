"""A real mail server for tests: a private Dovecot (IMAP + POP3) on free loopback ports.

The instance lives in its own temporary directory (config, passwd-file, Maildir, sockets,
state and log) and never touches ``/etc/dovecot`` or a system-wide Dovecot. Mail is
delivered the way an MDA does it: a file written into ``Maildir/tmp`` and renamed into
``Maildir/new`` with ``Return-Path`` and ``Delivered-To`` prepended.

Needs Debian's ``dovecot-imapd`` and ``dovecot-pop3d`` (``make system-deps``). Run as
root, Dovecot's own ``dovecot``/``dovenull`` users run its internal and login processes
and the mailbox belongs to ``nobody`` (Dovecot refuses mail access as UID 0); run as
anyone else, every process runs as that user.
"""

from __future__ import annotations

import grp
import imaplib
import itertools
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.conftest import free_ports

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER = "studs"
PASSWORD = "hem@ligt/42%x"  # URL-special characters: the URL must be unquoted
_counter = itertools.count()


@dataclass
class Dovecot:
    root: Path
    # With TLS: a self-signed certificate for 127.0.0.1 (``self.cert``), IMAPS and POP3S
    # listeners, STARTTLS/STLS on the plain ports, and no login before TLS.
    tls: bool = False
    # Where it listens: loopback, or another address of this machine (remote_address) to
    # stand for a mail server across a network.
    host: str = "127.0.0.1"
    imap_port: int = 0
    pop3_port: int = 0
    imaps_port: int = 0
    pop3s_port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        # Four distinct ports, taken together (see free_ports).
        self.imap_port, self.pop3_port, self.imaps_port, self.pop3s_port = free_ports(4)
        if os.getuid() == 0:
            mail = pwd.getpwnam("nobody")
            self.mail_uid, self.mail_gid = mail.pw_uid, mail.pw_gid
            internal_user, internal_group, login_user = "dovecot", "dovecot", "dovenull"
        else:
            self.mail_uid, self.mail_gid = os.getuid(), os.getgid()
            internal_user = login_user = pwd.getpwuid(os.getuid()).pw_name
            internal_group = grp.getgrgid(os.getgid()).gr_name
        self.home = self.root / "home" / USER
        self.maildir = self.home / "Maildir"
        self.log = self.root / "dovecot.log"
        self.conf = self.root / "dovecot.conf"
        for sub in ("run", "state"):
            (self.root / sub).mkdir()
        for sub in ("tmp", "new", "cur"):
            (self.maildir / sub).mkdir(parents=True, mode=0o700)
        for path in (self.home, self.maildir, *(self.maildir / s for s in ("tmp", "new", "cur"))):
            os.chown(path, self.mail_uid, self.mail_gid)
        self.cert = self.root / "cert.pem"
        if self.tls:
            subprocess.run(
                [
                    "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(self.root / "key.pem"), "-out", str(self.cert),
                ],
                check=True,
                capture_output=True,
            )  # fmt: skip
            ssl_conf = (
                f"ssl = required\nssl_cert = <{self.cert}\nssl_key = <{self.root}/key.pem\n"
                "disable_plaintext_auth = yes\n"
            )
            imaps, pop3s = self.imaps_port, self.pop3s_port
        else:
            ssl_conf = "ssl = no\ndisable_plaintext_auth = no\n"
            imaps = pop3s = 0
        (self.root / "users").write_text(
            f"{USER}:{{PLAIN}}{PASSWORD}:{self.mail_uid}:{self.mail_gid}::{self.home}::\n"
        )
        self.conf.write_text(
            f"""\
protocols = imap pop3
listen = {self.host}
base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.log}
info_log_path = {self.log}
{ssl_conf}auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = {self.mail_uid}
first_valid_gid = {self.mail_gid}
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {self.root}/users
}}
userdb {{
  driver = passwd-file
  args = {self.root}/users
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {self.host}
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = {self.host}
    port = {imaps}
  }}
}}
service pop3-login {{
  chroot =
  inet_listener pop3 {{
    address = {self.host}
    port = {self.pop3_port}
  }}
  inet_listener pop3s {{
    address = {self.host}
    port = {pop3s}
  }}
}}
service anvil {{
  chroot =
}}
"""
        )

    # --- running -------------------------------------------------------------------------

    def start(self) -> None:
        if not Path(DOVECOT).exists():
            pytest.fail("Dovecot is not installed: run `make system-deps` (dovecot-imapd/-pop3d)")
        with open(self.root / "stderr.log", "ab") as err:
            self.process = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(self.conf)],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 15
        while not all(self._greets(p) for p in (self.imap_port, self.pop3_port)):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"Dovecot did not start:\n{self.diagnostics()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM and wait (Dovecot's master pauses a second for its children to go)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def _greets(self, port: int) -> bool:
        """Listening, and its login process is up ("* OK …" / "+OK …")."""
        try:
            with socket.create_connection((self.host, port), timeout=2) as conn:
                return conn.recv(64).startswith((b"* OK", b"+OK"))
        except OSError:
            return False

    def diagnostics(self) -> str:
        return "\n".join(
            p.read_text(errors="replace")
            for p in (self.root / "stderr.log", self.log)
            if p.exists()
        )

    # --- addressing ----------------------------------------------------------------------

    def url(self, scheme: str = "imap", *, password: str = PASSWORD, folder: str = "") -> str:
        from urllib.parse import quote

        port = {
            "imap": self.imap_port,
            "pop3": self.pop3_port,
            "imaps": self.imaps_port,
            "pop3s": self.pop3s_port,
        }[scheme]
        path = f"/{quote(folder)}" if folder else ""
        return f"{scheme}://{USER}:{quote(password, safe='')}@{self.host}:{port}{path}"

    # --- mail ----------------------------------------------------------------------------

    def deliver(self, raw: bytes, *, to: str, sender: str = "") -> Path:
        """Deliver like an MDA: tmp/ then rename into new/, headers of the envelope first."""
        envelope = f"Return-Path: <{sender}>\r\nDelivered-To: {to}\r\n".encode()
        name = f"{time.time_ns()}.M{next(_counter)}P{os.getpid()}.innan-test"
        tmp = self.maildir / "tmp" / name
        tmp.write_bytes(envelope + raw)
        os.chown(tmp, self.mail_uid, self.mail_gid)
        target = self.maildir / "new" / name
        tmp.rename(target)
        return target

    def stored(self) -> list[bytes]:
        """Every message still in the Maildir (new/ and cur/), read from disk."""
        files = sorted(
            [*(self.maildir / "new").iterdir(), *(self.maildir / "cur").iterdir()],
            key=lambda p: p.name,
        )
        return [p.read_bytes() for p in files]

    def flags(self) -> dict[str, set[str]]:
        """Subject -> IMAP flags and keywords of every message, as a mail client sees them."""
        out: dict[str, set[str]] = {}
        with imaplib.IMAP4(self.host, self.imap_port, timeout=10) as imap:
            if self.tls:
                imap.starttls(ssl.create_default_context(cafile=self.cert))
            imap.login(USER, PASSWORD)
            _typ, exists = imap.select("INBOX", readonly=True)
            if exists[0] == b"0":
                return out
            _typ, data = imap.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            for item in data:
                if not isinstance(item, tuple):
                    continue
                head, body = item
                flags = imaplib.ParseFlags(head)
                subject = body.decode().partition(":")[2].strip()
                out[subject] = {f.decode() for f in flags} - {"\\Recent"}
        return out


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    yield from _dovecot(tls=False)


@pytest.fixture
def dovecot_tls() -> Iterator[Dovecot]:
    yield from _dovecot(tls=True)


@pytest.fixture
def dovecot_remote() -> Iterator[Dovecot]:
    """Without TLS, on an address of this machine that is not loopback: a server across a
    network, as far as the client can tell."""
    yield from _dovecot(tls=False, host=remote_address())


def remote_address() -> str:
    """An IPv4 address of this machine outside 127.0.0.0/8 (the first interface's)."""
    for _name, addresses in sorted(psutil.net_if_addrs().items()):
        for address in addresses:
            if address.family == socket.AF_INET and not address.address.startswith("127."):
                return str(address.address)
    pytest.fail("This machine has no IPv4 address besides loopback to stand for a network.")


def _dovecot(*, tls: bool, host: str = "127.0.0.1") -> Iterator[Dovecot]:
    # Not pytest's tmp_path: its parents are 0700, and Dovecot's unprivileged processes
    # must reach the passwd-file and the Maildir.
    root = Path(tempfile.mkdtemp(prefix="innan-dovecot-"))
    root.chmod(0o755)
    server = Dovecot(root, tls=tls, host=host)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
