"""Rows of a table as lines of text that keep their header: ``Port: Valdoria; Cranes: 37``.

Used for every table we read: spreadsheet and CSV rows (``rag.sheets``, which also number them),
and tables inside HTML, .docx and .pptx files.
"""
from __future__ import annotations

import datetime as dt
from typing import Sequence


class Header:
    """The column names: the first non-empty row, unless it is all numbers (then columns are numbered)."""

    def __init__(self):
        self.names: list[str] | None = None

    def take(self, cells: Sequence[str]) -> bool:
        """True when ``cells`` became the header (so it is not a row of data)."""
        if self.names is not None:
            return False
        if all(_is_number(c) for c in cells if c):
            self.names = []
            return False
        self.names = list(cells)
        return True

    def name(self, i: int) -> str:
        names = self.names or []
        return names[i] if i < len(names) and names[i] else f"Column {i + 1}"


def clean_cell(value) -> str:
    """A cell's value as one line of text (numbers without a needless '.0', dates in ISO form)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return " ".join(str(value).split())


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
        return True
    except ValueError:
        return False


def table_lines(rows: Sequence[Sequence]) -> list[str]:
    """A table's rows (the first non-empty one is its header) as lines ``Header: cell; …``;
    a table of one row is its cells joined by '; '."""
    cleaned = [[clean_cell(v) for v in row] for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    if len(cleaned) == 1:
        return ["; ".join(c for c in cleaned[0] if c)]
    header = Header()
    out = []
    for cells in cleaned:
        if header.take(cells):
            continue
        out.append("; ".join(f"{header.name(i)}: {c}" for i, c in enumerate(cells) if c))
    return out
