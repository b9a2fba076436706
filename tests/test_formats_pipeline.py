"""Citations of the new kinds of document name where the quote is (fake models; see
test_formats_integration.py for the real ones)."""
from pathlib import Path

import pytest

from rag.config import Settings
from rag.documents import read_source
from rag.pipeline import Engine

from conftest import FakeEmbedder, FakeGenerator, cite_passage_with
import format_corpus


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> Path:
    """One corpus for the module; its index is built by the first question and then reused."""
    root = tmp_path_factory.mktemp("formats") / "seeds"
    root.mkdir()
    format_corpus.write_all(root)
    return root


def ask(seeds: Path, question: str, word: str, sentence: str):
    settings = Settings(seeds_dir=seeds, index_dir=seeds.parent / "index", models_dir=seeds.parent / "no-models",
                        chunk_tokens=60, chunk_overlap_tokens=8, top_k=3, candidates=10)
    engine = Engine(settings, embedder=FakeEmbedder(), generator=FakeGenerator(cite_passage_with(word, sentence)))
    answer = engine.answer(question)
    for c in answer.citations:
        assert read_source(seeds, c.source)[c.start:c.end] == c.quote, f"[{c.n}] of {c.source} is not verbatim"
    return answer


@pytest.mark.parametrize("kind", sorted(format_corpus.FACTS))
def test_a_citation_names_the_file_and_the_place_in_it(seeds, kind):
    fact = format_corpus.FACTS[kind]
    answer = ask(seeds, fact.question, fact.word, fact.sentence)
    assert not answer.abstained, answer
    cite = answer.citations[0]
    assert cite.source == fact.source and fact.word in cite.quote
    assert format_corpus.names_place(cite.location, fact.location), cite.location
    assert answer.to_dict()["citations"][0]["location"] == cite.location


def test_names_place_tells_rows_and_places_apart():
    assert format_corpus.names_place("Ports, rows 2–5", "Ports, row 5")
    assert format_corpus.names_place("row 5", "row 5")
    assert not format_corpus.names_place("Ports, rows 2–4", "Ports, row 5")
    assert not format_corpus.names_place("Costs, row 5", "Ports, row 5")
    assert not format_corpus.names_place("slide 2", "slide 2 › Harvest figures")


def test_a_plain_text_citation_has_no_location_in_its_json(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "note.txt").write_text("The ferry to Inchmore leaves at seven every morning.\n")
    answer = ask(seeds, "When does the ferry to Inchmore leave?", "ferry",
                 "The ferry to Inchmore leaves at seven every morning.")
    assert answer.citations and answer.citations[0].location == ""
    assert "location" not in answer.to_dict()["citations"][0]


def test_the_chat_window_shows_the_location_on_the_source_card_and_in_the_export(seeds):
    from ui import render

    fact = format_corpus.FACTS["xlsx"]
    answer = ask(seeds, fact.question, fact.word, fact.sentence)
    cite = answer.citations[0]
    card = render.citation_card(cite, seeds)
    assert f'<span class="rag-page" title="{cite.location}">{cite.location}</span>' in card
    assert f"<mark>{render.esc(cite.quote)}</mark>" in card          # the quote is found in the file's text
    cite.location = "Sheet <b>1</b>, row 3"
    assert "Sheet &lt;b&gt;1&lt;/b&gt;, row 3" in render.citation_card(cite, seeds)
    turn = {"question": fact.question, **answer.to_dict()}
    assert f"`ports.xlsx`, {answer.citations[0].location}, characters" in render.export_markdown([turn])
    assert render.citation_from_dict(answer.to_dict()["citations"][0]).location == answer.citations[0].location


def test_bad_files_of_the_new_kinds_are_skipped_with_a_reason_and_lose_nothing_else(tmp_path, monkeypatch):
    import io
    import zipfile

    import rag.mail
    from rag.chunk import Chunker
    from rag.index import Builder

    monkeypatch.setattr(rag.mail, "MAX_ATTACHMENT_BYTES", 20)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    format_corpus.write_csv(seeds / "tonnes.csv")
    format_corpus.write_eml(seeds / "boiler.eml")                      # its attachment is now over the limit
    (seeds / "broken.xlsx").write_bytes(b"PK\x03\x04 not a workbook")
    (seeds / "locked.xlsx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    (seeds / "broken.pptx").write_bytes(b"not a deck at all")
    drm = format_corpus.write_epub(seeds / "drm.epub")
    with zipfile.ZipFile(drm, "a") as zf:
        zf.writestr("META-INF/encryption.xml", "<encryption/>")
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("word/document.xml", b"\0" * (64 * 1024 * 1024))
    (seeds / "bomb.docx").write_bytes(bomb.getvalue())
    format_corpus.text_image([]).save(seeds / "blank.png")

    embedder = FakeEmbedder()
    report = Builder(seeds, tmp_path / "index", embedder, Chunker(embedder.count_tokens, 60, 8)).build()
    assert report.added == ["boiler.eml", "tonnes.csv"]
    reasons = {s.source: s.reason for s in report.skipped}
    assert set(reasons) == {"broken.xlsx", "locked.xlsx", "broken.pptx", "drm.epub", "bomb.docx", "blank.png",
                            "boiler.eml/notes.txt"}
    assert reasons["boiler.eml/notes.txt"] == "attachment too large (55 bytes; the limit is 20)"
    assert "not a readable workbook" in reasons["broken.xlsx"] and "password-protected" in reasons["locked.xlsx"]
    assert "not a readable .pptx" in reasons["broken.pptx"] and "DRM" in reasons["drm.epub"]
    assert "zip bomb" in reasons["bomb.docx"] and reasons["blank.png"] == "no text found by OCR"
    assert all("\n" not in r for r in reasons.values())
    assert any("Attachments: notes.txt" in t for t in embedder.embedded)
    assert not any("flowerpot" in t for t in embedder.embedded)
    assert any("Hokkaido" in t for t in embedder.embedded)
