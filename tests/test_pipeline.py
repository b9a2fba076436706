import shutil

import pytest

from rag import evidence

from rag.answer import Answer, Sources
from rag.config import Settings
from rag.documents import read_text
from rag.errors import ConfigError
from rag.index import current_version
from rag.pipeline import ABSTAIN_TEXT, Engine, build_index

from conftest import FakeEmbedder, FakeGenerator, cite_passage_with, echo_passage, echo_sentence_with, prompt_passages

QUESTIONS = [
    "When was the Harbour Point lighthouse built?",
    "What price floor was set for NdPr oxide?",
    "How many loaves does Rosa's Bakery bake every day?",
]


@pytest.fixture
def settings(corpus, tmp_path):
    # A second copy of one file, so some passages are found in two places.
    shutil.copy(corpus / "lighthouse.md", corpus / "lighthouse-copy.md")
    return Settings(seeds_dir=corpus, index_dir=tmp_path / "index", models_dir=tmp_path / "no-models",
                    chunk_tokens=40, chunk_overlap_tokens=8, top_k=3, candidates=10)


def make_engine(settings, reply=echo_passage(1)):
    return Engine(settings, embedder=FakeEmbedder(), generator=FakeGenerator(reply))


def check_quotes(settings, citations):
    for c in citations:
        text = read_text(settings.seeds_dir / c.source)
        assert text[c.start:c.end] == c.quote, f"citation [{c.n}] of {c.source} is not verbatim"
        for other in c.also:
            assert read_text(settings.seeds_dir / other["source"])[other["start"]:other["end"]] == c.quote


def test_stream_yields_sources_then_text_then_the_answer(settings):
    engine = make_engine(settings)
    events = list(engine.stream(QUESTIONS[0]))

    sources, *pieces, answer = events
    assert isinstance(sources, Sources) and isinstance(answer, Answer)
    assert pieces and all(isinstance(p, str) for p in pieces)
    assert "".join(pieces) == answer.draft
    assert [c.n for c in sources.citations] == list(range(1, len(sources.citations) + 1))
    assert 0 < len(sources.citations) <= settings.top_k

    assert not answer.abstained
    assert "1871" in answer.answer and answer.answer.endswith("[1].")
    [cite] = answer.citations
    assert cite.n == 1 and "1871" in cite.quote
    assert answer.model == "fake-llm"
    assert answer.index_version == current_version(settings.index_dir)
    assert answer.timings["total_s"] >= answer.timings["retrieve_s"] >= 0


def test_the_prompt_holds_the_passages_and_the_question(settings, monkeypatch):
    monkeypatch.setattr(evidence, "FAR_BELOW_BEST", 10.0)     # several passages, however weak: their order
    engine = make_engine(settings)
    sources = list(engine.stream(QUESTIONS[1]))[0]
    [prompt] = engine.generator.prompts
    assert prompt_passages(prompt) == {c.n: " ".join(c.quote.split()) for c in sources.citations}
    assert prompt.rstrip().endswith("assistant")
    assert QUESTIONS[1] in prompt
    # The most relevant passage ([1]) is listed last, right above the question.
    block = prompt.rsplit("<passages>", 1)[-1].split("</passages>", 1)[0]
    order = [int(line[1:line.index("]")]) for line in block.strip().splitlines()]
    assert order == sorted(order, reverse=True) and order[-1] == 1 and len(order) > 1


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_citation_quotes_its_file_verbatim(settings, question):
    # a model that answers with the sentence of the passages that holds the answer
    engine = make_engine(settings, reply=echo_sentence_with("1871", "110 dollars", "240"))
    events = list(engine.stream(question))
    answer = events[-1]
    assert not answer.abstained, answer.warnings
    check_quotes(settings, events[0].citations)
    check_quotes(settings, answer.citations)


def test_passages_found_in_two_files_say_so(settings):
    engine = make_engine(settings)
    answer = engine.answer(QUESTIONS[0])
    [cite] = answer.citations
    places = {cite.source} | {a["source"] for a in cite.also}
    assert places == {"lighthouse.md", "lighthouse-copy.md"}
    check_quotes(settings, answer.citations)


def test_the_index_is_built_when_missing(settings):
    assert not settings.index_dir.exists()
    engine = make_engine(settings)
    engine.answer(QUESTIONS[2])
    version = current_version(settings.index_dir)
    assert version is not None
    engine.answer(QUESTIONS[0])
    assert current_version(settings.index_dir) == version


def test_the_engine_follows_a_rebuild(settings):
    engine = make_engine(settings)
    first = engine.answer(QUESTIONS[0]).index_version
    (settings.seeds_dir / "volcano.txt").write_text(
        "Mount Vesper erupted in 1783 and covered the valley in ash. The crater lake formed in 1790.\n")
    build_index(settings, embedder=FakeEmbedder())
    answer = engine.answer("When did Mount Vesper erupt?")
    assert answer.index_version != first
    assert "1783" in answer.answer
    assert answer.citations[0].source == "volcano.txt"


@pytest.mark.parametrize("question", ["", "   \n\t  "])
def test_an_empty_question_is_a_config_error(settings, question):
    engine = make_engine(settings)
    with pytest.raises(ConfigError, match="empty"):
        list(engine.stream(question))
    with pytest.raises(ConfigError):
        engine.answer(question)


def test_a_question_that_is_not_text_is_a_config_error(settings):
    with pytest.raises(ConfigError):
        make_engine(settings).answer(None)


def test_a_100k_character_question_is_cut_with_a_warning(settings):
    question = QUESTIONS[0] + " " + "and also tell me more about it please " * 2700
    assert len(question) >= 100_000
    engine = make_engine(settings)
    answer = engine.answer(question)
    assert isinstance(answer, Answer)
    assert any("characters" in w for w in answer.warnings)
    assert len(answer.question) <= settings.max_question_chars
    assert len(engine.generator.prompts[-1]) < 20_000
    check_quotes(settings, answer.citations)


def test_a_refusal_abstains_with_the_fixed_text(settings):
    engine = make_engine(settings, reply="NOT FOUND")
    events = list(engine.stream(QUESTIONS[1]))
    answer = events[-1]
    assert answer.abstained
    assert answer.answer == ABSTAIN_TEXT
    assert answer.draft == "NOT FOUND"
    assert 0 < len(answer.citations) <= 3          # the closest passages, for the reader to check
    check_quotes(settings, answer.citations)


def test_a_made_up_number_never_reaches_the_answer(settings):
    engine = make_engine(settings, reply="Rosa's Bakery bakes 900 loaves every day [1].")
    answer = engine.answer(QUESTIONS[2])
    assert "900" in answer.draft
    assert "900" not in answer.answer
    assert all("900" not in c.quote for c in answer.citations)
    check_quotes(settings, answer.citations)
    # the reader is told why the model's sentence was not used, not what it made up
    assert "a sentence of the model's answer was removed: the passage it cites does not have a number, name or " \
           "quotation it states" in answer.warnings
    assert not any("900" in w for w in answer.warnings)


def test_an_unsupported_sentence_is_removed_and_the_rest_kept(settings):
    def reply(prompt):
        return echo_passage(1)(prompt) + " The lighthouse keeper was paid 900 pounds a year [1]."
    answer = make_engine(settings, reply=reply).answer(QUESTIONS[0])
    assert not answer.abstained
    assert "1871" in answer.answer and "900" not in answer.answer
    assert any("removed" in w for w in answer.warnings)


def one_file_settings(tmp_path, name, text):
    """Settings for a corpus of one file, ``name``, holding ``text``."""
    from conftest import write_corpus
    corpus = write_corpus(tmp_path / "seeds", {name: text})
    return Settings(seeds_dir=corpus, index_dir=tmp_path / "index", models_dir=tmp_path / "no-models",
                    chunk_tokens=40, chunk_overlap_tokens=8, top_k=3, candidates=10)


def test_an_answer_of_the_wrong_kind_gives_way_to_the_passage_it_came_from(tmp_path):
    settings = one_file_settings(tmp_path, "deals.txt", (
        "Much like similar agreements the U.S. made with Australia and Malaysia in recent weeks, the agreement with "
        "Tokyo includes a commitment to boost domestic mining.\n\nThe bakery on Mill Street sells rye bread.\n"))
    reply = cite_passage_with("Tokyo", "The agreement with Tokyo includes a commitment to boost domestic mining.")
    question = "Which other countries recently signed similar agreements with the U.S.?"
    answer = make_engine(settings, reply=reply).answer(question)
    assert not answer.abstained
    assert "Australia and Malaysia" in answer.answer            # the model's 'Tokyo' names no country
    assert any("came from" in w for w in answer.warnings), answer.warnings
    check_quotes(settings, answer.citations)
    # The same sentence answers a question that asks for no country: it is kept as written.
    answer = make_engine(settings, reply=reply).answer("What does the agreement with Tokyo include?")
    assert answer.answer.startswith("The agreement with Tokyo includes a commitment")


def test_names_in_the_answer_are_spelled_as_the_quote_spells_them(tmp_path):
    settings = one_file_settings(tmp_path, "oscars.txt", (
        "At the 93rd Academy Awards, Chloé Zhao won Best Director for Nomadland.\n\n"
        "The bakery on Mill Street sells rye bread.\n"))
    reply = cite_passage_with("Zhao", "Chloe Zhao won Best Director at the 93rd Academy Awards.")
    answer = make_engine(settings, reply=reply).answer("Who won Best Director at the 93rd Academy Awards?")
    assert not answer.abstained
    assert answer.answer.startswith("Chloé Zhao won Best Director"), answer.answer
    assert "Chloé Zhao" in answer.citations[0].quote
