"""The text attachments of an e-mail are documents of their own: indexed, listed, scoped, read
back for citations, and kept in step with the .eml as it changes, moves or goes (fake models)."""
from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

import rag.index_plan
from rag.config import Settings
from rag.evaluate import citation_valid
from rag.index import load
from rag.pipeline import Engine

from conftest import FakeEmbedder, FakeGenerator, cite_passage_with
from test_index import check_index, make_builder

KEY = "The spare key for the boiler room is under the blue flowerpot by the shed.\n"
MENU = "The canteen serves nettle soup on Mondays and rhubarb crumble on Fridays.\n"
BODY = "Hello,\n\nThe engineer Tomasz Wren will service the boiler on 14 March.\n\nHannah\n"


def write_mail(path: Path, attachments: dict[str, str], subject: str = "Boiler service visit",
               body: str = BODY) -> Path:
    msg = EmailMessage()
    msg["From"] = "Hannah Vale <hannah@example.org>"
    msg["Subject"] = subject
    msg.set_content(body)
    for name, text in attachments.items():
        msg.add_attachment(text, subtype="plain", filename=name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(msg))
    return path


@pytest.fixture
def seeds(tmp_path) -> Path:
    root = tmp_path / "seeds"
    write_mail(root / "inbox" / "boiler.eml", {"notes.txt": KEY, "menu.txt": MENU})
    (root / "plain.txt").write_text("The village hall roof was mended in April by a local firm.\n")
    return root


@pytest.fixture
def built(seeds, tmp_path):
    builder = make_builder(seeds, tmp_path / "index")
    builder.build()
    builder.embedder.embedded.clear()
    return builder


def indexed_sources(builder) -> set[str]:
    snap = load(builder.index_dir)
    return {loc.source for rec in snap.chunks for loc in rec.locations}


MESSAGE, NOTES, MENU_SRC = "inbox/boiler.eml", "inbox/boiler.eml/notes.txt", "inbox/boiler.eml/menu.txt"


def test_the_attachments_are_indexed_as_documents_of_their_own(seeds, tmp_path):
    builder = make_builder(seeds, tmp_path / "index")
    report = builder.build()
    assert report.added == [MESSAGE, MENU_SRC, NOTES, "plain.txt"]
    assert not report.skipped and not report.duplicates and not report.near_duplicates
    snap = check_index(builder)
    files = snap.manifest["files"]
    assert files[MESSAGE]["attachments"] == ["notes.txt", "menu.txt"] and "part_of" not in files[MESSAGE]
    assert files[NOTES]["part_of"] == MESSAGE and files[NOTES]["sha256"] == files[MESSAGE]["sha256"]
    assert files[NOTES]["regions"] == [[0, "message 'Boiler service visit' › notes.txt"]]
    text_of: dict[str, str] = {}
    for rec in snap.chunks:
        for loc in rec.locations:
            text_of[loc.source] = text_of.get(loc.source, "") + rec.text
    assert "flowerpot" in text_of[NOTES] and "flowerpot" not in text_of[MESSAGE]
    assert "Attachments: notes.txt, menu.txt" in text_of[MESSAGE]
    assert any(t.startswith("message 'Boiler service visit' › notes.txt\n") for t in builder.embedder.embedded)


def test_an_unchanged_email_is_not_read_again(built, monkeypatch):
    monkeypatch.setattr(rag.index_plan, "attachments", lambda *a, **k: pytest.fail("the e-mail was parsed"))
    monkeypatch.setattr(rag.index_plan, "read_document", lambda *a, **k: pytest.fail("a document was read"))
    report = built.build()
    assert report.up_to_date and report.unchanged == [MESSAGE, MENU_SRC, NOTES, "plain.txt"]


def test_a_changed_email_rereads_its_attachments(built, seeds):
    write_mail(seeds / MESSAGE, {"notes.txt": KEY.replace("blue", "green"), "menu.txt": MENU})
    report = built.build()
    assert report.changed == [MESSAGE, MENU_SRC, NOTES] and not report.added and not report.removed
    assert any("green flowerpot" in t for t in built.embedder.embedded)
    assert not any("nettle soup" in t for t in built.embedder.embedded)   # same text: its vector is reused
    check_index(built)


def test_an_attachment_taken_out_of_the_email_leaves_the_index(built, seeds):
    write_mail(seeds / MESSAGE, {"notes.txt": KEY})
    report = built.build()
    assert report.removed == [MENU_SRC] and report.changed == [MESSAGE, NOTES]
    assert indexed_sources(built) == {MESSAGE, NOTES, "plain.txt"}
    snap = check_index(built)
    assert MENU_SRC not in snap.manifest["files"] and snap.manifest["files"][MESSAGE]["attachments"] == ["notes.txt"]


def test_a_deleted_email_takes_its_attachments_with_it(built, seeds):
    (seeds / MESSAGE).unlink()
    report = built.build()
    assert report.removed == [MESSAGE, MENU_SRC, NOTES]
    assert indexed_sources(built) == {"plain.txt"}
    check_index(built)


def test_a_renamed_email_renames_its_attachments_and_embeds_nothing(built, seeds):
    (seeds / "archive").mkdir()
    (seeds / MESSAGE).rename(seeds / "archive" / "boiler-2025.eml")
    report = built.build()
    new = "archive/boiler-2025.eml"
    assert sorted(report.renamed) == [(MESSAGE, new), (MENU_SRC, f"{new}/menu.txt"), (NOTES, f"{new}/notes.txt")]
    assert not report.added and not report.removed and built.embedder.embedded == []
    snap = check_index(built)
    assert snap.manifest["files"][f"{new}/notes.txt"]["part_of"] == new
    assert indexed_sources(built) == {new, f"{new}/menu.txt", f"{new}/notes.txt", "plain.txt"}
    assert built.build().up_to_date


def test_a_copied_email_is_reported_attachment_by_attachment(built, seeds):
    (seeds / "copy.eml").write_bytes((seeds / MESSAGE).read_bytes())
    report = built.build()
    assert sorted(report.duplicates) == [("copy.eml", MESSAGE), ("copy.eml/menu.txt", MENU_SRC),
                                         ("copy.eml/notes.txt", NOTES)]
    assert built.embedder.embedded == []


def test_a_huge_attachment_is_skipped_with_its_reason_and_the_rest_is_indexed(seeds, tmp_path, monkeypatch):
    import rag.mail

    limit = len(KEY) - 1
    assert len(MENU) <= limit
    monkeypatch.setattr(rag.mail, "MAX_ATTACHMENT_BYTES", limit)
    builder = make_builder(seeds, tmp_path / "index")
    report = builder.build()
    assert [(s.source, s.reason) for s in report.skipped] == [
        (NOTES, f"attachment too large ({len(KEY)} bytes; the limit is {limit})")]
    assert report.added == [MESSAGE, MENU_SRC, "plain.txt"]
    monkeypatch.setattr(rag.mail, "MAX_ATTACHMENT_BYTES", 1000)
    report = builder.build()
    assert report.added == [NOTES] and report.unchanged == [MESSAGE, MENU_SRC, "plain.txt"]
    check_index(builder)


def test_a_corrupt_email_is_skipped_in_one_line_and_loses_nothing_else(seeds, tmp_path):
    from test_readers import CORRUPT_BODY

    (seeds / "bad.eml").write_bytes(CORRUPT_BODY)
    builder = make_builder(seeds, tmp_path / "index")
    report = builder.build()
    assert [(s.source, s.reason) for s in report.skipped] == [
        ("bad.eml", "not a readable e-mail (ValueError: embedded null character)")]
    assert report.added == ["bad.eml/notes.txt", MESSAGE, MENU_SRC, NOTES, "plain.txt"]
    check_index(builder)
    assert builder.build().unchanged == ["bad.eml/notes.txt", MESSAGE, MENU_SRC, NOTES, "plain.txt"]


# --------------------------------------------------------------------------- scope and citations

def make_engine(seeds: Path, tmp_path: Path, word: str, sentence: str) -> Engine:
    settings = Settings(seeds_dir=seeds, index_dir=tmp_path / "index", models_dir=tmp_path / "no-models",
                        chunk_tokens=60, chunk_overlap_tokens=8, top_k=3, candidates=10)
    return Engine(settings, embedder=FakeEmbedder(), generator=FakeGenerator(cite_passage_with(word, sentence)))


def test_a_scope_names_one_attachment_or_the_message_with_its_attachments(seeds, tmp_path):
    retriever = make_engine(seeds, tmp_path, "x", "x").retriever()
    assert retriever.documents() == [MESSAGE, MENU_SRC, NOTES, "plain.txt"]
    assert retriever.scope([NOTES]).sources == {NOTES}
    assert retriever.scope([MESSAGE]).sources == {MESSAGE, MENU_SRC, NOTES}
    assert retriever.scope(["inbox/*.eml"]).sources == {MESSAGE}
    hits = retriever.search("What does the canteen serve?", 10, scope=retriever.scope([NOTES]))
    assert hits and {loc.source for h in hits for loc in h.chunk.locations} == {NOTES}


def test_a_citation_of_an_attachment_names_the_message_and_reads_back_verbatim(seeds, tmp_path):
    from ui import render

    engine = make_engine(seeds, tmp_path, "flowerpot", "The spare key is under the blue flowerpot by the shed.")
    answer = engine.answer("What is kept under the blue flowerpot?", sources=[MESSAGE])
    assert not answer.abstained, answer
    cite = answer.citations[0]
    assert cite.source == NOTES and cite.location == "message 'Boiler service visit' › notes.txt"
    assert citation_valid(cite, seeds, {})
    before, quote, after = render.passage_context(seeds, cite)
    assert quote == cite.quote and "flowerpot" in quote


def test_the_documents_list_shows_attachments_and_deleting_one_alone_is_refused(seeds):
    from ui.corpus import UploadRejected, delete_document, documents

    listed = {d["source"]: d for d in documents(seeds)}
    assert set(listed) == {MESSAGE, MENU_SRC, NOTES, "plain.txt"}
    assert listed[NOTES]["part_of"] == MESSAGE and listed[NOTES]["bytes"] == len(KEY)
    assert "part_of" not in listed[MESSAGE] and listed[MESSAGE]["bytes"] == (seeds / MESSAGE).stat().st_size
    with pytest.raises(UploadRejected) as err:
        delete_document(seeds, NOTES)
    assert str(err.value) == f"{NOTES} is an attachment of {MESSAGE}; delete {MESSAGE} to remove it"
    assert (seeds / MESSAGE).is_file()
