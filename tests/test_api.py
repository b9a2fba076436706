"""The Python API as the README shows it (``rag.answer``, ``rag.stream_answer``, ``history=``), end to
end through the pipeline with the fakes, and what the README promises when the model's answer cannot
be used (the best passage is quoted; a weakly related citation is refused) or the model is stopped
(its length and time limits)."""
from __future__ import annotations

import pytest

import rag
import rag.evidence
import rag.decide
import rag.pipeline
from rag.documents import read_text

from conftest import CORPUS, FakeEmbedder, FakeGenerator, echo_passage, write_corpus

BUILT = "When was the Harbour Point lighthouse built?"
TWO_SENTENCES = ("The Harbour Point lighthouse was built in 1871 by the engineer Margaret Olsen [1]. "
                 "Its lamp can be seen from 22 nautical miles away on a clear night [1].")
SMALL = {"chunk_tokens": 40, "chunk_overlap_tokens": 8, "top_k": 3, "candidates": 10}


@pytest.fixture
def model(monkeypatch) -> FakeGenerator:
    """The fake model every engine made through the API uses (set its ``reply`` in the test)."""
    gen = FakeGenerator(echo_passage(1))
    embedder = FakeEmbedder()
    monkeypatch.setattr(rag.pipeline, "_engines", {})
    monkeypatch.setattr(rag.pipeline, "shared_embedder", lambda settings: embedder)
    monkeypatch.setattr(rag.pipeline, "shared_generator", lambda settings: gen)
    return gen


def corpus_at(tmp_path, files=None) -> dict:
    return {"seeds_dir": write_corpus(tmp_path / "seeds", files), "index_dir": tmp_path / "index",
            "models_dir": tmp_path / "no-models", **SMALL}


def assert_verbatim(answer, seeds_dir) -> None:
    assert answer.citations
    for c in answer.citations:
        assert read_text(seeds_dir / c.source)[c.start:c.end] == c.quote


def test_stream_answer_gives_the_sources_then_the_draft_then_the_verified_answer(model, tmp_path):
    where = corpus_at(tmp_path)
    model.reply = TWO_SENTENCES
    sources, *pieces, final = list(rag.stream_answer(BUILT, **where))
    assert isinstance(sources, rag.Sources) and isinstance(final, rag.Answer)
    assert sources.question == BUILT and 1 <= len(sources.citations) <= 3
    assert sources.citations[0].source == "lighthouse.md" and "1871" in sources.citations[0].quote
    assert len(pieces) == len(TWO_SENTENCES.split()) and "".join(pieces) == final.draft == TWO_SENTENCES
    assert final.answer == TWO_SENTENCES and not final.abstained and final.warnings == []
    assert [c.quote for c in final.citations] == [sources.citations[0].quote]
    assert_verbatim(final, where["seeds_dir"])
    again = rag.answer(BUILT, **where).to_dict()
    assert {**again, "timings": {}} == {**final.to_dict(), "timings": {}}


def test_history_decides_what_a_follow_up_is_searched_with(model, tmp_path):
    files = {**CORPUS, "cape.txt": "The Cape Rock lighthouse was designed by the architect Tomas Lind. "
                                   "It was built in 1902 on a granite ledge.\n"}
    where = corpus_at(tmp_path, files)
    harbour = rag.answer("Which engineer built the Harbour Point lighthouse?", **where)
    cape = rag.answer("Who designed the Cape Rock lighthouse?", **where)
    assert "Margaret Olsen" in harbour.answer and "Tomas Lind" in cape.answer

    after_harbour = rag.answer("When was it built?", history=[harbour], **where)
    after_cape = rag.answer("When was it built?", history=[cape.to_dict()], **where)
    assert "Harbour Point" in after_harbour.retrieval_query and "1871" in after_harbour.answer
    assert "Cape Rock" in after_cape.retrieval_query and "1902" in after_cape.answer
    assert "1902" not in after_harbour.answer and "1871" not in after_cape.answer
    assert after_harbour.question == after_cape.question == "When was it built?"
    assert rag.answer("When was it built?", **where).retrieval_query == "When was it built?"


def test_an_unverifiable_answer_is_replaced_by_the_best_passage_quoted(model, tmp_path):
    where = corpus_at(tmp_path)
    model.reply = "It was built long ago by someone famous [1]."
    a = rag.answer(BUILT, **where)
    [c] = a.citations
    assert a.answer == f"The documents say: “{c.quote.strip()}” [1]" and not a.abstained
    assert "built in 1871" in c.quote and c.source == "lighthouse.md"
    assert "long ago" not in a.answer and a.draft == model.reply
    assert "the best matching passage is quoted instead of a model-written answer" in a.warnings
    assert_verbatim(a, where["seeds_dir"])


KEEPER = {"harbour.txt": "The Harbour Point lighthouse keeper counts ships in the harbour every morning. "
                         "The lighthouse keeper is Ann Berg.\n",
          "town.txt": "Harbour Point is a small fishing town. Its school has a choir. "
                      "The choir sang at the lighthouse once in spring.\n"}
KEEPER_Q = "What does the Harbour Point lighthouse keeper do every morning?"


def test_an_answer_citing_a_much_weaker_passage_than_the_best_is_not_used(model, tmp_path, monkeypatch):
    where = {**corpus_at(tmp_path, KEEPER), "top_k": 4}
    # Show every passage, however weak (evidence selection would leave the town's out), so that the
    # answer check is what meets the weak citation.
    monkeypatch.setattr(rag.evidence, "FAR_BELOW_BEST", 10.0)
    model.reply = echo_passage(2)          # true to passage [2], which is about the town, not the keeper
    sources, *_, a = list(rag.stream_answer(KEEPER_Q, **where))
    best, weak = sources.citations[0], sources.citations[1]
    assert weak.source == "town.txt" and best.score - weak.score > rag.decide.WEAK_CITATION_GAP
    assert "choir" not in a.answer and "counts ships" in a.answer
    assert ("the model's answer was not used: it cites a passage much less related to the question than "
            "the best one") in a.warnings
    # the same answer, with the gap check out of the way, would have been used: it is the check that refused it
    # (the passage also says too little of what is asked, a later check, set aside here too)
    monkeypatch.setattr(rag.decide, "WEAK_CITATION_GAP", 10.0)
    monkeypatch.setattr(rag.decide, "rests_on_what_is_asked", lambda *args: "")
    monkeypatch.setattr(rag.pipeline, "_engines", {})
    assert "choir" in rag.answer(KEEPER_Q, **where).answer


def test_the_length_limit_cuts_the_model_off_and_only_what_it_wrote_is_checked(model, tmp_path):
    where = corpus_at(tmp_path)
    model.reply = TWO_SENTENCES
    first_sentence = TWO_SENTENCES.split(" Its lamp")[0]
    n = len(first_sentence.split()) + 2            # the second sentence is cut after two words
    a = rag.answer(BUILT, max_answer_tokens=n, **where)
    assert len(a.draft.split()) == n and a.timings["completion_tokens"] == n
    assert a.answer == first_sentence and "lamp" not in a.answer
    assert f"the model was stopped after {n} tokens (the length limit for an answer); only what it wrote " \
           "until then was checked" in a.warnings
    whole = rag.answer(BUILT, max_answer_tokens=160, **where)
    assert whole.answer == TWO_SENTENCES and whole.warnings == []


def test_the_time_limit_stops_the_model_and_a_half_sentence_is_never_the_answer(model, tmp_path):
    where = corpus_at(tmp_path)
    model.reply = TWO_SENTENCES
    model.seconds_per_piece = 0.05
    sources, *pieces, a = list(rag.stream_answer(BUILT, answer_timeout_s=0.12, **where))
    assert 2 <= len(pieces) <= 4 and a.draft == "".join(pieces) and TWO_SENTENCES.startswith(a.draft)
    assert a.timings["completion_tokens"] == len(pieces)
    assert any(w.startswith("the model was stopped after 0.12 s (the time limit") for w in a.warnings)
    [c] = a.citations                              # the half sentence is dropped; the best passage is quoted
    assert a.answer == f"The documents say: “{c.quote.strip()}” [1]" and "1871" in c.quote
    assert c.quote == sources.citations[0].quote
    assert_verbatim(a, where["seeds_dir"])


@pytest.mark.parametrize("draft, finished", [
    ("The floor is $110 per kilogram [1]. It was set by the", "The floor is $110 per kilogram [1]."),
    ("It was signed in Tokyo by U.S. President Donald", ""),
    ("It was signed in Tokyo [2]. Then U.S. officials", "It was signed in Tokyo [2]."),
    ("It costs 3.5 dollars [1]", "It costs 3.5 dollars [1]"),
    ("He said “yes.” [2] And then", "He said “yes.” [2]"),
    ("The Harbour Point ", ""),
])
def test_a_stopped_draft_is_checked_up_to_its_last_finished_sentence(draft, finished):
    assert rag.pipeline.finished_sentences(draft) == finished
