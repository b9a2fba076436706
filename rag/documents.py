"""Finding and reading the corpus: one Document per readable file, one Skipped per file that is not.

The text a Document carries is *the* decoded text of its file: citations are character offsets
into it, and ``read_text`` gives anyone the same text to check a quote against. Both go through
``extract_text``, the one per-format extraction (plain text, HTML, PDF text layer, .docx).
"""
from __future__ import annotations

import bisect
import codecs
import hashlib
import io
import logging
import os
import re
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text", ".rst"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
DOCX_SUFFIXES = {".docx"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES | DOCX_SUFFIXES
MAX_FILE_BYTES = 200 * 1024 * 1024
PDF_TIME_BUDGET_S = 30.0          # wall-clock budget for one PDF's text extraction (checked between pages;
                                  # when indexing, also enforced by stopping the worker process)
PDF_MAX_PAGES = 10_000
DOCX_MAX_UNZIPPED_BYTES = 1024 * 1024 * 1024   # guards against zip bombs
TEXT_BLOCK_BYTES = 1 << 20        # plain-text files are read and decoded a block at a time


@dataclass(frozen=True)
class Document:
    source: str                 # path relative to the corpus folder, with '/' separators
    text: str
    sha256: str                 # of the file's bytes
    pages: tuple[int, ...] = ()  # character offset where each page starts (paged formats only)

    def page_at(self, offset: int) -> int | None:
        """1-based page number holding ``offset``, or None for unpaged documents."""
        return page_of(self.pages, offset)

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


def scan(root: Path) -> tuple[list[tuple[str, Path]], list[Skipped]]:
    """Files under ``root`` to index (sorted by source) and those skipped, with reasons.

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
    found.sort()
    return found, skipped


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


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


# --------------------------------------------------------------------------- plain text, block by block

_CP1252_UNDEFINED = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")


@dataclass(frozen=True)
class TextProbe:
    """What one pass over a plain-text file found: its checksum and how to decode it.

    ``iter_text(path, probe)`` then yields exactly ``decode_text(path.read_bytes())``, a block at
    a time, so a large file is never held in memory whole.
    """
    sha256: str
    size: int
    encoding: str
    errors: str


def _open_for_reading(path: Path):
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UnreadableDocument(f"too large ({size:,} bytes; limit {MAX_FILE_BYTES:,})")
        return open(path, "rb")
    except PermissionError:
        raise UnreadableDocument("permission denied") from None
    except IsADirectoryError:
        raise UnreadableDocument("is a directory") from None
    except OSError as exc:
        raise UnreadableDocument(f"cannot read ({exc.strerror or exc})") from None


def _blocks(f, block: int, first: int = 0) -> Iterator[bytes]:
    try:
        if data := f.read(max(block, first)):
            yield data
        while data := f.read(block):
            yield data
    except PermissionError:
        raise UnreadableDocument("permission denied") from None
    except OSError as exc:
        raise UnreadableDocument(f"cannot read ({exc.strerror or exc})") from None


def sha256_file(path: Path, block: int = 4 * TEXT_BLOCK_BYTES) -> str:
    """The sha256 of a file's bytes, read a block at a time; UnreadableDocument when it cannot be read."""
    h = hashlib.sha256()
    with _open_for_reading(Path(path)) as f:
        for data in _blocks(f, block):
            h.update(data)
    return h.hexdigest()


def probe_text(path: Path, block: int = TEXT_BLOCK_BYTES) -> TextProbe:
    """Read a plain-text file once, a block at a time: checksum, encoding (the rules of
    ``decode_text``), and whether it holds any text. Raises UnreadableDocument like ``read_document``."""
    path = Path(path)
    h = hashlib.sha256()
    size = 0
    encoding = None
    decoder = None
    chars = replacements = genuine = 0      # of a UTF-8 decoding with replacement characters
    tail = b""
    non_ascii = nonblank = False
    cp1252_ok = True
    with _open_for_reading(path) as f:
        for data in _blocks(f, block, first=8192):   # the first block holds any BOM and the NUL check
            if decoder is None:
                if data.startswith(b"\xef\xbb\xbf"):
                    encoding = "utf-8-sig"
                elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
                    encoding = "utf-16"
                elif b"\x00" in data[:8192]:
                    raise UnreadableDocument("binary file (contains NUL bytes)")
                decoder = codecs.getincrementaldecoder(encoding or "utf-8")("replace")
            h.update(data)
            size += len(data)
            piece = decoder.decode(data)
            if encoding is None:
                chars += len(piece)
                replacements += piece.count("\ufffd")
                genuine += (tail + data).count(b"\xef\xbf\xbd")
                tail = data[-2:]
                if not non_ascii and not piece.isascii():
                    non_ascii = not piece.replace("\ufffd", "").isascii()
                if cp1252_ok and any(b in data for b in _CP1252_UNDEFINED):
                    cp1252_ok = False
            if not nonblank and piece.strip():
                nonblank = True
        if decoder is not None:
            piece = decoder.decode(b"", final=True)
            chars += len(piece)
            replacements += piece.count("\ufffd")
            nonblank = nonblank or bool(piece.strip())
    if not nonblank:
        raise UnreadableDocument("empty (no text)")
    errors = "replace"
    if encoding is None:
        if replacements == genuine:                       # valid UTF-8
            encoding, errors = "utf-8", "strict"
        elif replacements * 200 < chars and non_ascii:    # mostly UTF-8 with a few bad bytes
            encoding = "utf-8"
        else:
            encoding, errors = ("cp1252" if cp1252_ok else "latin-1"), "strict"
    return TextProbe(h.hexdigest(), size, encoding, errors)


def iter_text(path: Path, probe: TextProbe, block: int = TEXT_BLOCK_BYTES,
              on_block: Callable[[int], None] | None = None) -> Iterator[str]:
    """The decoded text of a plain-text file in pieces (see ``probe_text``); ``on_block(n)`` is
    called with the size of every block of bytes read."""
    decoder = codecs.getincrementaldecoder(probe.encoding)(probe.errors)
    with _open_for_reading(Path(path)) as f:
        for data in _blocks(f, block):
            if on_block is not None:
                on_block(len(data))
            if piece := decoder.decode(data):
                yield piece
    if piece := decoder.decode(b"", final=True):
        yield piece


# --------------------------------------------------------------------------- per-format extraction

def reader_version(path: Path) -> str:
    """Names the code that turns this kind of file into text. The index stores it per file, so a
    reader that changes (a new pypdf, a new HTML rule) re-reads those files instead of trusting
    character offsets computed by the old one."""
    from importlib.metadata import version

    suffix = Path(path).suffix.lower()
    if suffix in HTML_SUFFIXES:
        return f"html-1 beautifulsoup4-{version('beautifulsoup4')} lxml-{version('lxml')}"
    if suffix in PDF_SUFFIXES:
        return f"pdf-1 pypdf-{version('pypdf')}"
    if suffix in DOCX_SUFFIXES:
        return f"docx-1 python-docx-{version('python-docx')}"
    return "text-1"


def extract_text(path: Path, data: bytes, *, isolated: bool = False) -> tuple[str, tuple[int, ...]]:
    """The text of a file's bytes, chosen by its suffix, and the page start offsets (PDF only).

    ``isolated``: extract a PDF in a worker process that is stopped when it runs over
    PDF_TIME_BUDGET_S (a page that never finishes cannot hold up a rebuild)."""
    suffix = Path(path).suffix.lower()
    if suffix in HTML_SUFFIXES:
        return html_text(data), ()
    if suffix in PDF_SUFFIXES:
        return pdf_text_isolated(data) if isolated else pdf_text(data)
    if suffix in DOCX_SUFFIXES:
        return docx_text(data), ()
    return decode_text(data), ()


_HTML_DROP = ("script", "style", "noscript", "template", "head", "meta", "link", "title", "iframe", "object",
              "embed", "svg", "canvas")
_HTML_BLOCKS = {
    "address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "dialog", "div", "dl",
    "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
    "hgroup", "hr", "html", "legend", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}


def html_text(data: bytes) -> str:
    """Visible text of an HTML page: one line per block element, whitespace inside a line collapsed."""
    from bs4 import BeautifulSoup, Comment, Declaration, Doctype, ProcessingInstruction

    try:
        soup = BeautifulSoup(data, "lxml")
    except Exception as exc:  # lxml is lenient; this is for truly broken input
        raise UnreadableDocument(f"malformed HTML ({type(exc).__name__})") from None
    for tag in soup.find_all(_HTML_DROP):
        tag.decompose()
    for node in soup.find_all(string=lambda s: isinstance(s, (Comment, Declaration, Doctype,
                                                              ProcessingInstruction))):
        node.extract()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for tag in soup.find_all(_HTML_BLOCKS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    lines = (re.sub(r"\s+", " ", line).strip() for line in soup.get_text().split("\n"))
    return "\n".join(line for line in lines if line)


def pdf_text(data: bytes, *, time_budget: float | None = None,
             max_pages: int | None = None) -> tuple[str, tuple[int, ...]]:
    """The text layer of a PDF, pages separated by a blank line, and the offset where each page starts.

    Bounded: extraction stops with UnreadableDocument once it has run longer than ``time_budget``
    seconds (checked between pages) or the PDF has more than ``max_pages`` pages.
    """
    from pypdf import PdfReader

    # pypdf logs a warning for every damage it repairs; a damaged file is reported as a Skipped instead.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    time_budget = PDF_TIME_BUDGET_S if time_budget is None else time_budget
    max_pages = PDF_MAX_PAGES if max_pages is None else max_pages
    deadline = time.monotonic() + time_budget
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:  # "owner password only" PDFs open with an empty user password
                opened = reader.decrypt("")
            except Exception:
                opened = 0
            if not opened:
                raise UnreadableDocument("encrypted PDF")
        n = len(reader.pages)
        if n == 0:
            raise UnreadableDocument("PDF has no pages")
        if n > max_pages:
            raise UnreadableDocument(f"too many pages ({n:,}; limit {max_pages:,})")
        parts: list[str] = []
        pages: list[int] = []
        offset = 0
        for i in range(n):
            if time.monotonic() > deadline:
                raise UnreadableDocument(f"PDF text extraction took too long (over {time_budget:g} s)")
            page_text = (reader.pages[i].extract_text() or "").strip().replace("\x00", "")
            if parts:
                parts.append("\n\n")
                offset += 2
            pages.append(offset)
            parts.append(page_text)
            offset += len(page_text)
    except UnreadableDocument:
        raise
    except Exception as exc:  # pypdf raises many kinds of errors on damaged files
        raise UnreadableDocument(f"malformed PDF ({_short(exc)})") from None
    text = "".join(parts)
    if not text.strip():
        raise UnreadableDocument("no text layer (scanned PDF?)")
    return text, tuple(pages)


_pdf_pool = None
_pdf_pool_lock = threading.Lock()
PDF_WORKER_START_S = 120.0        # how long a worker process may take to start (a busy machine)


def _pdf_worker():
    """The process that extracts PDF text while indexing (started once, stopped by stop_pdf_worker)."""
    global _pdf_pool
    with _pdf_pool_lock:
        if _pdf_pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # forkserver: workers start from a clean process, not a fork of this (threaded) one.
            _pdf_pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("forkserver"))
        return _pdf_pool


def stop_pdf_worker(kill: bool = False) -> None:
    global _pdf_pool
    with _pdf_pool_lock:
        pool, _pdf_pool = _pdf_pool, None
    if pool is None:
        return
    if kill:
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.kill()
    pool.shutdown(wait=True, cancel_futures=True)


def _load_pdf_reader() -> bool:
    import pypdf  # noqa: F401

    return True


def pdf_text_isolated(data: bytes) -> tuple[str, tuple[int, ...]]:
    """``pdf_text`` in a worker process, stopped once it runs PDF_TIME_BUDGET_S (plus a second)."""
    from concurrent.futures import TimeoutError as FutureTimeout
    from concurrent.futures.process import BrokenProcessPool

    budget, max_pages = PDF_TIME_BUDGET_S, PDF_MAX_PAGES
    try:
        pool = _pdf_worker()
        pool.submit(_load_pdf_reader).result(timeout=PDF_WORKER_START_S)  # time the PDF only, not the start
        future = pool.submit(pdf_text, data, time_budget=budget, max_pages=max_pages)
        return future.result(timeout=max(budget, 0.0) + 1.0)
    except FutureTimeout:
        stop_pdf_worker(kill=True)
        raise UnreadableDocument(f"PDF text extraction took too long (over {budget:g} s)") from None
    except BrokenProcessPool:
        stop_pdf_worker(kill=True)
        raise UnreadableDocument("the PDF reader crashed on this file") from None


def docx_text(data: bytes) -> str:
    """Paragraphs and table cells of a .docx body, in document order, one per line."""
    import docx
    from docx.table import Table

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            if sum(info.file_size for info in zf.infolist()) > DOCX_MAX_UNZIPPED_BYTES:
                raise UnreadableDocument("too large when unzipped")
        document = docx.Document(io.BytesIO(data))
        lines: list[str] = []

        def walk(container) -> None:
            for item in container.iter_inner_content():
                if isinstance(item, Table):
                    for row in item.rows:
                        seen: set[int] = set()
                        for cell in row.cells:
                            if id(cell._tc) in seen:  # merged cells repeat across the row
                                continue
                            seen.add(id(cell._tc))
                            walk(cell)
                else:
                    lines.append(item.text)

        walk(document)
    except UnreadableDocument:
        raise
    except Exception as exc:
        raise UnreadableDocument(f"not a readable .docx file ({_short(exc)})") from None
    return "\n".join(line.strip() for line in lines if line.strip())


def _short(exc: BaseException) -> str:
    msg = " ".join(str(exc).split())
    msg = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
    return msg if len(msg) <= 120 else msg[:117] + "..."


def read_text(path: Path) -> str:
    """The text of a corpus file exactly as the index sees it (citations are offsets into it)."""
    path = Path(path)
    return extract_text(path, read_bytes(path))[0]


def read_document(path: Path, source: str, *, isolated: bool = False) -> Document:
    path = Path(path)
    data = read_bytes(path)
    text, pages = extract_text(path, data, isolated=isolated)
    if not text.strip():
        raise UnreadableDocument("empty (no text)")
    return Document(source=source, text=text, sha256=hashlib.sha256(data).hexdigest(), pages=pages)
