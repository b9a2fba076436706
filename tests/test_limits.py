"""Limits: every prompt fits the model's context, whatever the question and however many passages;
odd questions get a clear result; generation stops at its time limit and the process stays healthy.

The unit tests use the fakes; the ones marked ``integration`` measure with the real tokenizer and
run the real models.
"""
from __future__ import annotations

import random
import re

import pytest

from rag import evidence

from rag import prompt as prompts
from rag.answer import Answer
from rag.config import REPO_ROOT, Settings
from rag.documents import read_text
from rag.errors import ConfigError
from rag.evidence import Passage
from rag.index import Location
from rag.pipeline import ABSTAIN_TEXT, Engine, build_index, shared_generator

from conftest import FakeEmbedder, FakeGenerator, echo_passage, prompt_passages

SEEDS = REPO_ROOT / "seeds"
WORDS = ("harbour lighthouse keeper lamp tower steps museum lens bakery bread loaves oven flour "
         "framework minerals price floor kilogram agreement investment recycling stockpile").split()


def long_passages(n: int, chars: int, seed: int = 7) -> list[Passage]:
    """``n`` distinct passages of about ``chars`` characters, as if cut from one long file."""
    rnd = random.Random(seed)
    out, start = [], 0
    for i in range(n):
        words = []
        while sum(len(w) + 1 for w in words) < chars:
            words.append(rnd.choice(WORDS) if rnd.random() < 0.9 else str(rnd.randint(1, 9999)))
        text = (f"Passage {i}: " + " ".join(words))[:chars].rstrip() + "."
        out.append(Passage(i + 1, text, Location("big.txt", start, start + len(text)),
                           also=[(Location("copy.txt", start, start + len(text)), text)],
                           score=1.0 - i / 100, chunk_id=f"c{i}"))
        start += len(text) + 1
    return out


def prompt_limit(gen, max_answer_tokens: int) -> int:
    return gen.n_ctx - max_answer_tokens


# --------------------------------------------------------------------------- fitting, with fakes


def test_fifty_passages_of_2k_characters_are_cut_to_fit_with_warnings():
    gen = FakeGenerator(n_ctx=2048)
    passages = long_passages(50, 2000)
    fitted = prompts.fit("What does passage 3 say about the lighthouse?", passages, gen, max_answer_tokens=160)
    assert gen.count_tokens(gen.render(fitted.messages)) + 1 <= 2048 - 160
    assert fitted.tokens == gen.count_tokens(fitted.prompt)
    assert 0 < len(fitted.passages) < 50
    assert [p.n for p in fitted.passages] == list(range(1, len(fitted.passages) + 1))
    assert any("did not fit" in w and "of 50 passages" in w for w in fitted.warnings)
    # the passages shown are the best-ranked ones, in order, and each is a verbatim prefix of its own
    for shown, orig in zip(fitted.passages, passages):
        assert orig.text.startswith(shown.text)
        assert shown.location.source == orig.location.source and shown.location.start == orig.location.start
        assert shown.location.end - shown.location.start == len(shown.text)
        for loc, text in shown.also:
            assert loc.end - loc.start == len(text) and orig.text.startswith(text)


def test_a_passage_that_does_not_fit_whole_is_shortened_not_dropped_when_it_is_the_only_one():
    gen = FakeGenerator(n_ctx=1024)
    [p] = long_passages(1, 8000)
    fitted = prompts.fit("What does it say?", [p], gen, max_answer_tokens=160)
    [shown] = fitted.passages
    assert 0 < len(shown.text) < len(p.text) and p.text.startswith(shown.text)
    assert shown.location.end == p.location.start + len(shown.text)
    assert any("shortened" in w for w in fitted.warnings)
    assert fitted.tokens + 1 <= 1024 - 160


def test_a_long_question_is_cut_by_tokens_and_passages_still_get_room():
    gen = FakeGenerator(n_ctx=2048)
    question = "What floor price was set for NdPr? " + "Please consider every detail. " * 3400
    fitted = prompts.fit(question, long_passages(4, 300), gen, max_answer_tokens=160)
    assert question.startswith(fitted.question) and len(fitted.question) < len(question)
    assert any("tokens long" in w for w in fitted.warnings)
    assert len(fitted.passages) == 4
    assert fitted.tokens + 1 <= 2048 - 160


def test_small_inputs_are_left_alone():
    gen = FakeGenerator()
    passages = long_passages(3, 200)
    fitted = prompts.fit("When was it built?", passages, gen, max_answer_tokens=160)
    assert fitted.question == "When was it built?" and fitted.warnings == []
    assert [p.text for p in fitted.passages] == [p.text for p in passages]
    assert fitted.messages == prompts.build("When was it built?", passages)


def test_an_answer_budget_that_leaves_no_room_is_a_config_error():
    with pytest.raises(ConfigError, match="max_answer_tokens"):
        prompts.fit("When?", long_passages(1, 100), FakeGenerator(n_ctx=512), max_answer_tokens=500)


@pytest.fixture
def fake_settings(corpus, tmp_path):
    return Settings(seeds_dir=corpus, index_dir=tmp_path / "index", models_dir=tmp_path / "no-models",
                    chunk_tokens=40, chunk_overlap_tokens=8, top_k=3, candidates=10)


@pytest.mark.parametrize("question", ["", "   \n\t  ", "???", "!!! ... ,,, ;-)", "\x00\x00", "\x07 \x1b ?"])
def test_questions_without_words_are_one_line_config_errors(fake_settings, question):
    engine = Engine(fake_settings, embedder=FakeEmbedder(), generator=FakeGenerator(echo_passage(1)))
    with pytest.raises(ConfigError) as err:
        engine.answer(question)
    assert "\n" not in str(err.value) and "question" in str(err.value)


def test_control_characters_and_lone_surrogates_are_removed_with_a_warning(fake_settings):
    gen = FakeGenerator(echo_passage(1))
    engine = Engine(fake_settings, embedder=FakeEmbedder(), generator=gen)
    a = engine.answer("When was the \x00Harbour Point\x07 lighthouse \ud800built?\x1b")
    assert isinstance(a, Answer) and not a.abstained
    assert a.question == "When was the Harbour Point lighthouse built?"
    assert any("4 control characters removed" in w for w in a.warnings)
    assert "\x00" not in gen.prompts[-1] and "\ud800" not in gen.prompts[-1]
    assert "1871" in a.answer


def test_a_terminal_escape_sequence_is_removed_whole(fake_settings):
    gen = FakeGenerator(echo_passage(1))
    engine = Engine(fake_settings, embedder=FakeEmbedder(), generator=gen)
    a = engine.answer("\x1b[1;31mWhen was the Harbour Point lighthouse built?\x1b[0m\x1bc")
    assert a.question == "When was the Harbour Point lighthouse built?"
    assert any("13 control characters removed" in w for w in a.warnings), a.warnings
    assert "1871" in a.answer and "[0m" not in gen.prompts[-1]


def test_the_engine_shows_only_the_passages_that_fit_and_cites_only_those(fake_settings, monkeypatch):
    monkeypatch.setattr(evidence, "FAR_BELOW_BEST", 10.0)     # ten passages, however weak: more than fit
    settings = fake_settings.with_(top_k=10, candidates=10)
    gen = FakeGenerator(echo_passage(1), n_ctx=700)
    engine = Engine(settings, embedder=FakeEmbedder(), generator=gen)
    sources, *_, a = list(engine.stream("Which bread and buns does Rosa's Bakery on Mill Street sell?"))
    assert gen.count_tokens(gen.prompts[-1]) + 1 <= gen.n_ctx - settings.max_answer_tokens
    shown = len(sources.citations)
    assert 0 < shown < 10
    assert any("did not fit" in w for w in a.warnings)
    assert len(prompt_passages(gen.prompts[-1])) == shown
    for c in a.citations:
        assert read_text(settings.seeds_dir / c.source)[c.start:c.end] == c.quote


# --------------------------------------------------------------------------- the real tokenizer and models


@pytest.fixture(scope="module")
def seeds_index(tmp_path_factory):
    index_dir = tmp_path_factory.mktemp("limits-index")
    build_index(Settings.from_env(seeds_dir=SEEDS, index_dir=index_dir))
    return index_dir


@pytest.fixture(scope="module")
def real_engine(seeds_index) -> Engine:
    return Engine(Settings.from_env(seeds_dir=SEEDS, index_dir=seeds_index))


@pytest.mark.integration
def test_fifty_2k_passages_and_a_100k_question_fit_by_the_real_tokenizer():
    settings = Settings.from_env()
    gen = shared_generator(settings)
    question = "What floor price was set for NdPr? " + "Please consider every detail. " * 3400
    for max_answer_tokens in (160, 600):
        fitted = prompts.fit(question, long_passages(50, 2000), gen, max_answer_tokens=max_answer_tokens)
        n = gen.count_tokens(gen.render(fitted.messages))
        assert n == fitted.tokens and n <= prompt_limit(gen, max_answer_tokens), (n, max_answer_tokens)
        assert 0 < len(fitted.passages) < 50
        assert any("did not fit" in w for w in fitted.warnings)
        assert any("tokens long" in w for w in fitted.warnings)


@pytest.mark.integration
def test_top_k_50_end_to_end_stays_within_the_context(seeds_index, monkeypatch):
    # Every sentence of the seed documents is a candidate: together far more than the room left
    # when 1024 tokens are kept for the answer (however weak: none is left out for its score).
    monkeypatch.setattr(evidence, "FAR_BELOW_BEST", 10.0)
    settings = Settings.from_env(seeds_dir=SEEDS, index_dir=seeds_index, top_k=50, candidates=50,
                                 max_answer_tokens=1024, answer_timeout_s=10)
    engine = Engine(settings)
    sources, *_, a = list(engine.stream("What did the parties agree about rare earths and critical minerals?"))
    limit = settings.n_ctx - settings.max_answer_tokens
    assert limit - 200 < a.timings["prompt_tokens"] <= limit     # the room is used, never exceeded
    assert any("did not fit" in w for w in a.warnings), a.warnings
    assert 0 < len(sources.citations) < 50
    for c in [*sources.citations, *a.citations]:
        assert read_text(SEEDS / c.source)[c.start:c.end] == c.quote


@pytest.mark.integration
@pytest.mark.parametrize("question, ok, expected, may_abstain", [
    pytest.param("What floor price was set for NdPr? " + "Please consider every detail. " * 3400, "characters",
                 "110", False, marks=pytest.mark.xfail(strict=False, reason=(
                     "product: shown only the two passages that state the $110 floor, the model writes a sentence "
                     "that repeats the question, and the quote fallback does not take a passage as clearly about "
                     "a question whose first 2,000 characters are mostly 'Please consider every detail': it "
                     "abstains (shown five passages, it quoted the $110 passage)"))),
    # Asked in Chinese (in which city was the US-Japan critical minerals framework signed?): the model
    # may answer in Chinese, which no English passage verifies; then it abstains, never half-answers.
    ("美日关键矿产框架协议是在哪个城市签署的？", None, "Tokyo", True),
    ("What price floor\x00 per kilogram\x07 was set for NdPr?\x1b[0m", "control characters", "110", False),
])
def test_odd_questions_get_a_clear_answer_within_the_context(seeds_index, question, ok, expected, may_abstain):
    # a generous time limit: this is about the context, and a busy machine must not cut the answer
    engine = Engine(Settings.from_env(seeds_dir=SEEDS, index_dir=seeds_index, answer_timeout_s=600))
    a = engine.answer(question)
    s = engine.settings
    assert a.timings["prompt_tokens"] <= s.n_ctx - s.max_answer_tokens
    if ok:
        assert any(ok in w for w in a.warnings), a.warnings
    for c in a.citations:
        assert read_text(SEEDS / c.source)[c.start:c.end] == c.quote
    if a.abstained and may_abstain:
        assert a.answer == ABSTAIN_TEXT
    else:
        assert not a.abstained and expected in a.answer, a.to_dict()
        assert {int(n) for n in re.findall(r"\[(\d+)\]", a.answer)} == {c.n for c in a.citations}


@pytest.mark.integration
@pytest.mark.parametrize("question", ["   ", "?!?! ...", "\x00"])
def test_questions_without_words_are_refused_before_any_work(real_engine, question):
    with pytest.raises(ConfigError):
        real_engine.answer(question)


@pytest.mark.integration
def test_a_tiny_time_limit_stops_the_model_and_the_next_question_is_fine(seeds_index, real_engine):
    question = "Which derivative products of rare earths does the framework name?"
    hurried = Engine(Settings.from_env(seeds_dir=SEEDS, index_dir=seeds_index, answer_timeout_s=0.01))
    a = hurried.answer(question)
    assert any("stopped after 0.01 s" in w for w in a.warnings), a.warnings
    assert a.timings["completion_tokens"] <= 2
    # never the model's half sentence: the passage naming the products is quoted instead
    [c] = a.citations
    assert a.answer == f"The documents say: “{c.quote.strip()}” [1]" and not a.abstained
    assert "magnets" in c.quote and a.draft not in ("", a.answer)
    assert read_text(SEEDS / c.source)[c.start:c.end] == c.quote
    # the model is free again and answers normally
    b = real_engine.answer("What floor price per kilogram did the Department of War set for NdPr?")
    assert not any("stopped" in w for w in b.warnings)
    assert not b.abstained and "110" in b.answer
    assert not shared_generator(real_engine.settings)._lock.locked()
