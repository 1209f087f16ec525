"""The settings table of ``docs/operators.md`` and ``deploy/env.example``, generated.

Both are written from the fields of :class:`service.settings.Settings` (variable, default,
meaning: ``metadata=doc(...)``), so a setting is described in one place::

    python -m service.settings_doc           # rewrite both files
    python -m service.settings_doc --check   # exit 1 if either is out of date

``tests/ops/test_settings_doc.py`` fails when the files differ from what this produces.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import MISSING
from pathlib import Path

from service.settings import GROUPS, SettingDoc, documented, env_text

REPO_ROOT = Path(__file__).resolve().parents[1]
OPERATORS_GUIDE = Path("docs/operators.md")
ENV_EXAMPLE = Path("deploy/env.example")

BEGIN = (
    "<!-- BEGIN settings table: generated from service/settings.py by "
    "`python -m service.settings_doc`; edit the settings there, not here -->"
)
END = "<!-- END settings table -->"

ENV_HEADER = """\
# Innanförskapet settings: every INNAN_* variable the service reads, with its default.
# Generated from service/settings.py by `python -m service.settings_doc`; edit the
# descriptions there, not here. docs/operators.md has the same list as a table.
#
# Copy to /etc/innanforskapet/env (mode 0600), or to deploy/.env for compose, and adjust.
# The values below suit a production server (PostgreSQL, https); an empty value means
# the default. INNAN_SECRET_KEY is REQUIRED in production.
"""


class Row:
    """One setting as the documentation shows it."""

    def __init__(self, value: object, doc: SettingDoc) -> None:
        self.doc = doc
        self.value = env_text(value)  # the default as written in the environment
        self.unset = value is None
        if doc.shown_default is not None:
            self.default_md = doc.shown_default
        elif value is MISSING:
            raise ValueError(f"{doc.variable}: a computed default needs shown_default")
        elif self.unset:
            self.default_md = "(unset)"
        else:
            self.default_md = f"`{self.value}`"

    @property
    def example(self) -> str:
        return self.doc.example if self.doc.example is not None else self.value


def rows() -> list[Row]:
    """Every setting, grouped in the order of ``GROUPS``, then as declared."""
    found = [Row(f.default, d) for f, d in documented()]
    unknown = {r.doc.group for r in found} - set(GROUPS)
    if unknown:
        raise ValueError(f"settings in groups not listed in GROUPS: {sorted(unknown)}")
    return sorted(found, key=lambda r: GROUPS.index(r.doc.group))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table() -> str:
    """The settings table (Markdown), one row per setting under a row per group."""
    lines = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    group = None
    for row in rows():
        if row.doc.group != group:
            group = row.doc.group
            lines.append(f"| **{group}** | | |")
        lines.append(
            f"| `{row.doc.variable}` | {_cell(row.default_md)} | {_cell(row.doc.meaning)} |"
        )
    return "\n".join(lines) + "\n"


def _plain(markdown: str) -> str:
    return markdown.replace("**", "").replace("`", "")


def env_example() -> str:
    """The whole of ``deploy/env.example``."""
    parts = [ENV_HEADER]
    group = None
    for row in rows():
        if row.doc.group != group:
            group = row.doc.group
            parts.append(f"\n# ===== {group} =====\n")
        comment = f"{_plain(row.doc.meaning)} Default: {_plain(row.default_md)}."
        if row.unset and row.doc.shown_default is None:
            comment = f"{_plain(row.doc.meaning)} Default: unset."
        wrapped = textwrap.wrap(comment, width=86, break_on_hyphens=False, break_long_words=False)
        parts.append("\n" + "\n".join(f"# {line}" for line in wrapped) + "\n")
        parts.append(f"{row.doc.variable}={row.example}\n")
    return "".join(parts)


def with_table(guide: str) -> str:
    """``guide`` with the text between the markers replaced by the current table."""
    if guide.count(BEGIN) != 1 or guide.count(END) != 1 or guide.index(BEGIN) > guide.index(END):
        raise ValueError(f"{OPERATORS_GUIDE} needs the two marker lines once each:\n{BEGIN}\n{END}")
    head, rest = guide.split(BEGIN, 1)
    _old, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{markdown_table()}{END}{tail}"


def expected(root: Path = REPO_ROOT) -> dict[Path, str]:
    """What each generated file should hold, by path."""
    guide = (root / OPERATORS_GUIDE).read_text(encoding="utf-8")
    return {root / OPERATORS_GUIDE: with_table(guide), root / ENV_EXAMPLE: env_example()}


def stale(root: Path = REPO_ROOT) -> list[Path]:
    """The generated files whose text differs from what :func:`expected` gives."""
    return [
        path
        for path, text in expected(root).items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.settings_doc", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale files")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository checkout")
    args = parser.parse_args(argv)
    if not (args.root / OPERATORS_GUIDE).is_file():
        print(f"{args.root / OPERATORS_GUIDE} not found: run this in a checkout", file=sys.stderr)
        return 2
    outdated = stale(args.root)
    if args.check:
        for path in outdated:
            print(f"out of date: {path} (run python -m service.settings_doc)", file=sys.stderr)
        return 1 if outdated else 0
    for path, text in expected(args.root).items():
        if path in outdated:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
