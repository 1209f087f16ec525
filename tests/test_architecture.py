"""The dependency directions of docs/architecture.md, checked on the source.

Every ``import`` in our packages is read with :mod:`ast` (no code is imported), each
module is placed in its part, and every edge between two parts must be one the
architecture allows. A test fails naming the importing module and what it imports,
so a new edge is either a design decision (change ``ALLOWED`` and the document
together) or a mistake.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("service", "subscribers", "archive")

# The domains: one subpackage per domain concept.
DOMAINS = (
    "subscribers",
    "archive",
    "service.calendar",
    "service.delivery",
    "service.editor",
    "service.events",
    "service.issues",
    "service.media",
    "service.ops",
)

# The composition roots: they put the parts together and may import any of them.
ROOTS = ("service.app", "service.cli", "service.demo", "service.models", "service.migrations")

# Which other domains a domain may import. Everything not listed is forbidden; the
# foundation (every ``service.*`` module that is neither a domain nor a root) may be
# imported by all, and imports no domain itself.
ALLOWED: dict[str, frozenset[str]] = {
    "subscribers": frozenset(),
    "service.editor": frozenset(),
    "service.calendar": frozenset({"service.editor"}),
    "service.media": frozenset({"service.editor"}),
    "service.issues": frozenset(
        {"service.calendar", "service.media", "service.editor", "subscribers"}
    ),
    # the scheduler (in delivery) runs the events domain's periodic jobs
    "service.delivery": frozenset(
        {"service.issues", "service.calendar", "service.editor", "service.events", "subscribers"}
    ),
    "service.events": frozenset({"service.calendar", "service.editor", "subscribers"}),
    "archive": frozenset({"service.issues", "service.calendar", "service.editor"}),
    "service.ops": frozenset(
        {
            "subscribers",
            "service.calendar",
            "service.delivery",
            "service.editor",
            "service.events",
            "service.issues",
            "service.media",
            # migrate-data copies every table, so it needs the whole metadata
            "service.models",
        }
    ),
}


@dataclass(frozen=True)
class Edge:
    importer: str
    imported: str

    def __str__(self) -> str:
        return f"{self.importer} imports {self.imported}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


MODULES = all_modules()


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    if MODULES[importer].name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def edges() -> Iterator[Edge]:
    """Every import of one of our modules, resolved to the module it names."""
    for importer, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield Edge(importer, alias.name)
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(importer, node)
                for alias in node.names:
                    # ``from service import api`` imports the module service.api
                    candidate = f"{base}.{alias.name}"
                    yield Edge(importer, candidate if candidate in MODULES else base)


def ours(name: str) -> bool:
    return name.split(".")[0] in PACKAGES


def part_of(module: str) -> str:
    """The domain, root or foundation module that ``module`` belongs to."""
    for part in (*DOMAINS, *ROOTS):
        if module == part or module.startswith(part + "."):
            return part
    return "foundation"


def is_domain(part: str) -> bool:
    return part in DOMAINS


INTERNAL = [edge for edge in edges() if ours(edge.imported)]


def test_the_graph_is_read() -> None:
    # A guard against a checker that finds nothing: these edges exist by design.
    found = {(part_of(e.importer), part_of(e.imported)) for e in INTERNAL}
    assert ("service.delivery", "service.issues") in found
    assert ("service.issues", "subscribers") in found
    assert ("subscribers", "foundation") in found
    assert len(MODULES) > 100


def test_every_domain_has_a_rule() -> None:
    assert set(ALLOWED) == set(DOMAINS)
    for domain in DOMAINS:
        assert (ROOT / Path(*domain.split("."))).is_dir(), domain


def test_foundation_imports_no_domain() -> None:
    wrong = [
        str(e)
        for e in INTERNAL
        if part_of(e.importer) == "foundation" and is_domain(part_of(e.imported))
    ]
    assert wrong == []


def test_domains_import_only_what_they_may() -> None:
    wrong = []
    for e in INTERNAL:
        source, target = part_of(e.importer), part_of(e.imported)
        if not is_domain(source) or source == target:
            continue
        if target in ROOTS:
            if target not in ALLOWED[source] and not (
                target == "service.cli" and _is_cli(e.importer)
            ):
                wrong.append(f"{e} (a composition root)")
        elif is_domain(target) and target not in ALLOWED[source]:
            wrong.append(str(e))
    assert wrong == []


def _is_cli(module: str) -> bool:
    return module.rsplit(".", 1)[-1] == "cli"


@pytest.mark.parametrize("kind", ["handlers", "cli"])
def test_entry_points_are_imported_only_by_the_roots(kind: str) -> None:
    # HTTP handlers are mounted by service.app, command groups by service.cli (both by
    # name, through importlib); nothing else may reach into them.
    wrong = [
        str(e)
        for e in INTERNAL
        if e.imported.rsplit(".", 1)[-1] == kind
        and e.imported in MODULES
        and part_of(e.importer) not in ROOTS
        and not (kind == "cli" and _is_cli(e.importer) and e.imported == "service.cli")
    ]
    assert wrong == []


def test_nothing_imports_tests_or_benchmarks() -> None:
    edges_out = [e for e in edges() if e.imported.split(".")[0] in ("tests", "bench")]
    assert [str(e) for e in edges_out] == []
