"""Word documents (.docx) as text: paragraphs and tables in body order, a table row per line with
its header ("Region: North; Revenue: 42 million"), and a region per heading naming its path."""
from __future__ import annotations

import io
import re

from .documents import UnreadableDocument, check_zip, short_reason
from .regions import Region, heading_path
from .tables import table_lines

_HEADING = re.compile(r"heading (\d)$", re.I)


def docx_parts(data: bytes) -> tuple[str, tuple[Region, ...]]:
    import docx
    from docx.table import Table

    check_zip(data)
    lines: list[str] = []
    regions: list[Region] = []
    stack: list[str] = []
    offset = 0

    def add(text: str, level: int = 0) -> None:
        nonlocal offset, stack
        text = text.strip()
        if not text:
            return
        if level:
            stack = stack[:level - 1] + [""] * (level - 1 - len(stack)) + [" ".join(text.split())]
            regions.append(Region(offset, heading_path(stack)))
        lines.append(text)
        offset += len(text) + 1

    try:
        document = docx.Document(io.BytesIO(data))
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                for line in table_lines([[cell.text for cell in row.cells] for row in item.rows]):
                    add(line)
            else:
                add(item.text, _level(item))
    except UnreadableDocument:
        raise
    except Exception as exc:
        raise UnreadableDocument(f"not a readable .docx file ({short_reason(exc)})") from None
    return "\n".join(lines), tuple(regions)


def _level(paragraph) -> int:
    try:
        name = paragraph.style.name or ""
    except Exception:  # noqa: BLE001 - a damaged style part: read it as a plain paragraph
        return 0
    if name.lower() == "title":
        return 1
    m = _HEADING.match(name)
    return min(int(m.group(1)), 6) if m else 0
