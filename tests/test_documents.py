import hashlib
import os

import pytest

from rag.documents import UnreadableDocument, decode_text, read_document, read_text, scan


# --------------------------------------------------------------------------- scan

def test_scan_finds_supported_files_and_reports_the_rest(tmp_path):
    root = tmp_path / "seeds"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_text("a")
    (root / "B.MD").write_text("b")
    (root / "sub" / "c.rst").write_text("c")
    (root / "sub" / "deeper" / "d.markdown").write_text("d")
    (root / "report.pdf").write_bytes(b"%PDF-1.4")
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

    assert [s for s, _ in found] == sorted(["a.txt", "B.MD", "sub/c.rst", "sub/deeper/d.markdown"])
    assert all(path == root / source for source, path in found)
    reasons = {s.source: s.reason for s in skipped}
    assert set(reasons) == {"report.pdf", "Makefile", "link.txt", "linked-dir"}
    assert ".pdf" in reasons["report.pdf"] and "unsupported" in reasons["report.pdf"]
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


def test_permission_denied(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text("top secret")
    path.chmod(0)
    try:
        if os.geteuid() == 0:
            pytest.skip("running as root: chmod 000 does not stop root from reading the file")
        with pytest.raises(UnreadableDocument, match="permission denied"):
            read_document(path, "secret.txt")
    finally:
        path.chmod(0o644)


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
