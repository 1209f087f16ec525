"""A plain (non-editable) install works: ``pip install .`` gives a service that serves pages.

The wheel is built offline from a copy of the source, installed into a fresh virtual
environment without its dependencies, and the dependencies come from this project's
environment through a ``.pth`` line — never the source tree: the installed ``service``
package must be the one inside the new environment. Then ``db upgrade`` and ``serve``
run from an empty directory, with the default var directory (``./var``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "service", "subscribers", "archive", "templates")

pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    """The environment without anything that points Python or the service elsewhere."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("INNAN_", "PYTHON", "PIP_", "VIRTUAL_ENV"))
    }
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(args: list[str | Path], cwd: Path, **env: str) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env={**_env(), **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed; returns its bin directory."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"
    source.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(
                path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
            )
        else:
            shutil.copy2(path, source / name)
    dist = root / "dist"
    pip = [sys.executable, "-m", "pip"]
    _run(
        [*pip, "wheel", source, "--no-deps", "--no-build-isolation", "--no-index", "-w", dist], root
    )
    [wheel] = dist.glob("innanforskapet-*.whl")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=root)
    python = venv / "bin" / "python"
    _run([*pip, "--python", python, "install", "--no-deps", "--no-index", wheel], root)
    # The dependencies: this project's site-packages, added after the new venv's own.
    site = Path(
        _run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=root
        ).strip()
    )
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "_innanforskapet_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    return venv / "bin"


def test_the_installed_package_is_the_wheel_not_the_source_tree(
    installed: Path, tmp_path: Path
) -> None:
    where = _run(
        [
            installed / "python",
            "-c",
            "import json, service, service.settings as s, sys; "
            "print(service.__file__); print(s.TEMPLATES_DIR); print(json.dumps(sys.path))",
        ],
        cwd=tmp_path,
    ).splitlines()
    venv = installed.parent
    assert Path(where[0]).is_relative_to(venv), where
    assert Path(where[1]).is_relative_to(venv), where
    shipped = Path(where[1])

    def files(root: Path) -> set[str]:
        return {
            str(p.relative_to(root))
            for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }

    assert files(shipped) == files(REPO / "templates")  # pages, mails, static files
    migrations = Path(where[0]).parent / "migrations"
    assert (migrations / "script.py.mako").is_file()
    assert files(migrations / "versions") >= files(REPO / "service" / "migrations" / "versions")
    assert str(REPO) not in json.loads(where[2])


def test_db_upgrade_and_serve_from_a_plain_install(installed: Path, tmp_path: Path) -> None:
    work = tmp_path / "drift"
    work.mkdir()
    upgrade = subprocess.run(
        [str(installed / "innanforskapet"), "db", "upgrade"],
        cwd=work,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    # The default var directory is ./var of the working directory, not site-packages.
    assert (work / "var" / "innanforskapet.db").is_file()
    assert not list(installed.parent.rglob("innanforskapet.db"))

    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [str(installed / "innanforskapet"), "serve", "--port", str(port)],
        cwd=work,
        env={**_env(), "INNAN_RUN_WORKERS": "false"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        page = httpx.get(base + "/prenumerera", timeout=10)
        assert page.status_code == 200, page.text
        assert '<html lang="sv">' in page.text
        assert "Prenumerera" in page.text and 'name="email"' in page.text
        css = httpx.get(base + "/static/site.css", timeout=10)
        assert css.status_code == 200
        assert css.headers["content-type"].startswith("text/css")
        login = httpx.get(base + "/redaktion/logga-in", timeout=10)
        assert login.status_code == 200 and "Logga in" in login.text
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
