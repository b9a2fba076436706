"""Slide decks (.pptx) as text: each slide's text boxes, tables (rows with their header) and
speaker notes, in slide order; a region per slide ("slide 3 › Quarterly results")."""
from __future__ import annotations

import io

from .documents import UnreadableDocument, check_zip, short_reason
from .regions import SEP, Region
from .tables import table_lines



def pptx_text(data: bytes) -> tuple[str, tuple[Region, ...]]:
    from pptx import Presentation

    check_zip(data)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableDocument("password-protected or old-format (.ppt) presentation")
    try:
        deck = Presentation(io.BytesIO(data))
        parts: list[str] = []
        regions: list[Region] = []
        offset = 0
        for n, slide in enumerate(deck.slides, 1):
            lines = _slide_lines(slide)
            if not lines:
                continue
            title = _title(slide)
            regions.append(Region(offset, f"slide {n}" + (SEP + title if title else "")))
            block = "\n".join(lines) + "\n\n"
            parts.append(block)
            offset += len(block)
    except UnreadableDocument:
        raise
    except Exception as exc:  # python-pptx raises many kinds of errors on damaged files
        raise UnreadableDocument(f"not a readable .pptx file ({short_reason(exc)})") from None
    return "".join(parts), tuple(regions)


def _title(slide) -> str:
    shape = slide.shapes.title
    return " ".join(shape.text_frame.text.split()) if shape is not None and shape.has_text_frame else ""


def _slide_lines(slide) -> list[str]:
    lines: list[str] = []
    _shape_lines(slide.shapes, lines)
    if slide.has_notes_slide:
        notes = slide.notes_slide.notes_text_frame
        text = " ".join(notes.text.split()) if notes is not None else ""
        if text:
            lines.append(f"Speaker notes: {text}")
    return lines


def _shape_lines(shapes, lines: list[str]) -> None:
    for shape in shapes:
        if shape.shape_type is not None and getattr(shape, "shapes", None) is not None:   # a group
            _shape_lines(shape.shapes, lines)
        elif getattr(shape, "has_table", False) and shape.has_table:
            rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
            lines.extend(table_lines(rows))
        elif shape.has_text_frame:
            for paragraph in shape.text_frame.paragraphs:
                text = " ".join(paragraph.text.split())
                if text:
                    lines.append(text)
