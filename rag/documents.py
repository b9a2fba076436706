"""Finding and reading the corpus: one Document per readable file, one Skipped per file that is not.

The text a Document carries is *the* decoded text of its file: citations are character offsets
into it, and ``read_text`` gives anyone the same text to check a quote against. Both go through
``extract``, the one per-format extraction: plain text here (read a block at a time by
``rag.textfiles``), and the readers of the other kinds in their modules (``rag.html``,
``rag.pdf`` with ``rag.pdf_tables`` and ``rag.ocr``, ``rag.word``, ``rag.sheets`` for workbooks
and CSV, ``rag.slides``, ``rag.ebooks``, ``rag.mail``). A reader may also mark named
regions of its text (a sheet, a slide, a chapter, a heading path): see ``rag.regions``.

A file may hold documents of its own besides its text: each text attachment of an e-mail is a
document, named by a path under the file's (``inbox/a.eml/notes.txt``), read from the file.
"""
from __future__ import annotations

import bisect
import hashlib
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

from .regions import Region, location

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text", ".rst"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
DOCX_SUFFIXES = {".docx"}
CSV_SUFFIXES = {".csv", ".tsv"}
# The readers of the other kinds of file: suffix -> (module of rag, its function giving text and regions).
READERS = {
    ".xlsx": ("sheets", "workbook_text"), ".xlsm": ("sheets", "workbook_text"),
    ".xls": ("sheets", "workbook_text"), ".ods": ("sheets", "workbook_text"),
    ".png": ("ocr", "image_text"), ".jpg": ("ocr", "image_text"), ".jpeg": ("ocr", "image_text"),
    ".tif": ("ocr", "image_text"), ".tiff": ("ocr", "image_text"),
    ".pptx": ("slides", "pptx_text"),
    ".epub": ("ebooks", "epub_text"),
    ".eml": ("mail", "eml_text"),
}
PART_SUFFIXES = {".eml"}          # files holding documents of their own (an e-mail's text attachments)
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES | DOCX_SUFFIXES | CSV_SUFFIXES | set(READERS)
STREAMED_SUFFIXES = TEXT_SUFFIXES | CSV_SUFFIXES   # text files, read and indexed a block at a time
MAX_FILE_BYTES = 200 * 1024 * 1024
PDF_TIME_BUDGET_S = 30.0          # wall-clock budget for one PDF's text extraction (checked between pages;
                                  # when indexing, also enforced by stopping the worker process)
PDF_MAX_PAGES = 10_000
DOCX_MAX_UNZIPPED_BYTES = 1024 * 1024 * 1024   # guards against zip bombs (.docx, .xlsx, .pptx, .epub)
ZIP_MAX_RATIO = 200               # uncompressed / compressed bytes of a whole archive; text rarely passes 20


@dataclass(frozen=True)
class Document:
    source: str                 # path relative to the corpus folder, '/' separators (an attachment's: under its file's)
    text: str
    sha256: str                 # of the file's bytes
    pages: tuple[int, ...] = ()  # character offset where each page starts (paged formats only)
    regions: tuple[Region, ...] = ()   # named parts: sheets, slides, chapters, heading paths

    def page_at(self, offset: int) -> int | None:
        """1-based page number holding ``offset``, or None for unpaged documents."""
        return page_of(self.pages, offset)

    def location(self, start: int, end: int) -> str:
        """Where ``text[start:end]`` is, in words ("Sheet1, row 12", "slide 3"); "" when unnamed."""
        head = self.text[self.text.rfind("\n", 0, start) + 1:start]
        return location(self.regions, self.pages, start, end, self.text[start:end], head)

    def __repr__(self) -> str:
        return f"Document({self.source!r}, {len(self.text):,} chars, sha256={self.sha256[:10]})"


def page_of(pages: Sequence[int], offset: int) -> int | None:
    """1-based page holding ``offset``, given each page's start offset; None when there are no pages."""
    if not pages:
        return None
    return max(1, bisect.bisect_right(pages, offset))


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


class UnreadableDocument(Exception):
    """Raised by ``read_document`` with a one-line reason."""


def scan(root: Path, *, parts: bool = True) -> tuple[list[tuple[str, Path]], list[Skipped]]:
    """Documents under ``root`` to index (sorted by source), each with the file it is read from,
    and the files skipped, with reasons. With ``parts``, the text attachments of an e-mail are
    listed after it (``inbox/a.eml/notes.txt``, read from ``inbox/a.eml``).

    Symlinks are not followed: a corpus is the files that live in it.
    """
    root = Path(root)
    found: list[tuple[str, Path]] = []
    skipped: list[Skipped] = []

    def unreadable_folder(err: OSError) -> None:
        if err.filename and Path(err.filename) != root:     # a corpus folder that cannot be read is an error later
            why = "permission denied" if isinstance(err, PermissionError) else f"cannot read ({err.strerror or err})"
            skipped.append(Skipped(_rel(root, Path(err.filename)) + "/", f"folder not read: {why}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable_folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for d in list(dirnames):
            if os.path.islink(os.path.join(dirpath, d)):
                dirnames.remove(d)
                skipped.append(Skipped(_rel(root, Path(dirpath, d)), "symbolic link (not followed)"))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath, name)
            source = _rel(root, path)
            if path.is_symlink():
                skipped.append(Skipped(source, "symbolic link (not followed)"))
            elif not path.is_file():   # a named pipe or a device would block or never end
                skipped.append(Skipped(source, "not a regular file"))
            elif path.suffix.lower() not in SUPPORTED_SUFFIXES:
                skipped.append(Skipped(source, f"unsupported file type {path.suffix or '(none)'}"))
            else:
                found.append((source, path))
                if parts:
                    found.extend((f"{source}/{name}", path) for name in attachments(path))
    found.sort()
    return found, skipped


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def attachments(path: Path, *, cached: bool = True) -> list[str]:
    """The names of the documents the file at ``path`` holds besides itself (an e-mail's text
    attachments); the source of each is the file's source, '/', its name."""
    if Path(path).suffix.lower() not in PART_SUFFIXES:
        return []
    from .mail import attachment_list

    return [name for name, _ in attachment_list(path, cached=cached)]


def attachment_name(path: Path, source: str) -> str | None:
    """The name of the attachment ``source`` names in the file at ``path``; None when ``source``
    is the file itself (an attachment is never named like the file holding it)."""
    path = Path(path)
    head, _, name = source.rpartition("/")
    if path.suffix.lower() not in PART_SUFFIXES or not head or name == path.name:
        return None
    return name if head.rpartition("/")[2] == path.name else None


def read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UnreadableDocument(f"too large ({size:,} bytes; limit {MAX_FILE_BYTES:,})")
        return path.read_bytes()
    except PermissionError:
        raise UnreadableDocument("permission denied") from None
    except OSError as exc:
        raise UnreadableDocument(f"cannot read ({exc.strerror or exc})") from None


def decode_text(data: bytes) -> str:
    """Decode a text file: UTF-8 (BOM or not), UTF-16 with BOM, else Windows-1252 / Latin-1."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    if b"\x00" in data[:8192]:
        raise UnreadableDocument("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Mostly UTF-8 with a few bad bytes: keep UTF-8 and replace the bad bytes. It is UTF-8 only if
    # some non-ASCII text decodes: ASCII with a few stray high bytes is Windows-1252 (curly quotes).
    replaced = data.decode("utf-8", errors="replace")
    bad = replaced.count("\ufffd")
    if bad and bad * 200 < len(replaced) and any(ord(ch) > 127 and ch != "\ufffd" for ch in replaced):
        return replaced
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


_TEXTFILES = {"TEXT_BLOCK_BYTES", "TextProbe", "iter_text", "probe_text", "sha256_file"}


def __getattr__(name: str):
    """The plain-text block readers, which live in ``rag.textfiles``, by their old names here."""
    if name in _TEXTFILES:
        from . import textfiles

        return getattr(textfiles, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------- per-format extraction

def reader_version(path: Path) -> str:
    """Names the code that turns this kind of file into text. The index stores it per file, so a
    reader that changes (a new pypdf, a new HTML rule) re-reads those files instead of trusting
    character offsets computed by the old one."""
    from importlib.metadata import version

    suffix = Path(path).suffix.lower()
    if suffix in HTML_SUFFIXES:
        return f"html-2 beautifulsoup4-{version('beautifulsoup4')} lxml-{version('lxml')}"
    if suffix in PDF_SUFFIXES:
        return (f"pdf-3 pypdf-{version('pypdf')} pdfplumber-{version('pdfplumber')} "
                f"pypdfium2-{version('pypdfium2')} tesseract-{_tesseract() or 'none'}")
    if suffix in DOCX_SUFFIXES:
        return f"docx-2 python-docx-{version('python-docx')}"
    if suffix in CSV_SUFFIXES:
        return "csv-1"
    if suffix in (".md", ".markdown"):
        return "markdown-2"
    if suffix in READERS:
        return _READER_VERSIONS[READERS[suffix][0]](version)
    return "text-1"


_READER_VERSIONS = {
    "sheets": lambda version: f"workbook-1 python-calamine-{version('python-calamine')}",
    "slides": lambda version: f"pptx-1 python-pptx-{version('python-pptx')}",
    "ebooks": lambda version: f"epub-1 html-2 lxml-{version('lxml')}",
    "mail": lambda version: "eml-2 html-2 markdown-2 csv-1",
    "ocr": lambda version: f"ocr-1 tesseract-{_tesseract() or 'none'}",
}


@dataclass(frozen=True)
class Extracted:
    """What a reader makes of a file: its text, where its pages start, its named regions."""
    text: str
    pages: tuple[int, ...] = ()
    regions: tuple[Region, ...] = ()


def stream_pieces(path: Path, pieces: Iterator[str]) -> tuple[Iterator[str], Sequence[Region]]:
    """The stored text of a streamed file (see STREAMED_SUFFIXES) from its decoded text in pieces,
    and its regions (complete once the pieces have all been read)."""
    from .headings import MARKDOWN_SUFFIXES, MarkdownHeadings

    suffix = Path(path).suffix.lower()
    if suffix in CSV_SUFFIXES:
        from .sheets import CSV_REGIONS, csv_lines

        return csv_lines(pieces, suffix), CSV_REGIONS
    if suffix in MARKDOWN_SUFFIXES:
        headings = MarkdownHeadings()
        return headings.scan(pieces), headings.regions
    return pieces, ()


def extract_text(path: Path, data: bytes, *, isolated: bool = False) -> tuple[str, tuple[int, ...]]:
    """The text of a file's bytes and the page start offsets (PDF only): see ``extract``."""
    got = extract(path, data, isolated=isolated)
    return got.text, got.pages


def extract(path: Path, data: bytes, *, isolated: bool = False,
            ocr_progress: Callable[[int, int], None] | None = None) -> Extracted:
    """The text of a file's bytes, chosen by its suffix, with its pages and regions.

    ``isolated``: read a PDF in a worker process that is stopped when it runs over its time
    (a page that never finishes cannot hold up a rebuild; see ``rag.pdf``).
    ``ocr_progress(done, total)``: called after each PDF page read by OCR."""
    suffix = Path(path).suffix.lower()
    if suffix in HTML_SUFFIXES:
        from .html import html_parts

        return Extracted(*_no_pages(html_parts(data)))
    if suffix in PDF_SUFFIXES:
        from .pdf import pdf_extract

        return Extracted(*pdf_extract(data, isolated=isolated, progress=ocr_progress))
    if suffix in DOCX_SUFFIXES:
        from .word import docx_parts

        return Extracted(*_no_pages(docx_parts(data)))
    if suffix in READERS:
        import importlib

        module, function = READERS[suffix]
        got = getattr(importlib.import_module(f".{module}", __package__), function)(data)
        return Extracted(*got) if len(got) == 3 else Extracted(*_no_pages(got))
    if suffix in STREAMED_SUFFIXES:
        pieces, regions = stream_pieces(path, iter((decode_text(data),)))
        text = "".join(pieces)
        return Extracted(text, (), tuple(regions))
    return Extracted(decode_text(data))


def _no_pages(got: tuple[str, tuple[Region, ...]]) -> tuple[str, tuple[int, ...], tuple[Region, ...]]:
    return got[0], (), got[1]


def check_zip(data: bytes, limit: int | None = None) -> None:
    """Refuse an archive (.docx, .xlsx, .pptx, .epub) that would unpack to too much: a zip bomb.
    Reads only the archive's directory; a file that is not a zip passes (its reader says why)."""
    limit = DOCX_MAX_UNZIPPED_BYTES if limit is None else limit
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            total = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return
    if total > limit:
        raise UnreadableDocument(f"too large when unzipped ({total:,} bytes; limit {limit:,})")
    if total > 10 * 1024 * 1024 and total > ZIP_MAX_RATIO * len(data):
        raise UnreadableDocument(f"compressed too well to be a document ({total // max(1, len(data)):,}:1; "
                                 f"a zip bomb?)")


def join_pages(pages: Sequence[str]) -> tuple[str, tuple[int, ...]]:
    """Pages separated by a blank line, and the offset where each starts."""
    starts, offset = [], 0
    for i, page in enumerate(pages):
        offset += 2 if i else 0
        starts.append(offset)
        offset += len(page)
    return "\n\n".join(pages), tuple(starts)


def stop_pdf_worker(kill: bool = False) -> None:
    """Stop the process that reads PDFs while indexing (see ``rag.pdf``)."""
    from .pdf import stop_pdf_worker as stop

    stop(kill)


def html_text(data: bytes) -> str:
    """Visible text of an HTML page (see ``rag.html``)."""
    from .html import html_parts

    return html_parts(data)[0]


def docx_text(data: bytes) -> str:
    """Paragraphs and tables of a .docx body (see ``rag.word``)."""
    from .word import docx_parts

    return docx_parts(data)[0]


def short_reason(exc: BaseException) -> str:
    """An exception as a short one-line reason."""
    msg = " ".join(str(exc).split())
    msg = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
    return msg if len(msg) <= 120 else msg[:117] + "..."


def read_text(path: Path) -> str:
    """The text of a corpus document exactly as the index sees it (citations are offsets into it),
    by its path: a file's, or an e-mail attachment's under its .eml (``inbox/a.eml/notes.txt``)."""
    path = Path(path)
    if path.parent.suffix.lower() in PART_SUFFIXES and path.parent.is_file():
        return _extract_attachment(path.parent, read_bytes(path.parent), path.name).text
    return extract_text(path, read_bytes(path))[0]


def read_source(seeds_dir: Path, source: str) -> str:
    """The text of the indexed document ``source`` of the corpus folder ``seeds_dir``, as the index
    sees it: what a citation's offsets point into, attachments of e-mails included."""
    return read_text(Path(seeds_dir) / source)


def _extract_attachment(path: Path, data: bytes, name: str) -> Extracted:
    from .mail import attachment_text

    return Extracted(*_no_pages(attachment_text(data, name, path.name)))


def _tesseract() -> str | None:
    from .ocr import tesseract_version

    return tesseract_version()


def read_document(path: Path, source: str, *, isolated: bool = False,
                  ocr_progress: Callable[[int, int], None] | None = None) -> Document:
    """The document ``source`` of the file at ``path``: the file, or one of its attachments."""
    path = Path(path)
    data = read_bytes(path)
    name = attachment_name(path, source)
    got = (_extract_attachment(path, data, name) if name is not None
           else extract(path, data, isolated=isolated, ocr_progress=ocr_progress))
    if not got.text.strip():
        raise UnreadableDocument("empty (no text)")
    return Document(source=source, text=got.text, sha256=hashlib.sha256(data).hexdigest(), pages=got.pages,
                    regions=got.regions)
