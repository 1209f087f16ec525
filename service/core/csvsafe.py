"""CSV files we write are safe to open in a spreadsheet: no cell is read as a formula.

Anyone can put text in a CSV we write (a name on the public signup form, an address, a
row of an imported file), and Excel, LibreOffice and Google Sheets run a cell that starts
with ``=``, ``+``, ``-`` or ``@`` as a formula — ``=cmd|' /C calc'!A0`` (DDE) or
``=HYPERLINK(…)``. Every CSV the service writes goes through :func:`writer` or
:class:`DictWriter`, which apply OWASP's rule to each text cell: a cell that starts with
``=``, ``+``, ``-``, ``@``, tab or carriage return gets a single quote ``'`` in front,
which spreadsheets take as "this is text" (and may show).

Beyond OWASP's list, a cell is also neutralised when it starts with whitespace followed
by one of those characters (spreadsheets that trim cells would otherwise still see the
formula), when it starts with the full-width forms ``＝ ＋ － ＠`` (some spreadsheet
input paths fold them to ASCII), and when it starts with ``'`` in front of anything
neutralised, so that :func:`restore` is the exact inverse of :func:`neutralise`.

Numbers and other non-text values are written unchanged (``-1`` as an int stays ``-1``).

Reading: the CSV import (``service.ops.import_csv``) calls :func:`restore` on every
cell, so a file we exported imports with the values as they were stored. A cell that
starts with ``'`` followed by one of the characters above loses that one quote on import;
no other quote is touched.

``defusedcsv`` was considered: it does not cover tab, carriage return or leading
whitespace, and it rewrites ``|`` inside cells, which cannot be undone on import.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

    _DictWriter = csv.DictWriter[str]
else:
    _DictWriter = csv.DictWriter  # not subscriptable at run time before Python 3.12

FORMULA_STARTS = frozenset("=+-@\t\r" + "\uff1d\uff0b\uff0d\uff20")
QUOTE = "'"


def _needs_quote(value: str) -> bool:
    if not value:
        return False
    if value[0] in FORMULA_STARTS or value.lstrip()[:1] in FORMULA_STARTS:
        return True
    return value[0] == QUOTE and _needs_quote(value[1:])


def neutralise(value: object) -> object:
    """``value`` as a cell no spreadsheet runs as a formula (text only; others unchanged)."""
    if isinstance(value, str) and _needs_quote(value):
        return QUOTE + value
    return value


def restore(cell: str) -> str:
    """The value :func:`neutralise` turned into ``cell`` (the inverse, for reading our CSV)."""
    if cell[:1] == QUOTE and _needs_quote(cell[1:]):
        return cell[1:]
    return cell


class Writer:
    """``csv.writer`` that neutralises every cell it writes."""

    def __init__(self, out: SupportsWrite[str], **fmtparams: Any) -> None:
        self._writer = csv.writer(out, **fmtparams)

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([neutralise(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out: SupportsWrite[str], **fmtparams: Any) -> Writer:
    """A formula-safe ``csv.writer`` on ``out`` (same format parameters)."""
    return Writer(out, **fmtparams)


class DictWriter(_DictWriter):
    """``csv.DictWriter`` that neutralises every value it writes (the header is ours)."""

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({key: neutralise(value) for key, value in rowdict.items()})

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for rowdict in rowdicts:
            self.writerow(rowdict)
