"""Deployment files make sense (the settings in deploy/env.example: tests/ops/test_docs.py)."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path

import pytest

from service.editor.auth import SESSION_COOKIE

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
SYSTEMD = DEPLOY / "systemd"

HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ReadWritePaths": "/var/lib/innanforskapet",
    "PrivateTmp": "yes",
    "ProtectHome": "yes",
    "MemoryDenyWriteExecute": "yes",
    "CapabilityBoundingSet": "",
    "SystemCallFilter": "@system-service",
}


def _unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """Sections -> key -> values, the way systemd reads a unit (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}: key outside a section: {line}"
        assert "=" in line, f"{path.name}: not a key=value line: {line}"
        key, value = line.split("=", 1)
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("innanforskapet-web.service", "innanforskapet serve"),
        ("innanforskapet-web@.service", "innanforskapet serve"),
        ("innanforskapet-worker@.service", "innanforskapet worker"),
    ],
)
def test_systemd_units_are_hardened(name: str, command: str) -> None:
    unit = _unit(SYSTEMD / name)
    assert set(unit) == {"Unit", "Service", "Install"}
    service = unit["Service"]
    assert service["EnvironmentFile"] == ["/etc/innanforskapet/env"]
    assert service["User"] == ["innanforskapet"]
    assert service["Restart"] == ["on-failure"]
    assert command in service["ExecStart"][0]
    for key, value in HARDENING.items():
        assert value in service.get(key, []), f"{name}: {key}={value} missing"
    families = service["RestrictAddressFamilies"][0].split()
    assert set(families) == {"AF_INET", "AF_INET6", "AF_UNIX"}
    assert "innanforskapet-migrate.service" in unit["Unit"]["Requires"]
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]
    if "web" in name:
        assert "INNAN_RUN_WORKERS=false" in service["Environment"]


def test_migrate_unit_runs_db_upgrade_once() -> None:
    unit = _unit(SYSTEMD / "innanforskapet-migrate.service")
    assert unit["Service"]["Type"] == ["oneshot"]
    assert unit["Service"]["ExecStart"][0].endswith("innanforskapet db upgrade")


def test_nginx_config() -> None:
    conf = (DEPLOY / "nginx" / "innanforskapet.conf").read_text(encoding="utf-8")
    code = "\n".join(line.split("#", 1)[0] for line in conf.splitlines())
    assert code.count("{") == code.count("}")
    upstream = re.search(r"upstream innanforskapet_web \{(.*?)\}", code, re.S)
    assert upstream is not None
    assert len(re.findall(r"^\s*server 127\.0\.0\.1:\d+", upstream.group(1), re.M)) >= 2
    for needle in (
        "listen 443 ssl",
        "return 301 https://$host$request_uri",
        "ssl_certificate ",
        "client_max_body_size",
        "proxy_next_upstream error timeout",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for",
        "proxy_set_header X-Forwarded-Proto $scheme",
        "Strict-Transport-Security",
        "proxy_cache_path",
        "location = /kalender.ics",
        "arkiv",
    ):
        assert needle in code, needle


def test_nginx_adds_only_hsts() -> None:
    """The app sets the other security headers per path (service/security/headers.py):
    copies from nginx would come twice, and a server-wide X-Frame-Options would stop the
    signup form from being embedded. Caching headers come from the app, too."""
    conf = (DEPLOY / "nginx" / "innanforskapet.conf").read_text(encoding="utf-8")
    code = "\n".join(line.split("#", 1)[0] for line in conf.splitlines())
    added = re.findall(r"^\s*add_header\s+(\S+)", code, re.M)
    assert "Strict-Transport-Security" in added
    assert set(added) <= {"Strict-Transport-Security", "X-Cache-Status"}, added
    # nginx drops the server's add_header lines where a location has its own: HSTS there too.
    for block in re.findall(r"location[^{]*\{([^}]*)\}", code):
        if "add_header" in block:
            assert "Strict-Transport-Security" in block, block


def test_nginx_never_caches_an_editor_session() -> None:
    conf = (DEPLOY / "nginx" / "innanforskapet.conf").read_text(encoding="utf-8")
    cookies = set(re.findall(r"\$cookie_(\w+)", conf))
    assert cookies == {SESSION_COOKIE}, cookies


def test_compose_and_containerfile() -> None:
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    assert "\t" not in text
    for service in ("db:", "migrate:", "web1:", "web2:", "worker1:", "worker2:"):
        assert re.search(rf"^  {service}", text, re.M), service
    assert "postgresql+asyncpg://" in text
    assert "dockerfile: deploy/Containerfile" in text
    if importlib.util.find_spec("yaml") is not None:
        import yaml

        loaded = yaml.safe_load(text)
        services = loaded["services"]
        assert services["worker1"]["command"] == ["innanforskapet", "worker"]
        assert services["web1"]["environment"]["INNAN_RUN_WORKERS"] == "false"
        assert services["db"]["image"].startswith("docker.io/library/postgres")
    container = (DEPLOY / "Containerfile").read_text(encoding="utf-8")
    assert container.startswith("#") and "\nFROM " in container
    assert "pip install" in container and "\nUSER innanforskapet" in container


def test_every_python_package_is_listed_in_pyproject() -> None:
    """pyproject.toml lists its packages (templates/ is mapped into service.templates)."""
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = config["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    found = {
        ".".join(init.parent.relative_to(REPO_ROOT).parts)
        for top in ("service", "subscribers", "archive")
        for init in (REPO_ROOT / top).rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert listed == found | {"service.templates"}
    assert setuptools["package-dir"] == {"service.templates": "templates"}
    assert (REPO_ROOT / "templates" / "__init__.py").is_file()
