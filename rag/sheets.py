"""Spreadsheets and CSV as text: one line per row, every cell named by its column's header.

A row is stored as ``Row 12: Region: Kanto; Tonnes: 1,250; Year: 2024`` (the number is the row a
spreadsheet program shows; empty cells are left out), so a question about one cell is answered
from the line that holds it, and a citation can name the row (see ``rag.regions``).

CSV and TSV are read as a stream of text pieces (a file is never held whole); .xlsx through
python-calamine (.xlsx, .xlsm, .xls, .ods): formulas as the values last calculated, merged cells
as the merged value.
"""
from __future__ import annotations

import csv
import io
from typing import Iterable, Iterator, Sequence

from .documents import UnreadableDocument, check_zip, short_reason
from .regions import ROWS, Region, row_line
from .tables import Header, clean_cell

SNIFF_CHARS = 64 * 1024          # the text the delimiter is guessed from
MAX_CELL_CHARS = 1_000_000
MAX_FIELD_CHARS = 256 * 1024 * 1024   # a CSV field may be as long as a file may be


# --------------------------------------------------------------------------- rows to lines

def rows_to_lines(rows: Iterable[tuple[int, Sequence]]) -> Iterator[str]:
    """(row number, cell values) → one stored line per row with data, each ending in a newline."""
    header = Header()
    first = 0           # the header's row number, while no row of data has followed it
    for number, values in rows:
        cells = [clean_cell(v) for v in values]
        if not any(cells):
            continue
        if header.take(cells):
            first = number
            continue
        first = 0
        yield row_line(number, ((header.name(i), c) for i, c in enumerate(cells) if c)) + "\n"
    if first:           # a table with no rows yet: its column names are all it says
        yield row_line(first, (("", name) for name in header.names or () if name)) + "\n"


# --------------------------------------------------------------------------- CSV / TSV, streamed

def _lines(pieces: Iterable[str]) -> Iterator[str]:
    """The lines of the text made of ``pieces``, each ending in "\n" ("\r\n" and "\r" end lines
    too); the same lines however the text is cut into pieces."""
    rest = ""
    for piece in pieces:
        rest += piece
        cr = rest.endswith("\r")        # maybe the first half of a "\r\n" cut between two pieces
        rest = rest[:-1] if cr else rest
        rest = rest.replace("\r\n", "\n").replace("\r", "\n")
        pos = 0
        while (nl := rest.find("\n", pos)) >= 0:
            yield rest[pos:nl + 1]
            pos = nl + 1
        rest = rest[pos:]
        rest += "\r" if cr else ""
    if rest:
        for line in rest.replace("\r", "\n").removesuffix("\n").split("\n"):
            yield line + "\n"


def _sniff(sample: str, suffix: str) -> str:
    if suffix == ".tsv":
        return "\t"
    sample = sample[:sample.rfind("\n") + 1] or sample
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def csv_lines(pieces: Iterable[str], suffix: str = ".csv") -> Iterator[str]:
    """The stored text of a CSV/TSV file whose decoded text comes in ``pieces``, a line per row."""
    it = iter(pieces)
    head: list[str] = []
    size = 0
    for piece in it:
        head.append(piece)
        size += len(piece)
        if size >= SNIFF_CHARS:
            break
    delimiter = _sniff("".join(head)[:SNIFF_CHARS], suffix)

    def all_pieces() -> Iterator[str]:
        yield from head
        yield from it

    csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_CHARS))
    reader = csv.reader(_lines(all_pieces()), delimiter=delimiter)
    batch: list[str] = []
    size = 0
    try:
        for line in rows_to_lines(enumerate(reader, 1)):   # handed on in pieces of about SNIFF_CHARS
            batch.append(line)
            size += len(line)
            if size >= SNIFF_CHARS:
                yield "".join(batch)
                batch, size = [], 0
        if batch:
            yield "".join(batch)
    except csv.Error as exc:
        raise UnreadableDocument(f"malformed {suffix.lstrip('.').upper()} ({short_reason(exc)})") from None


CSV_REGIONS = (Region(0, "", ROWS),)


# --------------------------------------------------------------------------- workbooks

def workbook_text(data: bytes) -> tuple[str, tuple[Region, ...]]:
    """Every sheet's rows (.xlsx, .xlsm, .xls, .ods, read by python-calamine), a region per sheet
    (its label is the sheet's name)."""
    from python_calamine import CalamineWorkbook

    check_zip(data)
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine raises several kinds of errors on damaged or encrypted files
        raise UnreadableDocument(_workbook_problem(data, exc)) from None
    parts: list[str] = []
    regions: list[Region] = []
    offset = 0
    try:
        for name in book.sheet_names:
            try:
                sheet = book.get_sheet_by_name(name)
            except Exception:  # noqa: BLE001 - a chart sheet or macro sheet: no cells to read
                continue
            lines = list(rows_to_lines(_sheet_rows(sheet)))
            if not lines:
                continue
            regions.append(Region(offset, name, ROWS))
            for line in lines:
                parts.append(line)
                offset += len(line)
    except UnreadableDocument:
        raise
    except Exception as exc:
        raise UnreadableDocument(f"not a readable workbook ({short_reason(exc)})") from None
    finally:
        book.close()
    return "".join(parts), tuple(regions)


def _sheet_rows(sheet) -> Iterator[tuple[int, list]]:
    """(row number as a spreadsheet shows it, values), every cell of a merged range holding its value."""
    rows = sheet.to_python(skip_empty_area=False)       # from A1, so indexes are the sheet's own
    for (r0, c0), (r1, c1) in getattr(sheet, "merged_cell_ranges", None) or ():
        value = rows[r0][c0] if r0 < len(rows) and c0 < len(rows[r0]) else None
        for r in range(r0, min(r1, len(rows) - 1) + 1):
            row = rows[r]
            row.extend([None] * (c1 + 1 - len(row)))
            row[c0:c1 + 1] = [value] * (c1 + 1 - c0)
    for i, values in enumerate(rows):
        if any(isinstance(v, str) and len(v) > MAX_CELL_CHARS for v in values):
            raise UnreadableDocument(f"a cell in sheet {sheet.name!r} holds over {MAX_CELL_CHARS:,} characters")
        yield i + 1, values


def _workbook_problem(data: bytes, exc: BaseException) -> str:
    if data.startswith(b"\xd0\xcf\x11\xe0"):    # an OLE container: what Excel writes for a password
        return "password-protected workbook, or not a workbook"
    return f"not a readable workbook ({short_reason(exc)})"
