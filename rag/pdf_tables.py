"""Ruled tables on PDF pages as rows that keep their header: ``Lock: Bramwell; Keeper: Mira Tolland``.

Only a page whose drawing has enough straight lines or rectangles to rule a table, and not so
many that the search would take long (``may_hold_table``, read from the page's content with
pypdf, which costs almost nothing), is searched for tables, by pdfplumber's ruled-lines
strategy: searching every page would take many times as long as reading the text layer. Tables
without rules (aligned by spaces, or with only horizontal rules) are left as the text layer
gives them: finding their columns from the text alone also finds "tables" in ordinary paragraphs.

A table's rows replace the lines of the page's text that hold exactly the table's characters
(the text layer gives a table's cells on lines of their own); when no run of whole lines does,
the rows follow the page's text and the flattened table stays as it was. Rows are only added
for a table whose characters the page's text holds. A table that goes on from the previous page
(the same columns, last on that page and first on this one) keeps that page's header.
"""
from __future__ import annotations

import io
import logging
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace
from typing import Callable, Sequence

from .tables import table_lines

MIN_RULES = 4              # straight lines and rectangles a page draws before it is searched
MAX_CROSSINGS = 5_000      # places where the rules' x and y positions could cross (see may_hold_table)
COLUMN_TOLERANCE = 2.0     # points: the columns of a table's parts on two pages line up this well
RUNNING_MARGIN = 0.1       # the top and bottom tenth of a page: where running headers and footers are
_END = rb"(?![A-Za-z0-9_*'\"])"
_NUM = rb"([-+]?(?:\d+\.?\d*|\.\d+))"
_RULE = re.compile(rb"(?<![A-Za-z0-9_*'\"])(?:re|l)" + _END)
_POINT = re.compile(rb"(?<![\w.+-])" + _NUM + rb"\s+" + _NUM + rb"\s+[ml]" + _END)
_RECT = re.compile(rb"(?<![\w.+-])" + (_NUM + rb"\s+") * 4 + rb"re" + _END)


@dataclass(frozen=True)
class FoundTable:
    rows: list[list[str | None]]     # the cells' text; None where a merged cell covers the place
    columns: tuple[float, ...]       # the x of every column edge
    first: bool = False              # no text above it on its page but a running header
    last: bool = False               # no text below it on its page but a running footer
    header: tuple[str | None, ...] = ()   # the header of the part on the page before, when it goes on


def may_hold_table(page) -> bool:
    """True when a pypdf page's content (with the forms it holds) draws at least MIN_RULES
    straight lines or rectangles, enough to rule a table of two rows and two columns, and they
    are not so many that searching them would take long: the distinct x positions of their ends
    times the distinct y positions (a table's rows + 1 times its columns + 1; a chart's or a
    drawing's thousands) is at most MAX_CROSSINGS. A search took 0.2 s for 2,500 such places and
    29 s for 40,000 (a fine grid)."""
    try:
        streams = [page.get_contents()]
        xobjects = (page.get("/Resources") or {}).get("/XObject") or {}
        streams += [x.get_object() for x in xobjects.values() if x.get_object().get("/Subtype") == "/Form"]
        data = [stream.get_data() for stream in streams if stream is not None]
    except Exception:  # noqa: BLE001 - a damaged content stream: the page is read as its text layer
        return False
    if sum(len(_RULE.findall(d)) for d in data) < MIN_RULES:
        return False
    xs: set[float] = set()
    ys: set[float] = set()
    for d in data:
        for x, y in _POINT.findall(d):
            xs.add(round(float(x)))
            ys.add(round(float(y)))
        for x, y, w, h in _RECT.findall(d):
            xs.update((round(float(x)), round(float(x) + float(w))))
            ys.update((round(float(y)), round(float(y) + float(h))))
    return len(xs) * len(ys) <= MAX_CROSSINGS


def with_table_rows(data: bytes, pages: list[str], candidates: Sequence[int],
                    check: Callable[[], None]) -> list[str]:
    """``pages`` (the text of each page) with the ruled tables of the ``candidates`` pages as rows.
    ``check()`` is called before each page (it raises when the PDF is over its time)."""
    import pdfplumber

    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    pages = list(pages)
    try:
        pdf = pdfplumber.open(io.BytesIO(data), pages=[i + 1 for i in candidates])
    except Exception:  # noqa: BLE001 - pdfminer cannot open what pypdf read: keep the text layer
        return pages
    previous: tuple[int, FoundTable] | None = None    # the last table of the page before, and its page
    with pdf:
        for page in pdf.pages:
            check()
            i = page.page_number - 1
            try:
                found = page_tables(page)
            except Exception:  # noqa: BLE001 - pdfminer fails on this page: its text layer stays
                found = []
            finally:
                page.close()
            if not found:
                previous = None
                continue
            if previous is not None and previous[0] == i - 1:
                found[0] = continued(previous[1], found[0])
            previous = (i, found[-1])
            pages[i] = replace_tables(pages[i], found)
    return pages


def page_tables(page) -> list[FoundTable]:
    """The ruled tables of a pdfplumber page with at least two rows and two columns, top to bottom."""
    found = []
    for table in sorted(page.find_tables(), key=lambda t: (round(t.bbox[1]), t.bbox[0])):
        rows = table.extract()
        filled = [row for row in rows if any(cell and cell.strip() for cell in row)]
        if len(filled) < 2 or max(sum(1 for c in row if c and c.strip()) for row in filled) < 2:
            continue      # a box around a paragraph, or a single column: not a table of rows
        edges = sorted({round(x, 1) for cell in table.cells for x in (cell[0], cell[2])})
        _, top, _, bottom = table.bbox
        head = page.bbox[1] + RUNNING_MARGIN * page.height
        foot = page.bbox[3] - RUNNING_MARGIN * page.height
        found.append(FoundTable(rows, tuple(edges),
                                first=not any(head < c["bottom"] <= top for c in page.chars),
                                last=not any(bottom <= c["top"] < foot for c in page.chars)))
    return found


def continued(before: FoundTable, table: FoundTable) -> FoundTable:
    """``table`` with the header of ``before`` when it goes on from it (``before`` ends its page,
    ``table`` starts the next, with the same column edges) and does not repeat the header itself."""
    if not (before.last and table.first) or len(before.columns) != len(table.columns) or any(
            abs(a - b) > COLUMN_TOLERANCE for a, b in zip(before.columns, table.columns)):
        return table
    header = list(before.header) or _header(before.rows)
    if header is None or _header(table.rows) == header:
        return table
    return replace(table, header=tuple(header))


def _header(rows: list[list[str | None]]) -> list[str | None] | None:
    return next((row for row in rows if any(cell and cell.strip() for cell in row)), None)


def row_lines(table: FoundTable) -> list[str]:
    """The table's rows as lines that name each cell by its column; a header cell that a merged
    cell covers takes the name to its left (as a column span does in HTML)."""
    rows = [list(row) for row in ([table.header] if table.header else []) + table.rows]
    header = _header(rows)
    for k, cell in enumerate(header or ()):
        if cell is None and k:
            header[k] = header[k - 1]
    return [line.replace("\x00", "") for line in table_lines(rows)]


def replace_tables(text: str, tables: Sequence[FoundTable]) -> str:
    """The page's ``text`` with each table's rows in place of the run of whole lines holding
    exactly the table's characters; a table with no such run has its rows after the text, and
    one whose characters the text does not all hold (it is not this text's table) is left out."""
    lines: list[str | list[str]] = list(text.split("\n"))     # a list in place of a run: a table's rows
    after: list[str] = []
    for table in tables:
        want = _chars("".join(cell or "" for row in table.rows for cell in row))
        run = _run_of(lines, want)
        if run is not None:
            lines[run[0]:run[1]] = [row_lines(table)]
        elif not want - _chars(text):
            after.extend(row_lines(table))
    out = [line for item in lines for line in (item if isinstance(item, list) else [item])]
    return "\n".join(out + after)


def _run_of(lines: Sequence[str | list[str]], want: Counter) -> tuple[int, int] | None:
    """The first run ``lines[i:j]`` of text lines (not rows put in before) whose characters,
    spaces aside, are exactly ``want``."""
    for i, first in enumerate(lines):
        if isinstance(first, list) or not first.strip():
            continue
        have: Counter = Counter()
        for j in range(i, len(lines)):
            line = lines[j]
            if isinstance(line, list):
                break
            have += _chars(line)
            if have == want:
                return i, j + 1
            if have - want:            # a character the table does not hold: not this run
                break
    return None


def _chars(text: str) -> Counter:
    return Counter(ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace())
