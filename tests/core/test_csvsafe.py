"""Neutralising spreadsheet formulas in CSV cells, and undoing it (service.core.csvsafe)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.core.csvsafe import neutralise, restore

STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet reads as a formula's start


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+46 35 13 00 00", "'+46 35 13 00 00"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("  =1+1", "'  =1+1"),
        ("\u00a0@x", "'\u00a0@x"),
        ("\uff1d1+1", "'\uff1d1+1"),  # FULLWIDTH EQUALS SIGN
        ("'=1+1", "''=1+1"),  # a quote in front of a formula keeps its own quote
        ("'hej", "'hej"),
        ("Åsa Öberg", "Åsa Öberg"),
        ("a=1", "a=1"),
        ("", ""),
        (-1, -1),
        (3, 3),
    ],
)
def test_neutralise(value: object, cell: object) -> None:
    assert neutralise(value) == cell
    if isinstance(value, str):
        assert restore(str(cell)) == value


@given(st.text())
def test_restore_undoes_neutralise_and_no_cell_starts_a_formula(value: str) -> None:
    cell = neutralise(value)
    assert isinstance(cell, str)
    assert restore(cell) == value
    assert not cell.startswith(STARTS) and not cell.lstrip().startswith(STARTS)
