"""The chat window (ui/): rendering, the chat event with a scripted engine, and the real app over HTTP.

The integration tests start the app in-process on 127.0.0.1 with the real models and call its
``/ask`` endpoint with gradio_client, as any API user would.
"""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from rag.answer import Answer, Citation, Sources
from rag.config import Settings
from rag.documents import read_text
from rag.errors import BusyError, ConfigError
from ui import render
from ui.app import LLM, QUEUE_SIZE, UNEXPECTED, ChatHandlers, build_app, parse_auth, serve

QUESTION = "What price floor per kilogram was set for NdPr?"

DOC = ("The Harbour Point lighthouse was built in 1871 by the engineer Margaret Olsen. "
       "Its lamp can be seen from 22 nautical miles away on a clear night. "
       "The tower is 31 metres tall.\n\n\n\nKeepers lived in the cottage beside the tower.")
QUOTE = "Its lamp can be seen from 22 nautical miles away on a clear night."


def citation(source: str = "lighthouse.txt", quote: str = QUOTE, text: str = DOC, n: int = 1) -> Citation:
    start = text.index(quote)
    return Citation(n=n, source=source, chunk_id="c1", start=start, end=start + len(quote), quote=quote,
                    score=0.83)


@pytest.fixture
def seeds(tmp_path) -> Path:
    root = tmp_path / "seeds"
    root.mkdir()
    (root / "lighthouse.txt").write_text(DOC, encoding="utf-8")
    return root


# --------------------------------------------------------------------------- rendering


def test_escaping_leaves_no_markup_or_template_syntax():
    out = render.esc('<img src="http://x/a.png" onerror=alert(1)> ${alert(2)} {{ 7*7 }} `x` & \'q\'')
    for raw in ("<", ">", '"', "'", "$", "{", "}", "`"):
        assert raw not in out
    assert "&lt;img" in out and "&amp;" in out


def test_context_is_the_quote_in_its_surrounding_text(seeds):
    before, quote, after = render.passage_context(seeds, citation())
    assert quote == QUOTE
    assert before.endswith("Margaret Olsen. ") and after.startswith(" The tower")
    assert "\n\n\n" not in after                      # runs of blank lines shown as one break

    long_doc = "word " * 200 + QUOTE + " word" * 200
    (seeds / "long.txt").write_text(long_doc, encoding="utf-8")
    before, quote, after = render.passage_context(seeds, citation("long.txt", text=long_doc), width=50)
    assert before.startswith("…") and after.endswith("…")
    assert before[1:].startswith("word") and after[:-1].rstrip().endswith("word")   # cut between words
    assert len(before) < 60 and len(after) < 60


def test_card_escapes_the_document_and_highlights_the_quote(seeds):
    evil = 'Intro <script>alert(1)</script> ![x](http://198.51.100.1/x.png) ' + QUOTE
    (seeds / "evil.md").write_text(evil, encoding="utf-8")
    c = citation("evil.md", text=evil)
    c.page = 4
    c.also = [{"source": "copy of evil.md", "start": 0, "end": 5}]
    card = render.citation_card(c, seeds)
    assert "<script>" not in card and "&lt;script&gt;" in card
    assert f"<mark>{render.esc(QUOTE)}</mark>" in card
    assert "evil.md" in card and "page 4" in card and "score 0.83" in card and "copy of evil.md" in card


@pytest.mark.parametrize("change", ["deleted", "edited", "outside"])
def test_card_falls_back_to_the_quote_when_the_file_does_not_hold_it(seeds, change):
    c = citation()
    if change == "deleted":
        (seeds / "lighthouse.txt").unlink()
    elif change == "edited":
        (seeds / "lighthouse.txt").write_text("Rewritten. " + DOC, encoding="utf-8")
    else:
        (seeds.parent / "secret.txt").write_text(DOC, encoding="utf-8")
        c.source = "../secret.txt"
    assert render.passage_context(seeds, c) is None
    card = render.citation_card(c, seeds)
    assert f"<mark>{render.esc(QUOTE)}</mark>" in card and "changed or is gone" in card


def test_answer_and_abstention_look_different(seeds):
    answered = Answer("q", "The lamp is seen from 22 miles [1].", False, [citation()],
                      {"total_s": 3.21}, ["1 unsupported sentence(s) removed from the answer"], model="m")
    html = render.answer_message(answered)
    assert 'class="rag-answer"' in html and '<span class="rag-cite">[1]</span>' in html
    assert "3.2 s" in html and "rag-warnings" in html and "1 unsupported" in html

    abstained = Answer("q", "The documents do not answer this question.", True, [citation()], {})
    html = render.answer_message(abstained)
    assert 'class="rag-abstain"' in html and "rag-answer" not in html
    assert "closest passages" in html

    panel = render.sources_panel([citation()], render.CLOSEST, "q", seeds)
    assert "Closest passages" in panel and "none of them answers" in panel and ">Sources<" not in panel
    assert ">Sources<" in render.sources_panel([citation()], render.CITED, "q", seeds)


# --------------------------------------------------------------------------- the chat event


class ScriptedEngine:
    """Stands in for rag.pipeline.Engine: yields the given events, or raises."""

    def __init__(self, *events):
        self.events = events

    def stream(self, question):
        if not " ".join(question.split()):
            raise ConfigError("the question is empty; ask something about the documents")
        for event in self.events:
            if isinstance(event, Exception):
                raise event
            yield event

    def answer(self, question):
        return [e for e in self.stream(question)][-1]


def run_chat(seeds, *events, question=QUESTION):
    handlers = ChatHandlers(Settings(seeds_dir=seeds), engine=ScriptedEngine(*events))
    return list(handlers.respond(question, []))


def is_skip(value) -> bool:
    return isinstance(value, dict) and value.get("__type__") == "update" and len(value) == 1


def test_chat_shows_sources_before_the_first_token_then_the_verified_answer(seeds):
    c = citation()
    final = Answer(QUESTION, "It is seen from 22 miles [1].", False, [c], {"total_s": 1.0})
    steps = run_chat(seeds, Sources(QUESTION, [c], 0.1), "It is", " seen", final)

    box, chat, panel = steps[0]
    assert box == "" and chat[0]["role"] == "user" and "Searching" in chat[-1]["content"]
    assert is_skip(panel)

    panel_at = next(i for i, s in enumerate(steps) if not is_skip(s[2]))
    draft_at = next(i for i, s in enumerate(steps) if "rag-draft" in s[1][-1]["content"])
    assert panel_at < draft_at
    assert "Passages found" in steps[panel_at][2] and "<mark>" in steps[panel_at][2]
    assert "It is seen" in steps[draft_at + 1][1][-1]["content"]

    _, chat, panel = steps[-1]
    assert len(chat) == 2 and "rag-answer" in chat[-1]["content"] and "rag-draft" not in chat[-1]["content"]
    assert ">Sources<" in panel


def test_chat_shows_an_abstention_with_closest_passages(seeds):
    c = citation()
    final = Answer(QUESTION, "The documents do not answer this question.", True, [c], {})
    _, chat, panel = run_chat(seeds, Sources(QUESTION, [c], 0.1), "NOT FOUND", final)[-1]
    assert "rag-abstain" in chat[-1]["content"] and "Closest passages" in panel


def test_library_errors_become_a_chat_message(seeds):
    steps = run_chat(seeds, BusyError("the model is busy with other questions; try again in a moment"))
    _, chat, panel = steps[-1]
    assert "rag-error" in chat[-1]["content"] and "The model is busy" in chat[-1]["content"]

    steps = run_chat(seeds, question="   ")
    _, chat, _ = steps[-1]
    assert len(chat) == 1 and "The question is empty" in chat[0]["content"]


def test_unexpected_errors_show_no_traceback(seeds):
    _, chat, _ = run_chat(seeds, RuntimeError("llama_decode returned -3 at /src/llama.cpp:1234"))[-1]
    assert render.esc(UNEXPECTED) in chat[-1]["content"] and "llama_decode" not in chat[-1]["content"]


def test_auth_is_user_colon_password():
    assert parse_auth(None) is None and parse_auth("") is None
    assert parse_auth("ann:s3:cret") == ("ann", "s3:cret")
    for bad in ("ann", ":pw", "ann:"):
        with pytest.raises(ConfigError):
            parse_auth(bad)


def test_every_engine_call_shares_one_bounded_queue_slot(seeds):
    demo = build_app(Settings(seeds_dir=seeds), engine=ScriptedEngine())
    assert demo._queue.max_size == QUEUE_SIZE and demo._queue.default_concurrency_limit == 1
    using_engine = {fn.name: fn for fn in demo.fns.values() if fn.concurrency_id == LLM}
    assert {"respond", "ask", "rebuild"} <= set(using_engine)
    assert all(fn.concurrency_limit in ("default", 1) for fn in using_engine.values())
    public = {fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"}
    assert public == {"ask"}


# --------------------------------------------------------------------------- the real app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The real app (default corpus and models, a fresh index of its own) served on 127.0.0.1."""
    settings = Settings(index_dir=tmp_path_factory.mktemp("ui") / "index")
    port = free_port()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        demo = serve(settings, host="127.0.0.1", port=port, prevent_thread_lock=True)
        try:
            from gradio_client import Client

            yield settings, Client(f"http://127.0.0.1:{port}/", verbose=False)
        finally:
            demo.close()


@pytest.mark.integration
def test_ask_endpoint_returns_the_verified_answer(app):
    settings, client = app
    result = client.predict(QUESTION, api_name="/ask")
    assert result["question"] == QUESTION
    assert not result["abstained"] and "110" in result["answer"]
    assert result["citations"]
    for c in result["citations"]:
        assert read_text(settings.seeds_dir / c["source"])[c["start"]:c["end"]] == c["quote"]
    assert result["index_version"] and result["timings"]["total_s"] > 0


@pytest.mark.integration
def test_ask_endpoint_rejects_an_empty_question_clearly(app):
    from gradio_client.exceptions import AppError

    _, client = app
    with pytest.raises(AppError) as err:
        client.predict("  ", api_name="/ask")
    message = str(err.value)
    assert "question is empty" in message
    assert "Traceback" not in message and "File " not in message
