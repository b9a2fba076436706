"""Where a span of a document sits, in words a person would use: "Sheet1, row 12", "slide 3",
"chapter 'Ports'", "Installation › Linux", "page 4".

A reader marks the named parts of the text it makes as Regions (the offset where each starts and
its label); the index keeps them per file, beside the page starts. A region of spreadsheet rows
does not list its rows: every row is one line of the stored text that starts with its number
("Row 12: Region: Kanto; …"), so the rows a quote covers are read from the quote itself.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

SEP = " › "                       # between the parts of a heading path
ROWS = "rows"                     # the kind of a region whose lines are spreadsheet rows
_ROW = re.compile(r"^Row (\d+): ", re.M)


@dataclass(frozen=True)
class Region:
    start: int                  # character offset where the region starts
    label: str                  # "Sheet1", "slide 3", "chapter 'Ports'", "Installation › Linux"
    kind: str = ""              # ROWS: its lines are rows that name their number

    def to_json(self) -> list:
        return [self.start, self.label, self.kind] if self.kind else [self.start, self.label]

    @classmethod
    def from_json(cls, item: Sequence) -> "Region":
        return cls(int(item[0]), str(item[1]), str(item[2]) if len(item) > 2 else "")


def row_line(number: int, cells: Iterable[tuple[str, str]]) -> str:
    """One spreadsheet row as the line we store: 'Row 12: Region: Kanto; Tonnes: 1,250'."""
    return f"Row {number}: " + "; ".join(f"{name}: {value}" if name else value for name, value in cells)


def regions_from_json(items: Iterable[Sequence] | None) -> tuple[Region, ...]:
    return tuple(Region.from_json(item) for item in items or ())


def location(regions: Sequence[Region], pages: Sequence[int], start: int, end: int,
             text: str = "", line_head: str = "") -> str:
    """The human-readable place of ``[start, end)``: the region holding ``start`` (and the one
    holding the end, when the span runs into another), with the rows of a spreadsheet region, or
    the page. ``text`` is the stored text of the span; ``line_head`` the text of its first line
    before ``start`` (a quote that starts mid-row still names its row)."""
    parts: list[str] = []
    first = _region_at(regions, start)
    if first is not None:
        last = _region_at(regions, max(start, end - 1))
        label = first.label
        if last is not None and last is not first and last.label != first.label:
            label = f"{first.label} – {last.label}"
        if label:
            parts.append(label)
        if first.kind == ROWS:
            rows = [int(n) for n in _ROW.findall(line_head + text)]
            if rows:
                parts.append(f"row {rows[0]}" if rows[0] == rows[-1] else f"rows {rows[0]}–{rows[-1]}")
    if pages:
        first_page = max(1, bisect.bisect_right(pages, start))
        last_page = max(first_page, bisect.bisect_right(pages, max(start, end - 1)))
        parts.insert(0, f"page {first_page}" if first_page == last_page else f"pages {first_page}–{last_page}")
    return ", ".join(parts)


def _region_at(regions: Sequence[Region], offset: int) -> Region | None:
    i = bisect.bisect_right([r.start for r in regions], offset) - 1
    return regions[i] if i >= 0 else None


def heading_path(stack: Sequence[str]) -> str:
    return SEP.join(s for s in stack if s)
