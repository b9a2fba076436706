"""Markdown headings as regions: each '#' heading starts a region named by its heading path
("Installation › Linux"). Found while the text streams past, so a large file is never held whole."""
from __future__ import annotations

import re
from typing import Iterable, Iterator

from .regions import Region, heading_path

MARKDOWN_SUFFIXES = {".md", ".markdown"}
_ATX = re.compile(r"(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"(```|~~~)")


class MarkdownHeadings:
    """Pass the text's pieces through ``scan``; ``regions`` holds the headings seen so far."""

    def __init__(self):
        self.regions: list[Region] = []
        self._stack: list[str] = []
        self._fence = ""

    def scan(self, pieces: Iterable[str]) -> Iterator[str]:
        offset = 0      # where ``line``, the unfinished last line, starts
        line = ""
        for piece in pieces:
            buf, pos = line + piece, 0          # the headings of a piece are known before it is handed on
            while (nl := buf.find("\n", pos)) >= 0:
                self._line(offset + pos, buf[pos:nl])
                pos = nl + 1
            offset += pos
            line = buf[pos:]
            yield piece
        if line:
            self._line(offset, line)

    def _line(self, offset: int, line: str) -> None:
        if len(line) > 1000:            # no heading is that long
            return
        stripped = line.strip()
        fence = _FENCE.match(stripped)
        if fence:
            if not self._fence:
                self._fence = fence.group(1)
            elif stripped.startswith(self._fence):
                self._fence = ""
            return
        m = _ATX.match(line) if not self._fence else None
        if m is None:
            return
        level = len(m.group(1))
        self._stack = self._stack[:level - 1] + [""] * (level - 1 - len(self._stack)) + [m.group(2).strip()]
        self.regions.append(Region(offset, heading_path(self._stack)))
