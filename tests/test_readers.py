"""The readers of slides, e-books, e-mail, and the tables and headings of HTML, .docx and Markdown."""
import io
import zipfile
from pathlib import Path
from email.message import EmailMessage

import pytest

import rag.mail
from rag.documents import (UnreadableDocument, iter_text, probe_text, read_document, read_source, read_text, scan,
                           stream_pieces)

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

CORRUPT_BODY = (b'Subject: x\nContent-Type: multipart/mixed; boundary="b"\n\n--b\n'
                b'Content-Type: text/plain; charset="utf-8\x00"\n\nThe body.\n--b\nContent-Type: text/plain\n'
                b'Content-Disposition: attachment; filename="notes.txt"\n\nA note.\n--b--\n')


def write_message(path, subject: str, body: str, *attachments) -> Path:
    """An .eml with ``attachments``: (file name, text or bytes, maintype, subtype) each."""
    msg = EmailMessage()
    msg["From"] = "Hannah Vale <hannah@example.org>"
    msg["Subject"] = subject
    msg.set_content(body)
    for name, content, maintype, subtype in attachments:
        if isinstance(content, str):
            msg.add_attachment(content, subtype=subtype, filename=name)
        else:
            msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    path.write_bytes(bytes(msg))
    return path


def test_eml_headers_and_body_name_the_attachments_but_not_their_text(tmp_path):
    doc = read_made(format_corpus.write_eml, tmp_path / "boiler.eml")
    assert doc.text.splitlines()[:5] == ["From: Hannah Vale <hannah@example.org>", "To: office@example.org",
                                         "Date: Tue, 04 Mar 2025 09:15:00 +0000", "Subject: Boiler service visit",
                                         "Attachments: notes.txt"]
    assert place(doc, "Tomasz Wren") == "message 'Boiler service visit'"
    assert "flowerpot" not in doc.text


def test_each_text_attachment_is_a_document_of_its_own_under_the_message(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    path = format_corpus.write_eml(inbox / "boiler.eml")
    found, skipped = scan(tmp_path)
    assert found == [("inbox/boiler.eml", path), ("inbox/boiler.eml/notes.txt", path)] and not skipped
    doc = read_document(path, "inbox/boiler.eml/notes.txt")
    assert doc.source == "inbox/boiler.eml/notes.txt"
    assert doc.text == "The spare key is under the blue flowerpot by the shed.\n"
    assert place(doc, "blue flowerpot") == "message 'Boiler service visit' › notes.txt"
    assert doc.sha256 == read_document(path, "inbox/boiler.eml").sha256       # the file's checksum
    assert read_text(inbox / "boiler.eml" / "notes.txt") == doc.text
    assert read_source(tmp_path, "inbox/boiler.eml/notes.txt") == doc.text
    assert read_source(tmp_path, "inbox/boiler.eml") == read_document(path, "inbox/boiler.eml").text


def test_attachments_are_read_like_files_of_their_kind(tmp_path):
    path = write_message(tmp_path / "farm.eml", "Farm report", "See the attached files.\n",
                         ("guide.md", format_corpus.GUIDE_MD, "text", "markdown"),
                         ("tonnes.csv", "Region,Tonnes\nKanto,1250\nHokkaido,4410\n", "text", "csv"),
                         ("fleet", format_corpus.FLEET_HTML.decode(), "text", "html"))
    assert [s for s, _ in scan(tmp_path)[0]] == ["farm.eml", "farm.eml/fleet", "farm.eml/guide.md",
                                                 "farm.eml/tonnes.csv"]
    guide = read_document(path, "farm.eml/guide.md")
    assert place(guide, "quokka") == "message 'Farm report' › guide.md › Setup › Linux"
    assert place(guide, "any computer") == "message 'Farm report' › guide.md › Setup"
    rows = read_document(path, "farm.eml/tonnes.csv")
    assert "Row 3: Region: Hokkaido; Tonnes: 4410" in rows.text.splitlines()
    assert place(rows, "Hokkaido") == "message 'Farm report' › tonnes.csv, row 3"
    fleet = read_document(path, "farm.eml/fleet")
    assert "<" not in fleet.text and place(fleet, "Ingrid Solberg").startswith("message 'Farm report' › fleet")
    assert read_document(path, "farm.eml").text.splitlines()[2] == "Attachments: guide.md, tonnes.csv, fleet"


def test_attachments_with_the_same_name_are_told_apart(tmp_path):
    path = write_message(tmp_path / "notes.eml", "Two notes", "Both attached.\n",
                         ("notes.txt", "The first note is about apples.\n", "text", "plain"),
                         ("notes.txt", "The second note is about pears.\n", "text", "plain"),
                         ("notes (2).txt", "The third note is about plums.\n", "text", "plain"),
                         ("notes.eml", "A note named like its message.\n", "text", "plain"),
                         ("../../etc/passwd", "A name with folders.\n", "text", "plain"))
    found = [s for s, _ in scan(tmp_path)[0]]
    assert found == ["notes.eml", "notes.eml/notes (2).eml", "notes.eml/notes (2).txt", "notes.eml/notes (3).txt",
                     "notes.eml/notes.txt", "notes.eml/passwd"]
    text = {s: read_document(path, s).text for s in found[1:]}
    assert text["notes.eml/notes.txt"] == "The first note is about apples.\n"
    assert text["notes.eml/notes (3).txt"] == "The second note is about pears.\n"
    assert text["notes.eml/notes (2).txt"] == "The third note is about plums.\n"
    assert text["notes.eml/notes (2).eml"] == "A note named like its message.\n"
    assert text["notes.eml/passwd"] == "A name with folders.\n"
    with pytest.raises(UnreadableDocument, match="no text attachment named 'gone.txt'"):
        read_document(path, "notes.eml/gone.txt")


def test_an_html_mail_body_is_read_as_text_and_a_huge_attachment_is_skipped_with_its_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(rag.mail, "MAX_ATTACHMENT_BYTES", 1000)
    msg = EmailMessage()
    msg["Subject"] = "Menu"
    msg.set_content("<html><body><p>Soup of the day: <b>nettle</b>.</p><script>x()</script></body></html>",
                    subtype="html")
    msg.add_attachment("x" * 5000, subtype="plain", filename="huge.txt")
    msg.add_attachment("Pudding: rhubarb crumble.\n", subtype="plain", filename="pudding.txt")
    msg.add_attachment(b"\x89PNG....", maintype="image", subtype="png", filename="photo.png")
    path = tmp_path / "menu.eml"
    path.write_bytes(bytes(msg))
    assert [s for s, _ in scan(tmp_path)[0]] == ["menu.eml", "menu.eml/huge.txt", "menu.eml/pudding.txt"]
    doc = read_document(path, "menu.eml")
    assert "Soup of the day: nettle." in doc.text and "x()" not in doc.text
    assert "Attachments: huge.txt, pudding.txt" in doc.text.splitlines()
    assert "xxxxx" not in doc.text and "photo.png" not in doc.text
    with pytest.raises(UnreadableDocument) as err:
        read_document(path, "menu.eml/huge.txt")
    assert str(err.value) == "attachment too large (5,001 bytes; the limit is 1,000)"
    assert read_document(path, "menu.eml/pudding.txt").text == "Pudding: rhubarb crumble.\n"


def test_a_corrupt_eml_is_refused_in_one_line_and_its_readable_attachment_is_still_read(tmp_path):
    path = tmp_path / "bad.eml"
    path.write_bytes(CORRUPT_BODY)
    assert scan(tmp_path)[0] == [("bad.eml", path), ("bad.eml/notes.txt", path)]
    with pytest.raises(UnreadableDocument) as err:
        read_document(path, "bad.eml")
    assert str(err.value) == "not a readable e-mail (ValueError: embedded null character)"
    assert read_document(path, "bad.eml/notes.txt").text == "A note."
    path.write_bytes(b'Subject: x\nContent-Type: text/plain; charset="utf-8\x00"\n\nbody\n')
    assert scan(tmp_path)[0] == [("bad.eml", path)]
    with pytest.raises(UnreadableDocument, match="embedded null character"):
        read_text(path)


def test_a_real_file_in_a_folder_named_like_an_email_is_not_an_attachment(tmp_path):
    (tmp_path / "old.eml").mkdir()
    (tmp_path / "old.eml" / "notes.txt").write_text("A plain note in a folder.\n")
    assert read_source(tmp_path, "old.eml/notes.txt") == "A plain note in a folder.\n"
    assert read_document(tmp_path / "old.eml" / "notes.txt", "old.eml/notes.txt").regions == ()


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
