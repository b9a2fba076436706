import hashlib
import json

import pytest

from rag.documents import UnreadableDocument, decode_text, read_document, read_text, scan

from conftest import run_unprivileged


# --------------------------------------------------------------------------- scan

def test_scan_finds_supported_files_and_reports_the_rest(tmp_path):
    root = tmp_path / "seeds"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_text("a")
    (root / "B.MD").write_text("b")
    (root / "sub" / "c.rst").write_text("c")
    (root / "sub" / "deeper" / "d.markdown").write_text("d")
    (root / "report.pdf").write_bytes(b"%PDF-1.4")
    (root / "page.HTML").write_text("<p>hi</p>")
    (root / "letter.docx").write_bytes(b"PK")
    (root / "drawing.svg").write_text("<svg/>")
    (root / "Makefile").write_text("all:")
    (root / ".hidden.txt").write_text("secret")
    (root / ".git").mkdir()
    (root / ".git" / "x.txt").write_text("git")
    outside = tmp_path / "outside.txt"
    outside.write_text("outside the corpus")
    (root / "link.txt").symlink_to(outside)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "e.txt").write_text("e")
    (root / "linked-dir").symlink_to(tmp_path / "elsewhere", target_is_directory=True)

    found, skipped = scan(root)

    assert [s for s, _ in found] == sorted(["a.txt", "B.MD", "sub/c.rst", "sub/deeper/d.markdown",
                                            "report.pdf", "page.HTML", "letter.docx"])
    assert all(path == root / source for source, path in found)
    reasons = {s.source: s.reason for s in skipped}
    assert set(reasons) == {"drawing.svg", "Makefile", "link.txt", "linked-dir"}
    assert ".svg" in reasons["drawing.svg"] and "unsupported" in reasons["drawing.svg"]
    assert "unsupported" in reasons["Makefile"]
    assert "symbolic link" in reasons["link.txt"]
    assert "symbolic link" in reasons["linked-dir"]
    assert str(skipped[0]).startswith(skipped[0].source + ": ")


def test_scan_of_an_empty_folder(tmp_path):
    assert scan(tmp_path) == ([], [])


# --------------------------------------------------------------------------- decoding

TEXT = "Café “quoted” — naïve 5 € façade.\nSecond line."


@pytest.mark.parametrize("data, expected", [
    (TEXT.encode("utf-8"), TEXT),
    (b"\xef\xbb\xbf" + TEXT.encode("utf-8"), TEXT),
    (TEXT.encode("utf-16"), TEXT),                       # with BOM (native order)
    (b"\xff\xfe" + TEXT.encode("utf-16-le"), TEXT),
    (b"\xfe\xff" + TEXT.encode("utf-16-be"), TEXT),
    (b"plain ascii", "plain ascii"),
])
def test_decode_unicode_encodings(data, expected):
    assert decode_text(data) == expected


def test_decode_cp1252_curly_quotes():
    assert decode_text(b"He said \x93hello\x94 and left.") == "He said “hello” and left."


def test_decode_cp1252_document_of_realistic_length():
    # A Windows-1252 document: mostly ASCII, a few curly quotes and apostrophes.
    body = ("The committee met on Tuesday and discussed the budget for the coming year. " * 30).encode("ascii")
    data = body + b"The chair said \x93we\x92ll decide in May\x94. " + body
    text = decode_text(data)
    assert "\ufffd" not in text
    assert "The chair said “we’ll decide in May”." in text


def test_decode_latin1():
    data = "Señor Müller paid 10 £ for the crème brûlée.".encode("latin-1")
    assert decode_text(data) == "Señor Müller paid 10 £ for the crème brûlée."
    # 0x81 is undefined in Windows-1252: such a file can only be Latin-1.
    assert decode_text(b"caf\xe9 \x81") == "café \x81"


def test_decode_utf8_with_a_few_bad_bytes_stays_utf8():
    good = ("Préface: “the naïve café” — déjà vu. " * 20).encode("utf-8")
    data = good + b"\xff broken \xfe byte. " + good
    text = decode_text(data)
    assert text.count("\ufffd") == 2
    assert text.startswith("Préface: “the naïve café”")
    assert text.replace("\ufffd", "") == (good + b" broken  byte. " + good).decode("utf-8")


def test_decode_rejects_binary_data():
    with pytest.raises(UnreadableDocument, match="NUL"):
        decode_text(b"some text\x00\x00\x01\x02 binary")


# --------------------------------------------------------------------------- reading files

def test_read_document(tmp_path):
    path = tmp_path / "a.txt"
    data = TEXT.encode("utf-8")
    path.write_bytes(data)
    doc = read_document(path, "a.txt")
    assert doc.source == "a.txt"
    assert doc.text == TEXT == read_text(path)
    assert doc.sha256 == hashlib.sha256(data).hexdigest()
    assert doc.page_at(3) is None


@pytest.mark.parametrize("data", [b"", b"   \n\t\r\n  ", "\ufeff".encode("utf-8")])
def test_empty_or_blank_file_is_unreadable(tmp_path, data):
    path = tmp_path / "empty.txt"
    path.write_bytes(data)
    with pytest.raises(UnreadableDocument, match="empty"):
        read_document(path, "empty.txt")


def test_binary_file_is_unreadable(tmp_path):
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(UnreadableDocument, match="binary"):
        read_document(path, "image.txt")


def test_missing_file_is_unreadable(tmp_path):
    with pytest.raises(UnreadableDocument, match="cannot read"):
        read_document(tmp_path / "gone.txt", "gone.txt")


def test_permission_denied(shared_dir):
    # A real EACCES: the file is readable by its owner only, and it is read as another user.
    path = shared_dir / "secret.txt"
    path.write_text("top secret")
    path.chmod(0)
    setup = """
        import json, sys
        from pathlib import Path
        from rag.documents import UnreadableDocument, probe_text, read_document, sha256_file
    """
    work = """
        path = Path(sys.argv[1])
        out = {}
        for name, read in [("read_document", lambda: read_document(path, "secret.txt")),
                           ("probe_text", lambda: probe_text(path)), ("sha256_file", lambda: sha256_file(path))]:
            try:
                read()
                out[name] = "read"
            except UnreadableDocument as exc:
                out[name] = str(exc)
        print(json.dumps(out))
    """
    proc = run_unprivileged(setup, work, str(path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout) == {"read_document": "permission denied", "probe_text": "permission denied",
                                       "sha256_file": "permission denied"}
    path.chmod(0o644)          # the same file, once readable, is read by the same user
    proc = run_unprivileged(setup, work, str(path))
    assert json.loads(proc.stdout) == {"read_document": "read", "probe_text": "read", "sha256_file": "read"}


def test_too_large_file_is_unreadable(tmp_path, monkeypatch):
    import rag.documents

    monkeypatch.setattr(rag.documents, "MAX_FILE_BYTES", 10)
    path = tmp_path / "big.txt"
    path.write_text("more than ten bytes of text")
    with pytest.raises(UnreadableDocument, match="too large"):
        read_document(path, "big.txt")


def test_page_at():
    from rag.documents import Document

    doc = Document("a.pdf", "page one page two page three", "0" * 64, pages=(0, 9, 18))
    assert [doc.page_at(i) for i in (0, 8, 9, 17, 18, 27)] == [1, 1, 2, 2, 3, 3]


# --------------------------------------------------------------------------- HTML, PDF, .docx

def make_pdf(pages: list[str]) -> bytes:
    """A minimal valid PDF with one line of Helvetica text per page (a real text layer)."""
    n = len(pages)
    font = 3 + 2 * n
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (3 + 2 * i) for i in range(n))
            + b"] /Count %d >>" % n]
    for i, text in enumerate(pages):
        content = b"BT /F1 12 Tf 72 720 Td (" + text.encode("latin-1") + b") Tj ET"
        objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                    b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (4 + 2 * i, font))
        objs.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for num, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


HTML_PAGE = b"""<!DOCTYPE html>
<html><head><title>Head title</title><meta charset="utf-8">
<style>body { color: red; } .secret-style {}</style>
<script>var secretScript = "do not index";</script></head>
<body><noscript>Enable JavaScript</noscript><template><p>template text</p></template>
<!-- a comment -->
<h1>The Heading</h1><p>First paragraph ends here.</p><p>Second&nbsp;paragraph <b>bold</b> text.</p>
<ul><li>One</li><li>Two</li></ul>line<br>break
</body></html>"""


def test_html_keeps_visible_text_in_blocks(tmp_path):
    path = tmp_path / "page.html"
    path.write_bytes(HTML_PAGE)
    doc = read_document(path, "page.html")
    assert doc.text == read_text(path)
    assert doc.sha256 == hashlib.sha256(HTML_PAGE).hexdigest()
    for absent in ("secretScript", "do not index", "color: red", "secret-style", "Head title",
                   "Enable JavaScript", "template text", "a comment"):
        assert absent not in doc.text
    assert "First paragraph ends here.\nSecond paragraph bold text." in doc.text
    assert doc.text.splitlines() == ["The Heading", "First paragraph ends here.",
                                     "Second paragraph bold text.", "One", "Two", "line", "break"]
    assert doc.pages == () and doc.page_at(0) is None


def test_html_encoding_declared_in_meta(tmp_path):
    path = tmp_path / "latin.htm"
    path.write_bytes('<html><head><meta charset="iso-8859-1"></head><body><p>Café</p></body></html>'
                     .encode("latin-1"))
    assert read_text(path) == "Café"


def test_html_without_visible_text_is_empty(tmp_path):
    path = tmp_path / "blank.html"
    path.write_bytes(b"<html><head><script>x()</script></head><body> </body></html>")
    with pytest.raises(UnreadableDocument, match="empty"):
        read_document(path, "blank.html")


def test_pdf_text_and_page_offsets(tmp_path):
    path = tmp_path / "two.pdf"
    data = make_pdf(["Hello from page one.", "Greetings from page two."])
    path.write_bytes(data)
    doc = read_document(path, "two.pdf")
    assert doc.text == read_text(path)
    assert doc.sha256 == hashlib.sha256(data).hexdigest()
    assert len(doc.pages) == 2 and doc.pages[0] == 0
    assert doc.text[:doc.pages[1]].strip() == "Hello from page one."
    assert doc.text[doc.pages[1]:] == "Greetings from page two."
    at = doc.text.index("Greetings")
    assert doc.page_at(at) == 2
    assert doc.page_at(doc.text.index("Hello")) == 1


def test_pdf_without_text_layer(tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(make_pdf(["", ""]))
    with pytest.raises(UnreadableDocument, match=r"no text layer"):    # and OCR finds no text on blank pages
        read_document(path, "scan.pdf")


def test_encrypted_pdf(tmp_path):
    import io

    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=io.BytesIO(make_pdf(["Top secret text."])))
    writer.encrypt("s3cret")
    path = tmp_path / "locked.pdf"
    with open(path, "wb") as f:
        writer.write(f)
    with pytest.raises(UnreadableDocument, match="^encrypted PDF$"):
        read_document(path, "locked.pdf")
    with pytest.raises(UnreadableDocument, match="encrypted PDF"):
        read_text(path)


@pytest.mark.parametrize("data", [b"this is not a pdf at all \x00\xff" * 20, b"%PDF-1.4\n", b"",
                                  make_pdf(["Truncated page text."])[:150]])
def test_malformed_pdf_is_unreadable_with_a_short_reason(tmp_path, data):
    path = tmp_path / "bad.pdf"
    path.write_bytes(data)
    with pytest.raises(UnreadableDocument) as info:
        read_document(path, "bad.pdf")
    reason = str(info.value)
    assert reason and "\n" not in reason and len(reason) < 200


def test_pdf_extraction_is_bounded(tmp_path, monkeypatch):
    import rag.documents

    path = tmp_path / "many.pdf"
    path.write_bytes(make_pdf(["one", "two", "three"]))
    monkeypatch.setattr(rag.documents, "PDF_MAX_PAGES", 2)
    with pytest.raises(UnreadableDocument, match="too many pages"):
        read_document(path, "many.pdf")
    monkeypatch.setattr(rag.documents, "PDF_MAX_PAGES", 10)
    monkeypatch.setattr(rag.documents, "PDF_TIME_BUDGET_S", -1.0)
    with pytest.raises(UnreadableDocument, match="too long"):
        read_document(path, "many.pdf")


def make_docx(path):
    import docx

    d = docx.Document()
    d.add_heading("Quarterly Report", level=1)
    d.add_paragraph("The first paragraph of the report.")
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Region"
    table.cell(0, 1).text = "Revenue"
    table.cell(1, 0).text = "North"
    table.cell(1, 1).text = "42 million"
    d.add_paragraph("A closing paragraph after the table.")
    d.save(str(path))


def test_docx_paragraphs_and_tables(tmp_path):
    path = tmp_path / "report.docx"
    make_docx(path)
    doc = read_document(path, "report.docx")
    assert doc.text == read_text(path)
    assert doc.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert doc.text.splitlines() == ["Quarterly Report", "The first paragraph of the report.",
                                     "Region: North; Revenue: 42 million",      # a table row keeps its header
                                     "A closing paragraph after the table."]
    start = doc.text.index("North")
    assert doc.location(start, start + 5) == "Quarterly Report"               # under its heading


def test_malformed_docx_is_unreadable(tmp_path):
    path = tmp_path / "bad.docx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(UnreadableDocument, match="docx") as info:
        read_document(path, "bad.docx")
    assert "\n" not in str(info.value)


def test_index_of_every_format_cites_read_text(tmp_path):
    from conftest import FakeEmbedder

    from rag.chunk import Chunker
    from rag.index import Builder, load

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "notes.txt").write_text("Plain notes about the harbour. " * 20)
    (seeds / "readme.md").write_text("# Title\n\nMarkdown text about lighthouses. " * 10)
    (seeds / "page.html").write_bytes(HTML_PAGE)
    (seeds / "two.pdf").write_bytes(make_pdf(["Hello from page one. " * 5, "Greetings from page two. " * 5]))
    make_docx(seeds / "report.docx")
    (seeds / "broken.pdf").write_bytes(b"garbage")
    embedder = FakeEmbedder()
    report = Builder(seeds, tmp_path / "index", embedder, Chunker(embedder.count_tokens, 30, 6)).build()
    assert [s.source for s in report.skipped] == ["broken.pdf"]
    snap = load(tmp_path / "index")
    texts = {}
    seen = set()
    for rec in snap.chunks:
        for loc in rec.locations:
            if loc.source not in texts:
                texts[loc.source] = read_text(seeds / loc.source)
            assert texts[loc.source][loc.start:loc.end] == rec.text
            seen.add(loc.source)
    assert seen == {"notes.txt", "readme.md", "page.html", "two.pdf", "report.docx"}
    assert len(snap.document_pages("two.pdf")) == 2
    assert snap.document_pages("page.html") == ()
