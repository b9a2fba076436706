"""Text of scanned pages and photos of pages, read by Tesseract (a program, run once per page
with a time limit). PDF pages are drawn as images by pypdfium2 first; a page that has a text layer
is never read this way.

What Tesseract read is kept in a cache (by the checksum of the image, or of the PDF and the page
number, and Tesseract's version), so the text a citation quotes is the same every time it is read.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Callable

from .documents import UnreadableDocument, join_pages, short_reason

OCR_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}
OCR_PAGE_TIMEOUT_S = 60.0         # one page (one image) may take this long
OCR_DPI = 300                     # PDF pages are drawn at this resolution for OCR
OCR_LANGUAGE = "eng"
OCR_LABEL = "text read by OCR"    # the region of a page whose text Tesseract read
INSTALL_HINT = "run `make ocr`, or `apt-get install tesseract-ocr tesseract-ocr-eng`"

Progress = Callable[[int, int], None]     # (pages done, pages in all)


class OcrUnavailable(UnreadableDocument):
    """Tesseract is not installed."""


@lru_cache(maxsize=1)
def tesseract_version() -> str | None:
    """Tesseract's version ("5.3.0"), or None when it is not installed."""
    exe = shutil.which("tesseract")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    words = (out.stdout or out.stderr).split()
    return words[1] if len(words) > 1 else "unknown"


def require_tesseract() -> str:
    version = tesseract_version()
    if version is None:
        raise OcrUnavailable(f"needs OCR, but Tesseract is not installed ({INSTALL_HINT})")
    return version


def _cache_dir() -> Path:
    return Path(os.environ.get("RAG_OCR_CACHE") or Path.home() / ".cache" / "rag" / "ocr")


def _cached(key: str, make: Callable[[], list[str]]) -> list[str]:
    path = _cache_dir() / f"{key}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    pages = make()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(pages, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass    # no cache: the next reading runs Tesseract again (its output is the same)
    return pages


def tidy(text: str) -> str:
    """Tesseract's output with trailing spaces and runs of blank lines removed."""
    lines = [line.rstrip() for line in text.replace("\r", "").split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def run_tesseract(image: bytes, timeout: float | None = None) -> list[str]:
    """The text of each page of an image file's bytes (a TIFF may hold several)."""
    require_tesseract()
    timeout = OCR_PAGE_TIMEOUT_S if timeout is None else timeout
    try:
        done = subprocess.run(["tesseract", "stdin", "stdout", "-l", OCR_LANGUAGE], input=image,
                              capture_output=True, timeout=timeout, env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    except subprocess.TimeoutExpired:
        raise UnreadableDocument(f"OCR took too long (over {timeout:g} s for a page)") from None
    except OSError as exc:
        raise UnreadableDocument(f"OCR could not run ({short_reason(exc)})") from None
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip().splitlines()
        raise UnreadableDocument(f"OCR cannot read this image ({why[-1] if why else 'Tesseract failed'})")
    return [tidy(page) for page in done.stdout.decode("utf-8", errors="replace").split("\f")]


def image_pages(data: bytes) -> list[str]:
    """The OCR text of an image file, a string per page (cached)."""
    version = require_tesseract()
    key = hashlib.sha256(data + f"|image|{OCR_LANGUAGE}|{version}".encode()).hexdigest()
    pages = _cached(key, lambda: run_tesseract(data))
    while len(pages) > 1 and not pages[-1]:
        pages = pages[:-1]
    return pages


def pdf_page_text(data: bytes, index: int, timeout: float | None = None, digest: str | None = None) -> str:
    """The OCR text of one page of a PDF (0-based ``index``), drawn at OCR_DPI (cached; ``digest``:
    the PDF's sha256, when known)."""
    version = require_tesseract()
    key = (digest or hashlib.sha256(data).hexdigest()) + f"-p{index}-" + hashlib.sha256(
        f"{OCR_DPI}|{OCR_LANGUAGE}|{version}".encode()).hexdigest()[:12]

    def read() -> list[str]:
        import pypdfium2 as pdfium

        try:
            pdf = pdfium.PdfDocument(data)
            try:
                bitmap = pdf[index].render(scale=OCR_DPI / 72, grayscale=True)
                png = io.BytesIO()
                bitmap.to_pil().save(png, format="PNG")
            finally:
                pdf.close()
        except Exception as exc:  # noqa: BLE001 - pdfium's errors on damaged pages
            raise UnreadableDocument(f"page {index + 1} cannot be drawn for OCR ({short_reason(exc)})") from None
        return ["\n\n".join(p for p in run_tesseract(png.getvalue(), timeout) if p)]

    return _cached(key, read)[0]


def image_text(data: bytes):
    """An image's text as an ``Extracted``-like triple (text, page starts, regions)."""
    from .regions import Region

    pages = image_pages(data)
    if not any(p.strip() for p in pages):
        raise UnreadableDocument("no text found by OCR")
    text, starts = join_pages(pages)
    return text, (starts if len(pages) > 1 else ()), (Region(0, OCR_LABEL),)


