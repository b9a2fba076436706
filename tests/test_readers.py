"""The readers of slides, e-books, e-mail, and the tables and headings of HTML, .docx and Markdown."""
import io
import zipfile
from email.message import EmailMessage

import pytest

import rag.mail
from rag.documents import UnreadableDocument, iter_text, probe_text, read_document, read_text, stream_pieces

import format_corpus


def place(doc, word: str) -> str:
    start = doc.text.index(word)
    return doc.location(start, start + len(word))


def read_made(write, path):
    """The Document of the file ``write`` makes at ``path``, checked to be the text read_text gives."""
    doc = read_document(write(path), path.name)
    assert read_text(path) == doc.text
    return doc


# --------------------------------------------------------------------------- .pptx

def test_pptx_slides_tables_and_speaker_notes(tmp_path):
    doc = read_made(format_corpus.write_pptx, tmp_path / "deck.pptx")
    lines = doc.text.splitlines()
    assert lines[:2] == ["Orchard report", "Bellmere cooperative"]
    assert "Speaker notes: Remind the board that the cider press broke in October." in lines
    assert "Picker: Oona Brack; Crates: 112" in lines and "Picker: Lev Marsh; Crates: 97" in lines
    assert place(doc, "Bellmere cooperative") == "slide 1 › Orchard report"
    assert place(doc, "9,300") == "slide 2 › Harvest figures"
    assert place(doc, "cider press") == "slide 2 › Harvest figures"
    assert place(doc, "Lev Marsh") == "slide 3 › Pickers"


def test_a_damaged_pptx_is_refused(tmp_path):
    path = tmp_path / "bad.pptx"
    path.write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(UnreadableDocument, match="not a readable .pptx"):
        read_text(path)


# --------------------------------------------------------------------------- .epub

def test_epub_chapters_in_reading_order_named_by_the_table_of_contents(tmp_path):
    doc = read_made(format_corpus.write_epub, tmp_path / "coasts.epub")
    assert doc.text.index("dug by hand") < doc.text.index("fog bell 41")
    assert place(doc, "dug by hand") == "chapter 'Harbours of Skarn'"
    assert place(doc, "fog bell 41") == "chapter 'Lighthouses' › The fog bell"


def test_an_encrypted_or_broken_epub_is_refused(tmp_path):
    path = format_corpus.write_epub(tmp_path / "drm.epub")
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("META-INF/encryption.xml", "<encryption/>")
    with pytest.raises(UnreadableDocument, match="DRM"):
        read_text(path)
    path = tmp_path / "empty.epub"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "application/epub+zip")
    with pytest.raises(UnreadableDocument, match="not a readable .epub"):
        read_text(path)


# --------------------------------------------------------------------------- .eml

def test_eml_headers_body_and_text_attachment(tmp_path):
    doc = read_made(format_corpus.write_eml, tmp_path / "boiler.eml")
    assert doc.text.splitlines()[:4] == ["From: Hannah Vale <hannah@example.org>", "To: office@example.org",
                                         "Date: Tue, 04 Mar 2025 09:15:00 +0000", "Subject: Boiler service visit"]
    assert place(doc, "Tomasz Wren") == "message 'Boiler service visit'"
    assert place(doc, "blue flowerpot") == "message 'Boiler service visit' › notes.txt"


def test_an_html_mail_body_is_read_as_text_and_a_huge_attachment_is_left_out(tmp_path, monkeypatch):
    monkeypatch.setattr(rag.mail, "MAX_ATTACHMENT_BYTES", 1000)
    msg = EmailMessage()
    msg["Subject"] = "Menu"
    msg.set_content("<html><body><p>Soup of the day: <b>nettle</b>.</p><script>x()</script></body></html>",
                    subtype="html")
    msg.add_attachment("x" * 5000, subtype="plain", filename="huge.txt")
    msg.add_attachment(b"\x89PNG....", maintype="image", subtype="png", filename="photo.png")
    path = tmp_path / "menu.eml"
    path.write_bytes(bytes(msg))
    doc = read_document(path, "menu.eml")
    assert "Soup of the day: nettle." in doc.text and "x()" not in doc.text
    assert "Attachment huge.txt: not indexed (5,001 bytes; the limit is 1,000)" in doc.text
    assert "xxxxx" not in doc.text and "photo.png" not in doc.text


# --------------------------------------------------------------------------- tables and headings

def test_html_table_rows_keep_their_header_under_the_heading_path(tmp_path):
    path = tmp_path / "fleet.html"
    path.write_bytes(format_corpus.FLEET_HTML.replace(b"<table>", b"<h2>Ships</h2><table>"))
    doc = read_document(path, "fleet.html")
    assert read_text(path) == doc.text
    assert "Ship: Albatross; Captain: Ingrid Solberg; Home port: Tromso" in doc.text.splitlines()
    assert place(doc, "Ingrid") == "Fleet › Ships"
    assert place(doc, "who commands") == "Fleet"


def test_html_colspan_and_nested_tables(tmp_path):
    path = tmp_path / "t.html"
    path.write_bytes(b"<table><tr><th>Name</th><th colspan=2>Scores</th></tr>"
                     b"<tr><td>Ada</td><td>7</td><td><table><tr><td>inner</td></tr></table></td></tr></table>")
    assert read_text(path).splitlines() == ["Name: Ada; Scores: 7; Scores: inner"]


def test_docx_tables_in_body_order_under_their_headings(tmp_path):
    doc = read_made(format_corpus.write_docx, tmp_path / "hall.docx")
    assert doc.text.splitlines() == ["Village hall", "Budget", "Item: Roofing; Cost: 18,400 pounds",
                                     "Item: Heating; Cost: 6,100 pounds", "The council pays half of every item."]
    assert place(doc, "Roofing") == "Village hall › Budget"
    assert place(doc, "Village hall") == "Village hall"


def test_markdown_headings_streamed_or_whole(tmp_path):
    path = tmp_path / "guide.md"
    path.write_text(format_corpus.GUIDE_MD + "```\n# not a heading\n```\n")
    doc = read_document(path, "guide.md")
    assert place(doc, "quokka") == "Setup › Linux"
    assert place(doc, "installer") == "Setup › Windows"
    assert place(doc, "not a heading") == "Setup › Windows"
    stored, regions = stream_pieces(path, iter_text(path, probe_text(path), block=7))
    assert "".join(stored) == doc.text and tuple(regions) == doc.regions


def test_a_zip_bomb_disguised_as_a_pptx_is_refused(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ppt/bomb.xml", b" " * (64 * 1024 * 1024))
    path = tmp_path / "bomb.pptx"
    path.write_bytes(buf.getvalue())
    with pytest.raises(UnreadableDocument, match="zip bomb"):
        read_text(path)
