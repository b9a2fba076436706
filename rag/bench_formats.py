"""Benchmark: how fast each kind of document is read and chunked (documents/s, chunks/s), and how
long OCR takes per page. Part of `rag bench`; the documents are made here, from synthetic text."""
from __future__ import annotations

import io
import os
import time
import zipfile
from email.message import EmailMessage
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from .config import Settings

ODS_CONTENT = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">
<office:body><office:spreadsheet><table:table table:name="{name}">{rows}</table:table></office:spreadsheet></office:body>
</office:document-content>"""

EPUB_CHAPTER = """<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>{title}</title></head><body>{body}</body></html>"""


def ods_bytes(rows: list[list[str]], name: str = "Sheet1") -> bytes:
    """A minimal OpenDocument spreadsheet of text cells (what LibreOffice saves, reduced)."""
    body = "".join("<table:table-row>" + "".join(
        f'<table:table-cell office:value-type="string"><text:p>{escape(c)}</text:p></table:table-cell>'
        for c in row) + "</table:table-row>" for row in rows)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", compress_type=zipfile.ZIP_STORED)
        zf.writestr("META-INF/manifest.xml", '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                    'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                    '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.'
                    'opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" '
                    'manifest:media-type="text/xml"/></manifest:manifest>')
        zf.writestr("content.xml", ODS_CONTENT.format(name=escape(name), rows=body))
    return buf.getvalue()


def epub_bytes(chapters: list[tuple[str, str]]) -> bytes:
    """An EPUB 2 book of (title, XHTML body) chapters, with a table of contents naming them."""
    items = "".join(f'<item id="c{i}" href="text/c{i}.xhtml" media-type="application/xhtml+xml"/>'
                    for i in range(len(chapters)))
    spine = "".join(f'<itemref idref="c{i}"/>' for i in range(len(chapters)))
    points = "".join(f'<navPoint id="p{i}" playOrder="{i + 1}"><navLabel><text>{escape(title)}</text></navLabel>'
                     f'<content src="text/c{i}.xhtml"/></navPoint>' for i, (title, _) in enumerate(chapters))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        zf.writestr("META-INF/container.xml", '<?xml version="1.0"?><container version="1.0" '
                    'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles><rootfile '
                    'full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>')
        zf.writestr("OEBPS/content.opf", '<?xml version="1.0" encoding="utf-8"?><package '
                    'xmlns="http://www.idpf.org/2007/opf" version="2.0" unique-identifier="id"><metadata '
                    'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Book</dc:title><dc:identifier id="id">x'
                    '</dc:identifier></metadata><manifest><item id="ncx" href="toc.ncx" '
                    f'media-type="application/x-dtbncx+xml"/>{items}</manifest><spine toc="ncx">{spine}</spine></package>')
        zf.writestr("OEBPS/toc.ncx", '<?xml version="1.0" encoding="utf-8"?><ncx '
                    f'xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1"><navMap>{points}</navMap></ncx>')
        for i, (title, body) in enumerate(chapters):
            zf.writestr(f"OEBPS/text/c{i}.xhtml", EPUB_CHAPTER.format(title=escape(title), body=body))
    return buf.getvalue()


def _paragraphs(words: list[str], rng, n: int, length: int = 40) -> list[str]:
    return [" ".join(rng.choice(words, length)).capitalize() + "." for _ in range(n)]


def write_sample(kind: str, path: Path, words: list[str], rng) -> None:
    """One synthetic document of ``kind`` (about 2,000 words, in that kind's structure)."""
    paras = _paragraphs(words, rng, 50)
    if kind == ".csv":
        rows = ["Id,Name,Note"] + [f'{i},{p.split()[0]},"{p}"' for i, p in enumerate(paras)]
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    elif kind == ".ods":
        path.write_bytes(ods_bytes([["Id", "Name", "Note"]] + [[str(i), p.split()[0], p] for i, p in enumerate(paras)]))
    elif kind == ".md":
        path.write_text("".join(f"## Part {i}\n\n{p}\n\n" for i, p in enumerate(paras)), encoding="utf-8")
    elif kind == ".html":
        path.write_text("<html><body>" + "".join(f"<h2>Part {i}</h2><p>{p}</p>" for i, p in enumerate(paras))
                        + "</body></html>", encoding="utf-8")
    elif kind == ".docx":
        import docx

        d = docx.Document()
        for i, p in enumerate(paras):
            d.add_heading(f"Part {i}", level=2)
            d.add_paragraph(p)
        d.save(str(path))
    elif kind == ".pptx":
        from pptx import Presentation

        deck = Presentation()
        for i in range(0, len(paras), 5):
            slide = deck.slides.add_slide(deck.slide_layouts[1])
            slide.shapes.title.text = f"Part {i}"
            slide.placeholders[1].text = "\n".join(paras[i:i + 5])
        deck.save(path)
    elif kind == ".epub":
        path.write_bytes(epub_bytes([(f"Part {i}", "".join(f"<p>{p}</p>" for p in paras[i:i + 10]))
                                     for i in range(0, len(paras), 10)]))
    elif kind == ".eml":
        msg = EmailMessage()
        msg["Subject"] = paras[0][:40]
        msg.set_content("\n\n".join(paras[:40]))
        msg.add_attachment("\n\n".join(paras[40:]), subtype="plain", filename="notes.txt")
        path.write_bytes(bytes(msg))


KINDS = (".csv", ".ods", ".md", ".html", ".docx", ".pptx", ".epub", ".eml")


def scanned_page(lines: list[str]) -> bytes:
    """A PDF of one page image (a scan: no text layer)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=36)
    img = Image.new("L", (1275, 1650), 255)
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((60, 80 + 60 * i), line, font=font, fill=0)
    buf = io.BytesIO()
    img.save(buf, "PDF", resolution=150)
    return buf.getvalue()


def bench_formats(settings: Settings, words: list[str], n_docs: int, ocr_pages: int, work: Path, res: dict,
                  chunker=None) -> None:
    from .documents import read_document, scan
    from .ocr import pdf_page_text
    from .pipeline import make_chunker, shared_embedder

    chunker = chunker or make_chunker(settings, shared_embedder(settings))
    chunker.count_tokens(["load the tokenizer before anything is timed"])
    rng = np.random.default_rng(7)
    rows = {}
    for kind in KINDS:
        folder = work / f"formats-{kind.lstrip('.')}"
        folder.mkdir(parents=True)
        paths = [folder / f"doc{i}{kind}" for i in range(n_docs)]
        for path in paths:
            write_sample(kind, path, words, rng)
        t = time.perf_counter()
        chunks = sum(len(chunker.split(source, d.text, d.regions))     # an e-mail's attachments too
                     for source, path in scan(folder)[0] for d in [read_document(path, source)])
        seconds = time.perf_counter() - t
        rows[kind] = {"documents": n_docs, "chunks": chunks, "seconds": round(seconds, 3),
                      "docs_per_s": round(n_docs / seconds, 1), "chunks_per_s": round(chunks / seconds, 1)}
    res["formats"] = {"kinds": rows}
    old = os.environ.get("RAG_OCR_CACHE")
    os.environ["RAG_OCR_CACHE"] = str(work / "ocr-cache")     # every page is read, none comes from a cache
    try:
        times = []
        for i in range(ocr_pages):
            page = scanned_page(_paragraphs(words, rng, 20, 6))
            t = time.perf_counter()
            pdf_page_text(page, 0)
            times.append(time.perf_counter() - t)
    finally:
        if old is None:
            os.environ.pop("RAG_OCR_CACHE", None)
        else:
            os.environ["RAG_OCR_CACHE"] = old
    res["formats"]["ocr_s_per_page"] = round(float(np.median(times)), 2) if times else None
    res["formats"]["ocr_pages"] = ocr_pages


def report_lines(res: dict) -> list[str]:
    f = res.get("formats")
    if not f:
        return []
    rows = [[kind, v["documents"], v["chunks"], v["docs_per_s"], v["chunks_per_s"]] for kind, v in f["kinds"].items()]
    head = [f"Reading and chunking synthetic documents of about 2,000 words each (no embedding: see the indexing "
            f"section for that). OCR: median of {f['ocr_pages']} scanned pages of 20 lines, drawn at 300 dpi and read "
            f"by Tesseract: **{f['ocr_s_per_page']} s per page**.", ""]
    return head, rows
