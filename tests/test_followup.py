"""Follow-up questions: when the retrieval query borrows from the conversation, and what it borrows."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag import followup
from rag.answer import Answer, Citation
from rag.config import REPO_ROOT, Settings
from rag.pipeline import Engine, build_index
from tests.conftest import FakeGenerator, echo_passage

PREVIOUS = "Who signed the framework agreement between the United States and Japan?"
QUOTE = "The agreement was signed in Tokyo by U.S. President Donald Trump and Japanese Prime Minister Sanae Takaichi."


def previous_answer() -> Answer:
    c = Citation(n=1, source="deal.txt", chunk_id="c", start=0, end=len(QUOTE), quote=QUOTE, score=0.9)
    return Answer(PREVIOUS, "Donald Trump and Sanae Takaichi signed it [1].", False, [c], {})


@pytest.mark.parametrize("question", ["How much will they invest?", "Why?", "When was it signed?",
                                      "And Australia?", "What does this mean for prices?"])
def test_questions_that_lean_on_the_conversation_are_expanded(question):
    rq = followup.retrieval_query(question, [previous_answer()])
    assert rq.startswith(question) and rq != question
    terms = rq[len(question):]
    assert "Japan" in terms and "framework" in terms
    assert "Takaichi" in terms or "Trump" in terms or len(terms.split()) >= followup.MAX_TERMS


@pytest.mark.parametrize("question", ["What floor price per kilogram was set for NdPr?",
                                      "Which country is the largest producer of rare earths?",
                                      "Who is Japan's first female leader?"])
def test_questions_that_stand_alone_are_searched_as_asked(question):
    assert followup.retrieval_query(question, [previous_answer()]) == question
    assert followup.retrieval_query(question, None) == question


def test_no_history_or_an_unhelpful_one_changes_nothing():
    assert followup.retrieval_query("How much will they invest?", []) == "How much will they invest?"
    assert followup.retrieval_query("How much will they invest?", [None, "", {}]) == "How much will they invest?"


def test_every_history_shape_is_understood():
    short = previous_answer()
    short.question = "Who signed the Japan deal?"
    shapes = [[short], [short.to_dict()], [(short.question, "They did.")], [short.question]]
    queries = [followup.retrieval_query("How much will they invest?", h) for h in shapes]
    assert all("Japan" in q and "deal" in q for q in queries)
    # names from the cited quote come only with the answer's citations
    assert "Tokyo" in queries[0] and "Tokyo" in queries[1] and "Tokyo" not in queries[3]


def test_the_borrowed_terms_are_few_and_not_repeated():
    rq = followup.retrieval_query("How much will they invest in Japan?", [previous_answer()])
    borrowed = rq.split("?", 1)[1].split()
    assert len(borrowed) <= followup.MAX_TERMS + 2 * 2      # its own two terms twice more, then at most MAX_TERMS
    assert borrowed.count("Japan") == 2                     # its own term, repeated; never borrowed again


def test_a_follow_up_of_a_follow_up_keeps_the_topic():
    first = previous_answer().to_dict()
    second = {"question": "How much will they invest?",
              "retrieval_query": followup.retrieval_query("How much will they invest?", [first])}
    rq = followup.retrieval_query("By when?", [first, second])
    assert "invest" in rq and "framework" in rq


def test_the_engine_retrieves_with_the_expanded_query_but_answers_the_question(tmp_path, corpus, fake_embedder):
    settings = Settings(seeds_dir=corpus, index_dir=tmp_path / "index", top_k=2)
    build_index(settings, embedder=fake_embedder)
    gen = FakeGenerator(echo_passage(1))
    engine = Engine(settings, embedder=fake_embedder, generator=gen)
    history = [{"question": "What did the United States and Japan sign about rare earths?"}]
    events = list(engine.stream("How much will they invest?", history=history))
    sources, final = events[0], events[-1]
    assert sources.retrieval_query == final.retrieval_query != final.question
    assert "Japan" in final.retrieval_query and final.question == "How much will they invest?"
    assert all(c.source == "minerals.txt" for c in sources.citations)
    # the prompt carries the user's question, not the expanded query
    assert "How much will they invest?" in gen.prompts[-1] and final.retrieval_query not in gen.prompts[-1]
    alone = engine.answer("How much will they invest?")
    assert alone.retrieval_query == alone.question


# --------------------------------------------------------------------------- measured on the seed documents

PAIRS = [json.loads(line) for line in (Path(__file__).parent / "fixtures" / "followup_pairs.jsonl").open()]


@pytest.mark.integration
def test_follow_ups_on_the_seed_documents_find_their_passage(tmp_path):
    """Each pair: a question, then a follow-up that leans on it. The passage holding ``expect``
    should be the best one found for the follow-up at least as often with the conversation as without."""
    from rag import evidence

    settings = Settings(seeds_dir=REPO_ROOT / "seeds", index_dir=tmp_path / "index")
    build_index(settings)
    engine = Engine(settings)
    retriever = engine.retriever()

    def top(query: str) -> list[str]:
        qvec = engine.embedder.embed_query(query)
        hits = retriever.search(query, settings.candidates, query_vector=qvec)
        return [p.text for p in evidence.select(query, qvec, hits, engine.embedder, k=settings.top_k)]

    alone = expanded = 0
    for pair in PAIRS:
        previous = top(pair["previous"])
        quotes = [t for t in previous if pair["previous_quote_has"] in t] or previous[:1]
        history = [{"question": pair["previous"], "citations": [{"quote": q} for q in quotes]}]
        query = followup.retrieval_query(pair["question"], history)
        assert query != pair["question"] or not followup.leans_on_context(pair["question"])
        alone += pair["expect"] in top(pair["question"])[0]
        expanded += pair["expect"] in top(query)[0]
    assert expanded >= alone and expanded >= 0.75 * len(PAIRS), (alone, expanded)
    invest = followup.retrieval_query("How much will they invest?", [PAIRS[0]["previous"]])
    assert any("400" in t for t in top(invest))
