"""Scanned pages and images read by Tesseract (the real program; `make test` installs it)."""
import pytest

import rag.ocr
from rag.documents import UnreadableDocument, read_document, read_text
from rag.index import Builder
from rag.chunk import Chunker

from conftest import FakeEmbedder
from format_corpus import text_image, write_mixed_pdf, write_png, write_scanned_pdf
from test_documents import make_pdf

def place(doc, word):
    start = doc.text.index(word)
    return doc.location(start, start + len(word))


def test_an_image_is_read_by_ocr_and_read_the_same_again(tmp_path):
    path = write_png(tmp_path / "dam.png")
    doc = read_document(path, "dam.png")
    assert "7,450 megalitres" in doc.text and "every March" in doc.text
    assert place(doc, "megalitres") == "text read by OCR"
    assert read_text(path) == doc.text                           # from the cache: the same text


def test_a_scanned_pdf_page_is_read_by_ocr_and_a_text_page_never_is(tmp_path, monkeypatch):
    mixed = write_mixed_pdf(tmp_path / "mixed.pdf")

    pages_read = []
    real = rag.ocr.run_tesseract
    monkeypatch.setattr(rag.ocr, "run_tesseract", lambda image, timeout=None: pages_read.append(1) or real(image, timeout))
    seen = []
    doc = read_document(mixed, "mixed.pdf", ocr_progress=lambda done, total: seen.append((done, total)))
    assert len(pages_read) == 1 and seen == [(0, 1), (1, 1)]     # only the page without a text layer
    assert place(doc, "mooring fees") == "page 1"
    assert place(doc, "212 cars") == "page 2, text read by OCR"
    assert doc.page_at(doc.text.index("212 cars")) == 2

    text_only = tmp_path / "typed.pdf"
    text_only.write_bytes(make_pdf(["One typed page.", "Another typed page."]))
    read_document(text_only, "typed.pdf")
    assert len(pages_read) == 1                                  # a PDF with a text layer is never OCR'd


def test_an_image_without_text_is_skipped_with_a_reason(tmp_path):
    path = tmp_path / "blank.png"
    text_image([]).save(path)
    with pytest.raises(UnreadableDocument, match="no text found by OCR"):
        read_document(path, "blank.png")


def test_ocr_has_a_time_limit_per_page(tmp_path, monkeypatch):
    monkeypatch.setattr(rag.ocr, "OCR_PAGE_TIMEOUT_S", 0.001)
    with pytest.raises(UnreadableDocument, match="OCR took too long"):
        read_document(write_png(tmp_path / "dam.png"), "dam.png")


def test_without_tesseract_images_and_scans_are_skipped_saying_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    rag.ocr.tesseract_version.cache_clear()
    try:
        with pytest.raises(UnreadableDocument, match=r"Tesseract is not installed \(run `make ocr`"):
            read_document(write_png(tmp_path / "dam.png"), "dam.png")
        scan = write_scanned_pdf(tmp_path / "scan.pdf", [["Some words."]])
        with pytest.raises(UnreadableDocument, match="a scanned PDF.*Tesseract is not installed"):
            read_document(scan, "scan.pdf")
    finally:
        rag.ocr.tesseract_version.cache_clear()


def test_index_reads_scans_in_the_worker_and_shows_ocr_progress(tmp_path, capsys):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    write_scanned_pdf(seeds / "scan.pdf", [["The ferry Osprey carries 212 cars."], ["Blank below."]])
    write_png(seeds / "dam.png")
    (seeds / "empty.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    embedder = FakeEmbedder()
    builder = Builder(seeds, tmp_path / "index", embedder, Chunker(embedder.count_tokens, 40, 8), show_progress=True)
    report = builder.build()
    assert report.added == ["dam.png", "scan.pdf"]
    assert [s.source for s in report.skipped] == ["empty.png"] and "OCR cannot read" in report.skipped[0].reason
    assert "OCR scan.pdf" in capsys.readouterr().err
    assert any("212 cars" in t for t in embedder.embedded)
