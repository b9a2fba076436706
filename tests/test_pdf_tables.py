"""Ruled tables inside PDFs: one line per row that names each cell by its column, in place of the
cells the text layer gives; PDFs without them read exactly as their text layer; the search for
tables keeps to the PDF's time limit."""
import io
import time

import pytest
from pypdf import PdfReader

import rag.documents
import rag.pdf_tables
from rag.documents import UnreadableDocument, read_document, read_text
from rag.pdf_tables import FoundTable, replace_tables

import format_corpus
from format_corpus import LOCK_ROWS, ruled_table, write_reportlab_pdf, write_table_pdf
from test_documents import make_pdf

LOCK_LINES = ["Lock: Bramwell; Canal: Ouse Cut; Rise (m): 3.2; Keeper: Mira Tolland",
              "Lock: Fenwick; Canal: Ouse Cut; Rise (m): 2.7; Keeper: Jonas Eke",
              "Lock: Harrowgate; Canal: Tame Navigation; Rise (m): 4.1; Keeper: Petra Vance",
              "Lock: Lowmoor; Canal: Tame Navigation; Rise (m): 1.9; Keeper: Sol Abara"]


def text_layer(path) -> str:
    """What PDFs read as before tables were looked for: each page's pypdf text, a blank line between."""
    return "\n\n".join((page.extract_text() or "").strip().replace("\x00", "")
                       for page in PdfReader(io.BytesIO(path.read_bytes())).pages)


def page_text(doc, n: int) -> str:
    ends = [*doc.pages[1:], len(doc.text) + 2]
    return doc.text[doc.pages[n - 1]:ends[n - 1] - 2]


def test_a_ruled_table_becomes_one_line_per_row_with_its_header(tmp_path):
    path = write_table_pdf(tmp_path / "locks.pdf")
    doc = read_document(path, "locks.pdf")
    assert read_text(path) == doc.text
    assert page_text(doc, 1) == "The canal trust reports on its waterways every spring."
    assert page_text(doc, 2).splitlines() == ["The trust keeps four locks on two waterways.", *LOCK_LINES,
                                              "Keepers are paid by the trust and inspected every spring."]
    for name in ("Mira Tolland", "Petra Vance"):        # a cell on a line of its own, in the text layer
        assert f"\n{name}\n" in text_layer(path) and doc.text.count(name) == 1
    start = doc.text.index(LOCK_LINES[2])
    assert doc.location(start, start + len(LOCK_LINES[2])) == "page 2"
    assert doc.page_at(start) == 2


def test_a_citation_of_a_row_quotes_the_stored_row_and_names_its_page(tmp_path):
    from test_formats_pipeline import ask

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    write_table_pdf(seeds / "locks.pdf")
    format_corpus.write_docx(seeds / "hall.docx")
    fact = format_corpus.FACTS["pdf-table"]
    answer = ask(seeds, fact.question, fact.word, fact.sentence)       # checks every quote is verbatim
    cite = answer.citations[0]
    assert not answer.abstained and cite.source == "locks.pdf"
    assert LOCK_LINES[2] in cite.quote and read_text(seeds / "locks.pdf")[cite.start:cite.end] == cite.quote
    assert cite.page == 2 and cite.location == "page 2"


def test_a_pdf_without_ruled_tables_reads_exactly_as_its_text_layer(tmp_path, monkeypatch):
    import pdfplumber

    opened = []
    real_open = pdfplumber.open
    monkeypatch.setattr(pdfplumber, "open", lambda *a, **k: opened.append(1) or real_open(*a, **k))
    typed = tmp_path / "typed.pdf"
    typed.write_bytes(make_pdf(["One typed page.", "Another typed page."]))
    prose = write_reportlab_pdf(tmp_path / "prose.pdf", [
        "The harbour board met on Tuesday. " * 12, "PAGE", "It froze the mooring fees for small boats."])
    for path in (typed, prose):
        assert read_document(path, path.name).text == text_layer(path)
    assert not opened                   # no page drew a rule: pdfplumber was never asked

    from reportlab.lib import colors
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, Table, TableStyle

    unruled = Table(LOCK_ROWS)          # aligned columns without rules, and a boxed notice of one column
    note = Paragraph("Keep to the towpath at all times, and never moor within ten metres of a lock gate.",
                     getSampleStyleSheet()["Normal"])
    boxed = Table([["Notice"], [note]], colWidths=[250])
    boxed.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 1, colors.black)]))
    drawn = write_reportlab_pdf(tmp_path / "drawn.pdf", ["Locks without rules:", unruled, boxed, "The end."])
    assert read_document(drawn, "drawn.pdf").text == text_layer(drawn)
    assert opened and "and never moor\nwithin ten metres" in text_layer(drawn)


def test_a_table_going_on_to_the_next_page_keeps_its_header_there(tmp_path):
    rows = [LOCK_ROWS[0]] + [[f"Lock {i}", "Ouse Cut", f"{i / 10:.1f}", f"Keeper {i}"] for i in range(1, 61)]
    for repeat in (False, True):
        path = write_reportlab_pdf(tmp_path / f"long-{repeat}.pdf",
                                   ["A long table.", ruled_table(rows, repeat_header=repeat)])
        doc = read_document(path, path.name)
        lines = [line for line in doc.text.splitlines() if line.startswith("Lock: ")]
        assert lines == [f"Lock: Lock {i}; Canal: Ouse Cut; Rise (m): {i / 10:.1f}; Keeper: Keeper {i}"
                         for i in range(1, 61)]
        assert len(doc.pages) == 2 and doc.page_at(doc.text.index("Lock: Lock 60;")) == 2
        assert "\nKeeper 60" not in doc.text


def test_two_tables_on_a_page_and_merged_header_cells(tmp_path):
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    spans = Table([["Region", "2023", "", "2024", ""], ["North", "1", "2", "3", "4"]])
    spans.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                               ("SPAN", (1, 0), (2, 0)), ("SPAN", (3, 0), (4, 0))]))
    path = write_reportlab_pdf(tmp_path / "two.pdf", [
        "Gates:", ruled_table([["Gate", "Opens"], ["North", "06:00"]]), "Tonnes:", spans, "End."])
    assert read_text(path).splitlines() == ["Gates:", "Gate: North; Opens: 06:00", "Tonnes:",
                                            "Region: North; 2023: 1; 2023: 2; 2024: 3; 2024: 4", "End."]


def test_rows_replace_the_run_of_lines_holding_exactly_the_table():
    table = FoundTable([["Port", "Berths"], ["Valdoria", "37"], ["Ostrava Bay", None]], ())
    rows = ["Port: Valdoria; Berths: 37", "Port: Ostrava Bay"]
    assert replace_tables("Ports\nPort Berths\nValdoria 37\nOstrava\nBay\nEnd", [table]) == \
        "\n".join(["Ports", *rows, "End"])
    # a line holding a table's cells and other words: the rows follow the page's text
    text = "Table 1: Port Berths\nValdoria 37\nOstrava Bay\nEnd"
    assert replace_tables(text, [table]) == "\n".join([text, *rows])
    # a table whose characters the page's text does not hold is not this page's: nothing is added
    assert replace_tables("Ports\nPort Berths\nValdoria 37\nEnd", [table]) == "Ports\nPort Berths\nValdoria 37\nEnd"


def test_a_slow_table_search_keeps_to_the_pdfs_time_limit(tmp_path, monkeypatch):
    path = write_reportlab_pdf(tmp_path / "pages.pdf", [
        x for i in range(4) for x in (f"Page {i}.", ruled_table(LOCK_ROWS), "PAGE")][:-1])
    searched = []

    def slow(page):
        searched.append(page.page_number)
        time.sleep(0.4)
        return []

    monkeypatch.setattr(rag.pdf_tables, "page_tables", slow)
    monkeypatch.setattr(rag.documents, "PDF_TIME_BUDGET_S", 0.6)
    t0 = time.monotonic()
    with pytest.raises(UnreadableDocument, match=r"took too long \(over 0.6 s\)"):
        read_document(path, "pages.pdf")
    assert time.monotonic() - t0 < 0.6 + 0.4 + 0.5
    assert searched and searched == list(range(1, len(searched) + 1)) and len(searched) < 4
    monkeypatch.setattr(rag.documents, "PDF_TIME_BUDGET_S", 30.0)
    assert read_text(path) == text_layer(path)          # no table found: the text layer as it was


def crowded_table_page(path, chars: int = 200_000):
    """One page holding a small ruled table and a great deal of tiny text: pypdf reads it in a
    fraction of a second, pdfplumber lays it out for seconds."""
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=(600, 800))
    text = c.beginText(20, 780)
    text.setFont("Helvetica", 1)
    for _ in range(chars // 2000):
        text.textLine("ab " * 666)
    c.drawText(text)
    for r in range(3):
        c.line(100, 300 - 20 * r, 300, 300 - 20 * r)
    for x in (100, 200, 300):
        c.line(x, 300, x, 260)
    for r, row in enumerate([["Gate", "Opens"], ["North", "06:00"]]):
        for k, cell in enumerate(row):
            c.drawString(104 + 100 * k, 286 - 20 * r, cell)
    c.showPage()
    c.save()
    return path


def test_a_page_whose_table_search_runs_over_is_stopped_in_the_worker(tmp_path, monkeypatch):
    from rag.chunk import Chunker
    from rag.index import Builder

    from conftest import FakeEmbedder

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    crowded_table_page(seeds / "crowded.pdf")
    write_table_pdf(seeds / "locks.pdf")
    monkeypatch.setattr(rag.documents, "PDF_TIME_BUDGET_S", 0.2)
    embedder = FakeEmbedder()
    t0 = time.monotonic()
    report = Builder(seeds, tmp_path / "index", embedder, Chunker(embedder.count_tokens, 60, 8)).build()
    elapsed = time.monotonic() - t0
    assert {s.source: s.reason for s in report.skipped} == {
        "crowded.pdf": "PDF text extraction took too long (over 0.2 s)"}
    assert report.added == ["locks.pdf"]
    assert any(LOCK_LINES[2] in t for t in embedder.embedded)
    assert elapsed < 15, f"the build waited {elapsed:.0f} s for the PDF"


def test_the_reader_version_names_pdfplumber(tmp_path):
    from importlib.metadata import version

    assert f"pdfplumber-{version('pdfplumber')}" in rag.documents.reader_version(tmp_path / "a.pdf")


def test_the_corpus_pdf_table_fact_is_in_one_row():
    fact = format_corpus.FACTS["pdf-table"]
    assert [line for line in LOCK_LINES if fact.word in line] == [LOCK_LINES[2]]
