"""``INNAN_TRUSTED_PROXIES``: whose X-Forwarded-For ``serve`` believes.

The client address that the signup and login limits count by comes from the reverse
proxy. A proxy that is not trusted cannot name a client: its own address is counted.
Run through the real ``innanforskapet serve`` (uvicorn's proxy-headers middleware).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from service.settings import Settings, SettingsError
from tests.conftest import cli_env, free_port, make_settings


def _serve(settings: Settings, port: int, **extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, **cli_env(settings, INNAN_SIGNUP_IP_PER_HOUR="2", **extra)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from service.cli import main; main()",
            "serve",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("serve did not start")


def _signups(port: int) -> list[int]:
    """Three signups, each claiming another client address."""
    codes = []
    for n in range(3):
        response = httpx.post(
            f"http://127.0.0.1:{port}/prenumerera",
            data={"email": f"p{n}@example.se", "lists": "1"},
            headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
            timeout=30,
        )
        codes.append(response.status_code)
    return codes


@pytest.mark.parametrize(
    ("trusted", "expected"),
    [
        ("", [200, 200, 200]),  # default: the proxy on this machine names the client
        ("10.0.0.0/8", [200, 200, 429]),  # loopback not trusted: all three are 127.0.0.1
    ],
)
def test_only_a_trusted_proxy_names_the_client(
    settings: Settings, trusted: str, expected: list[int]
) -> None:
    port = free_port()
    extra = {"INNAN_TRUSTED_PROXIES": trusted} if trusted else {}
    proc = _serve(settings, port, **extra)
    try:
        assert _signups(port) == expected
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_bad_proxy_addresses_are_refused(tmp_path: object) -> None:
    with pytest.raises(SettingsError) as info:
        make_settings(
            tmp_path, "sqlite+aiosqlite:///x.db", INNAN_TRUSTED_PROXIES="10.0.0.0/8 nginx"
        )  # type: ignore[arg-type]
    assert "INNAN_TRUSTED_PROXIES" in str(info.value) and "'nginx'" in str(info.value)
    ok = make_settings(
        tmp_path, "sqlite+aiosqlite:///x.db", INNAN_TRUSTED_PROXIES="172.18.0.1, fd00::/8"
    )  # type: ignore[arg-type]
    assert ok.trusted_proxies == ("172.18.0.1/32", "fd00::/8")
