"""Citations of the new kinds of document name where the quote is (fake models; see
test_formats_integration.py for the real ones)."""
from pathlib import Path

import pytest

from rag.config import Settings
from rag.documents import read_text
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
        assert read_text(seeds / c.source)[c.start:c.end] == c.quote, f"[{c.n}] of {c.source} is not verbatim"
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
