"""PDFs as text: the text layer of each page (pypdf) with the rows of its ruled tables
(``rag.pdf_tables``), and for a page without one, the text OCR reads from the drawn page
(``rag.ocr``). Pages are separated by a blank line; where each starts is kept, and a page read by
OCR is a region ("page 3, text read by OCR").

While indexing, a PDF is read in a worker process that is stopped when it runs over its time
(the text layer and its tables: PDF_TIME_BUDGET_S for the file; OCR: OCR_PAGE_TIMEOUT_S a page),
so a page that never finishes cannot hold up a rebuild.
"""
from __future__ import annotations

import hashlib
import io
import logging
import threading
import time
from typing import Callable

from . import documents
from .documents import UnreadableDocument, join_pages, short_reason
from .pdf_tables import may_hold_table, with_table_rows
from .regions import Region

PDF_WORKER_START_S = 120.0        # how long a worker process may take to start (a busy machine)
OCR_RENDER_ALLOWANCE_S = 30.0     # drawing a page, on top of the OCR time limit


def pdf_layer(data: bytes, *, time_budget: float | None = None, max_pages: int | None = None) -> list[str]:
    """The text layer of each page ('' for a page without one), a ruled table's rows with their
    header in place of its cells (``rag.pdf_tables``).

    Bounded: stops with UnreadableDocument once it has run longer than ``time_budget`` seconds
    (checked between pages, and between the pages searched for tables) or the PDF has more than
    ``max_pages`` pages.
    """
    from pypdf import PdfReader

    # pypdf logs a warning for every damage it repairs; a damaged file is reported as a Skipped instead.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    time_budget = documents.PDF_TIME_BUDGET_S if time_budget is None else time_budget
    max_pages = documents.PDF_MAX_PAGES if max_pages is None else max_pages
    deadline = time.monotonic() + time_budget

    def in_time() -> None:
        if time.monotonic() > deadline:
            raise UnreadableDocument(f"PDF text extraction took too long (over {time_budget:g} s)")

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
        pages: list[str] = []
        ruled: list[int] = []           # pages with a text layer that may hold a ruled table
        for i in range(n):
            in_time()
            pages.append((reader.pages[i].extract_text() or "").strip().replace("\x00", ""))
            if pages[i] and may_hold_table(reader.pages[i]):
                ruled.append(i)
    except UnreadableDocument:
        raise
    except Exception as exc:  # pypdf raises many kinds of errors on damaged files
        raise UnreadableDocument(f"malformed PDF ({short_reason(exc)})") from None
    return with_table_rows(data, pages, ruled, in_time) if ruled else pages


def pdf_text(data: bytes, *, time_budget: float | None = None,
             max_pages: int | None = None) -> tuple[str, tuple[int, ...]]:
    """The text layer of a PDF, pages separated by a blank line, and the offset where each page starts."""
    text, starts = join_pages(pdf_layer(data, time_budget=time_budget, max_pages=max_pages))
    if not text.strip():
        raise UnreadableDocument("no text layer (scanned PDF?)")
    return text, starts


def pdf_extract(data: bytes, *, isolated: bool = False, progress: Callable[[int, int], None] | None = None):
    """Text, page starts and regions of a PDF, pages without a text layer read by OCR.

    ``isolated``: read in the worker process, within the time limits. ``progress(done, total)``
    is called after each page read by OCR."""
    from .ocr import OCR_LABEL, OcrUnavailable, pdf_page_text, require_tesseract

    budget = documents.PDF_TIME_BUDGET_S
    pages = (_isolated(pdf_layer, (data,), dict(time_budget=budget, max_pages=documents.PDF_MAX_PAGES),
                       max(budget, 0.0) + 1.0, f"PDF text extraction took too long (over {budget:g} s)")
             if isolated else pdf_layer(data))
    missing = [i for i, page in enumerate(pages) if not page]
    if missing:
        try:
            require_tesseract()
        except OcrUnavailable as exc:
            if len(missing) == len(pages):
                raise UnreadableDocument(f"no text layer (a scanned PDF): {exc}") from None
            missing = []        # the pages with a text layer are indexed; the others cannot be read here
    from .ocr import OCR_PAGE_TIMEOUT_S

    if progress is not None and missing:
        progress(0, len(missing))
    digest = hashlib.sha256(data).hexdigest() if missing else ""
    for done, i in enumerate(missing, 1):
        try:
            pages[i] = (_isolated(pdf_page_text, (data, i), {"digest": digest},
                                  OCR_PAGE_TIMEOUT_S + OCR_RENDER_ALLOWANCE_S, "OCR took too long")
                        if isolated else pdf_page_text(data, i, digest=digest))
        except UnreadableDocument:
            pages[i] = ""           # a page OCR cannot read in time stays empty; the others are kept
        if progress is not None:
            progress(done, len(missing))
    text, starts = join_pages(pages)
    if not text.strip():
        raise UnreadableDocument("no text layer, and OCR found no text on its pages" if missing
                                 else "no text layer (scanned PDF?)")
    regions: list[Region] = []
    for i in missing:
        if pages[i]:
            regions.append(Region(starts[i], OCR_LABEL))
            if i + 1 < len(starts):
                regions.append(Region(starts[i + 1], ""))
    return text, starts, tuple(regions)


# --------------------------------------------------------------------------- the worker process

_pool = None
_pool_lock = threading.Lock()


def _worker():
    """The process that reads PDFs while indexing (started once, stopped by stop_pdf_worker)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # forkserver: workers start from a clean process, not a fork of this (threaded) one.
            _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("forkserver"))
        return _pool


def stop_pdf_worker(kill: bool = False) -> None:
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is None:
        return
    if kill:
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.kill()
    pool.shutdown(wait=True, cancel_futures=True)


def _load_pdf_reader() -> bool:
    import pdfplumber  # noqa: F401
    import pypdf  # noqa: F401

    return True


def _isolated(fn, args: tuple, kwargs: dict, timeout: float, too_long: str):
    """``fn(*args, **kwargs)`` in the worker process, stopped once it runs ``timeout`` seconds."""
    from concurrent.futures import TimeoutError as FutureTimeout
    from concurrent.futures.process import BrokenProcessPool

    try:
        pool = _worker()
        pool.submit(_load_pdf_reader).result(timeout=PDF_WORKER_START_S)  # time the work only, not the start
        return pool.submit(fn, *args, **kwargs).result(timeout=timeout)
    except FutureTimeout:
        stop_pdf_worker(kill=True)
        raise UnreadableDocument(too_long) from None
    except BrokenProcessPool:
        stop_pdf_worker(kill=True)
        raise UnreadableDocument("the PDF reader crashed on this file") from None
