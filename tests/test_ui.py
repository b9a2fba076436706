"""The chat window (ui/): rendering, the chat event with a scripted engine, and the real app over HTTP.

The integration tests start the app in-process on 127.0.0.1 with the real models and call its
``/ask`` endpoint with gradio_client, as any API user would.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.answer import Answer, Citation, Sources
from rag.config import Settings
from rag.documents import read_text
from rag.errors import BusyError, ConfigError
from ui import render
from ui.app import LLM, QUEUE_SIZE, UNEXPECTED, ChatHandlers, build_app, parse_auth
from conftest import serve_local

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
        self.histories = []
        self.scopes = []

    def stream(self, question, history=None, sources=None):
        self.histories.append(list(history or []))
        self.scopes.append(sources)
        if not " ".join(question.split()):
            raise ConfigError("the question is empty; ask something about the documents")
        for event in self.events:
            if isinstance(event, Exception):
                raise event
            yield event

    def answer(self, question, history=None):
        return [e for e in self.stream(question, history)][-1]


def run_chat(seeds, *events, question=QUESTION):
    handlers = ChatHandlers(Settings(seeds_dir=seeds), engine=ScriptedEngine(*events))
    return list(handlers.respond(question, []))


def is_skip(value) -> bool:
    return isinstance(value, dict) and value.get("__type__") == "update" and len(value) == 1


def test_chat_shows_sources_before_the_first_token_then_the_verified_answer(seeds):
    c = citation()
    final = Answer(QUESTION, "It is seen from 22 miles [1].", False, [c], {"total_s": 1.0})
    steps = run_chat(seeds, Sources(QUESTION, [c], 0.1), "It is", " seen", final)

    box, chat, panel, _turns, _export = steps[0]
    assert box == "" and chat[0]["role"] == "user" and "Searching" in chat[-1]["content"]
    assert is_skip(panel)

    panel_at = next(i for i, s in enumerate(steps) if not is_skip(s[2]))
    draft_at = next(i for i, s in enumerate(steps) if "rag-draft" in s[1][-1]["content"])
    assert panel_at < draft_at
    assert "Passages found" in steps[panel_at][2] and "<mark>" in steps[panel_at][2]
    assert "It is seen" in steps[draft_at + 1][1][-1]["content"]

    _, chat, panel, turns, _export = steps[-1]
    assert len(chat) == 2 and "rag-answer" in chat[-1]["content"] and "rag-draft" not in chat[-1]["content"]
    assert ">Sources<" in panel
    # the [1] of the answer links to the card of source 1 of this answer
    assert f'href="#{render.card_id(1, 1)}"' in chat[-1]["content"] and f'id="{render.card_id(1, 1)}"' in panel
    assert turns == [final.to_dict()]


def test_chat_shows_an_abstention_with_closest_passages(seeds):
    c = citation()
    final = Answer(QUESTION, "The documents do not answer this question.", True, [c], {})
    _, chat, panel, _, _ = run_chat(seeds, Sources(QUESTION, [c], 0.1), "NOT FOUND", final)[-1]
    assert "rag-abstain" in chat[-1]["content"] and "Closest passages" in panel


def test_library_errors_become_a_chat_message(seeds):
    steps = run_chat(seeds, BusyError("the model is busy with other questions; try again in a moment"))
    _, chat, panel, _, _ = steps[-1]
    assert "rag-error" in chat[-1]["content"] and "The model is busy" in chat[-1]["content"]

    steps = run_chat(seeds, question="   ")
    _, chat, _, _, _ = steps[-1]
    assert len(chat) == 1 and "The question is empty" in chat[0]["content"]


def test_unexpected_errors_show_no_traceback(seeds):
    _, chat, _, _, _ = run_chat(seeds, RuntimeError("llama_decode returned -3 at /src/llama.cpp:1234"))[-1]
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
    assert {"respond", "ask", "rebuild", "add_documents", "delete_document"} <= set(using_engine)
    assert all(fn.concurrency_limit in ("default", 1) for fn in using_engine.values())
    public = {fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"}
    assert public == {"ask", "status"}


# --------------------------------------------------------------------------- the real app



@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The real app (default corpus and models, a fresh index of its own) served on 127.0.0.1."""
    settings = Settings(index_dir=tmp_path_factory.mktemp("ui") / "index")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        demo, url = serve_local(settings)
        try:
            from gradio_client import Client

            yield settings, Client(f"{url}/", verbose=False)
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


# --------------------------------------------------------------------------- conversation, export, settings


def test_follow_up_questions_pass_the_conversation_to_the_engine(seeds):
    c = citation()
    first = Answer(QUESTION, "It is seen from 22 miles [1].", False, [c], {})
    engine = ScriptedEngine(Sources(QUESTION, [c], 0.1), first)
    handlers = ChatHandlers(Settings(seeds_dir=seeds), engine=engine)
    *_, (_, chat, _, turns, _) = handlers.respond(QUESTION, [], [])
    *_, (_, chat, panel, turns, export) = handlers.respond("And how tall is it?", chat, turns)
    assert engine.histories == [[], [first.to_dict()]]
    assert len(chat) == 4 and len(turns) == 2
    # the second answer's links and cards are its own (turn 2), so they never collide with the first's
    assert f'href="#{render.card_id(2, 1)}"' in chat[-1]["content"] and f'id="{render.card_id(2, 1)}"' in panel

    cleared = handlers.new_chat()
    assert cleared[0] == [] and cleared[2] == [] and "rag-empty" in cleared[1]


def test_the_document_picker_scopes_the_question(seeds):
    c = citation()
    engine = ScriptedEngine(Sources(QUESTION, [c], 0.1), Answer(QUESTION, "It is seen from 22 miles [1].", False, [c], {}))
    handlers = ChatHandlers(Settings(seeds_dir=seeds), engine=engine)
    list(handlers.respond(QUESTION, [], [], None, None, False, ["lighthouse.txt", "notes/*"]))
    list(handlers.respond(QUESTION, [], [], None, None, False, []))
    assert engine.scopes == [["lighthouse.txt", "notes/*"], None]
    assert handlers.document_choices().choices == [("lighthouse.txt", "lighthouse.txt")]


def test_a_scope_that_matches_nothing_is_a_chat_message(corpus, tmp_path):
    from rag.pipeline import Engine
    from conftest import FakeEmbedder, FakeGenerator

    settings = Settings(seeds_dir=corpus, index_dir=tmp_path / "index", chunk_tokens=40, chunk_overlap_tokens=8)
    handlers = ChatHandlers(settings, engine=Engine(settings, embedder=FakeEmbedder(), generator=FakeGenerator()))
    *_, (_, chat, *_rest) = handlers.respond(QUESTION, [], [], None, None, False, ["reports/*.pdf"])
    assert "rag-error" in chat[-1]["content"] and "matches none" in chat[-1]["content"]


def test_export_is_markdown_with_the_quotes_and_nothing_that_renders_as_html(seeds):
    c = citation()
    c.page = 3
    turns = [Answer(QUESTION, "It is seen from 22 miles [1].", False, [c], {}).to_dict(),
             Answer("Who <b>owns</b> it? ![x](http://example.com/a.png)", "The documents do not answer this question.",
                    True, [], {}).to_dict()]
    handlers = ChatHandlers(Settings(seeds_dir=seeds), engine=ScriptedEngine())
    path = Path(handlers.export(turns))
    md = path.read_text(encoding="utf-8")
    assert path.suffix == ".md" and not path.is_relative_to(seeds)
    assert f"## 1. {QUESTION}" in md and "It is seen from 22 miles [1]." in md
    assert f"> {QUOTE}" in md and "`lighthouse.txt`, page 3" in md and "score 0.83" in md
    assert "<b>" not in md and "![x](" not in md and "*The documents do not answer this question.*" in md
    assert handlers.export([]) is None


def test_a_model_that_is_not_downloaded_says_how_to_fetch_it(tmp_path, seeds):
    handlers = ChatHandlers(Settings(seeds_dir=seeds, models_dir=tmp_path / "no-models"), engine=ScriptedEngine())
    note = handlers.check_model("1.5b")
    assert "rag-error" in note and "rag models fetch qwen2.5-coder-1.5b" in note
    note = handlers.check_model(str(tmp_path / "missing.gguf"))
    assert "rag-error" in note and "does not exist" in note
    assert "Unknown model" in handlers.check_model("gpt-17")
    # the chosen model and number of passages make the engine's settings
    opts = handlers.options("qwen2.5-coder-1.5b", 6)
    assert opts.model == "qwen2.5-coder-1.5b" and opts.top_k == 6 and opts.seeds_dir == seeds


def test_details_show_the_expanded_search_and_timings(seeds):
    a = Answer("How tall is it?", "It is 31 metres tall [1].", False, [citation()],
               {"retrieve_s": 0.02, "first_token_s": 0.5, "total_s": 1.25}, index_version="v-1")
    a.retrieval_query = "How tall is it? tall lighthouse Harbour Point"
    plain = render.answer_message(a, turn=1)
    assert "rag-details" not in plain
    detailed = render.answer_message(a, turn=1, details=True)
    assert "Searched for" in detailed and "lighthouse Harbour Point" in detailed and "total 1.25 s" in detailed
    panel = render.sources_panel(a.citations, render.CITED, a.question, seeds, turn=1,
                                 retrieval_query=a.retrieval_query)
    assert "searched with the conversation" in panel


# --------------------------------------------------------------------------- documents from the window

from ui import corpus  # noqa: E402


def upload(tmp_path, name: str, data: bytes) -> Path:
    """A file as Gradio hands an upload over: somewhere in its own temporary folder."""
    folder = tmp_path / "upload-cache"
    folder.mkdir(exist_ok=True)
    path = folder / "upload.bin"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name, expected", [
    ("report.PDF", "report.pdf"),
    ("../../etc/passwd.txt", "passwd.txt"),
    ("..\\..\\windows\\win.ini.md", "win.ini.md"),
    ("/abs/path/notes.md", "notes.md"),
    (".hidden.txt", "hidden.txt"),
    ("a<b>|c;rm -rf $HOME.txt", "a_b__c_rm -rf _HOME.txt"),
    ("con.txt", "con_.txt"),
    ("x" * 300 + ".txt", "x" * 116 + ".txt"),
])
def test_upload_names_are_reduced_to_a_plain_file_name(name, expected):
    assert corpus.safe_name(name) == expected


@pytest.mark.parametrize("name, data, reason", [
    ("tool.exe", b"MZ\x90\x00", "file type is not supported"),
    ("notes", b"hello there", "file type is not supported"),
    ("empty.txt", b"", "empty"),
    ("blank.md", b"   \n\n  ", "no text"),
    ("binary.txt", b"\x00\x01\x02" * 100, "binary"),
    ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "cannot be read as .pdf"),
    ("broken.docx", b"PK\x03\x04 not a zip", "cannot be read as .docx"),
    ("big.txt", b"word " * 300, "too large"),
])
def test_a_bad_upload_is_refused_with_a_reason_and_changes_nothing(tmp_path, seeds, name, data, reason):
    before = sorted(p.name for p in seeds.iterdir())
    with pytest.raises(corpus.UploadRejected) as err:
        corpus.add_document(seeds, upload(tmp_path, name, data), name, max_bytes=1000)
    assert reason in str(err.value) and "\n" not in str(err.value)
    assert sorted(p.name for p in seeds.iterdir()) == before


def test_an_upload_never_replaces_a_document_silently(tmp_path, seeds):
    same = corpus.add_document(seeds, upload(tmp_path, "x", DOC.encode()), "lighthouse.txt")
    assert same.name == "lighthouse.txt" and "already" in same.note
    other = corpus.add_document(seeds, upload(tmp_path, "x", b"A different text about ships."), "lighthouse.txt")
    assert other.name == "lighthouse (2).txt" and "different file" in other.note
    assert (seeds / "lighthouse.txt").read_text(encoding="utf-8") == DOC
    tricky = corpus.add_document(seeds, upload(tmp_path, "x", b"Escaping the folder."), "../../outside.txt")
    assert tricky.name == "outside.txt" and (seeds / "outside.txt").is_file()
    assert not (seeds.parent / "outside.txt").exists()


def test_delete_only_removes_a_listed_document(tmp_path, seeds):
    (seeds.parent / "secret.txt").write_text("keep me", encoding="utf-8")
    for bad in ("../secret.txt", "/etc/passwd", "", "nothing.txt"):
        with pytest.raises(corpus.UploadRejected):
            corpus.delete_document(seeds, bad)
    assert (seeds.parent / "secret.txt").exists()
    assert corpus.delete_document(seeds, "lighthouse.txt") == "deleted lighthouse.txt"
    assert not (seeds / "lighthouse.txt").exists() and corpus.documents(seeds) == []


def test_bad_uploads_in_the_window_get_a_message_and_no_rebuild(tmp_path, seeds):
    class NoIndexing(ChatHandlers):
        def _rebuild(self, progress):
            raise AssertionError("nothing to index")

    handlers = NoIndexing(Settings(seeds_dir=seeds, index_dir=tmp_path / "index"), engine=ScriptedEngine())
    bad = upload(tmp_path, "evil.sh", b"#!/bin/sh")
    notice, status, docs, _choices, cleared = handlers.add_documents([str(bad)], progress=lambda *a, **k: None)
    assert "rag-error" in notice and "file type is not supported" in notice and cleared is None
    assert "lighthouse.txt" in docs and "Documents" in status


# --------------------------------------------------------------------------- the served app (scripted engine)

import httpx  # noqa: E402


class SlowEngine(ScriptedEngine):
    """Answers only when released, so requests pile up in the queue."""

    def __init__(self, *events):
        super().__init__(*events)
        import threading

        self.release = threading.Event()

    def stream(self, question, history=None):
        self.release.wait(20)
        yield from super().stream(question, history)


# What a one-document index's manifest says about itself (the parts the status reads).
MANIFEST = {"counts": {"files": 1, "chunks": 3}, "built_at": "2026-11-22T00:12:05+0000",
            "embedding": {"model": "all-MiniLM-L6-v2"}, "skipped": [["notes.bin", "binary file"]]}


def serve_fake(tmp_path, engine, **kw):
    root = tmp_path / "seeds"
    if not root.exists():
        root.mkdir()
        (root / "lighthouse.txt").write_text(DOC, encoding="utf-8")
    settings = Settings(seeds_dir=root, index_dir=tmp_path / "index", models_dir=tmp_path / "models")
    (tmp_path / "index" / "v-1").mkdir(parents=True, exist_ok=True)
    (tmp_path / "index" / "v-1" / "manifest.json").write_text(json.dumps(MANIFEST), encoding="utf-8")
    (tmp_path / "index" / "CURRENT").write_text('{"version": "v-1"}', encoding="utf-8")
    (tmp_path / "models").mkdir(exist_ok=True)
    (tmp_path / "models" / "model.gguf").write_bytes(b"GGUF secret weights")
    demo, url = serve_local(settings, engine=engine, **kw)
    return settings, demo, url


def test_files_outside_gradios_own_cache_cannot_be_downloaded(tmp_path):
    final = Answer(QUESTION, "It is seen from 22 miles [1].", False, [citation()], {})
    settings, demo, url = serve_fake(tmp_path, ScriptedEngine(final))
    try:
        targets = ["/etc/passwd", "../../../../../../etc/passwd", "..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
                   "%2Fetc%2Fpasswd", "%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/proc/self/environ",
                   str(settings.models_dir / "model.gguf"), str(settings.index_dir / "CURRENT"),
                   str(settings.seeds_dir / "lighthouse.txt"),
                   str(settings.seeds_dir / ".." / "index" / "CURRENT"),
                   str(settings.models_dir / "model.gguf").replace("/", "%2F")]
        with httpx.Client(timeout=10) as client:
            for t in targets:
                for prefix in ("/gradio_api/file=", "/file=", "/gradio_api/file/"):
                    r = client.get(url + prefix + t)
                    assert r.status_code in (400, 403, 404, 405), (prefix + t, r.status_code)
                    assert b"root:" not in r.content and b"GGUF" not in r.content
                    assert b"nautical miles" not in r.content and b'"version"' not in r.content
    finally:
        demo.close()


def test_api_endpoints_answer_and_report_the_index(tmp_path):
    from gradio_client import Client

    c = citation()
    final = Answer(QUESTION, "It is seen from 22 miles [1].", False, [c], {"total_s": 0.1})
    engine = ScriptedEngine(Sources(QUESTION, [c], 0.1), "It is", final)
    settings, demo, url = serve_fake(tmp_path, engine)
    try:
        client = Client(url + "/", verbose=False)
        result = client.predict(QUESTION, api_name="/ask")
        assert result["answer"] == final.answer and result["citations"][0]["quote"] == QUOTE
        client.predict("How far?", [result], api_name="/ask")
        assert engine.histories[-1] == [result]
        status = client.predict(api_name="/status")
        assert status == {"documents": 1, "chunks": 3, "built_at": "2026-11-22T00:12:05+0000", "version": "v-1",
                          "embedding_model": "all-MiniLM-L6-v2", "llm": settings.model,
                          "seeds_dir": str(settings.seeds_dir), "skipped": 1}
    finally:
        demo.close()


def test_login_is_required_when_auth_is_set(tmp_path):
    from gradio_client import Client

    final = Answer(QUESTION, "It is seen from 22 miles [1].", False, [citation()], {})
    _, demo, url = serve_fake(tmp_path, ScriptedEngine(final), auth="ann:s3cret")
    try:
        with httpx.Client(timeout=10) as http:
            assert http.get(url + "/config").status_code == 401
            assert "Ask your documents" not in http.get(url + "/").text
            bad = http.post(url + "/login", data={"username": "ann", "password": "wrong"})
            assert bad.status_code == 400 and "Incorrect credentials" in bad.text
            assert http.get(url + "/config").status_code == 401
            good = http.post(url + "/login", data={"username": "ann", "password": "s3cret"})
            assert good.status_code == 200 and good.json() == {"success": True}
            config = http.get(url + "/config")
            assert config.status_code == 200 and "Ask your documents" in config.text
        with pytest.raises(Exception):
            Client(url + "/", verbose=False)
        client = Client(url + "/", auth=("ann", "s3cret"), verbose=False)
        assert client.predict(QUESTION, api_name="/ask")["answer"] == final.answer
    finally:
        demo.close()


def test_a_full_queue_is_refused_with_a_busy_message(tmp_path):
    from gradio_client import Client

    final = Answer(QUESTION, "It is seen from 22 miles [1].", False, [citation()], {})
    engine = SlowEngine(final)
    _, demo, url = serve_fake(tmp_path, engine, queue_size=1)
    try:
        client = Client(url + "/", verbose=False)
        running = client.submit(QUESTION, api_name="/ask")
        import time

        deadline = time.monotonic() + 10
        while not engine.histories and time.monotonic() < deadline:   # the first one is being answered
            time.sleep(0.05)
        waiting = client.submit(QUESTION, api_name="/ask")             # the one place in the queue
        time.sleep(0.5)
        refused = client.submit(QUESTION, api_name="/ask")
        with pytest.raises(Exception) as err:
            refused.result(timeout=10)
        assert "queue is full" in str(err.value).lower()
        engine.release.set()
        assert running.result(timeout=20)["answer"] == final.answer
        assert waiting.result(timeout=20)["answer"] == final.answer
    finally:
        engine.release.set()
        demo.close()


def test_earlier_answers_keep_their_source_cards_folded_in_the_panel(seeds):
    c = citation()
    first = Answer(QUESTION, "It is seen from 22 miles [1].", False, [c], {})
    handlers = ChatHandlers(Settings(seeds_dir=seeds), engine=ScriptedEngine(Sources(QUESTION, [c], 0.1), first))
    *_, (_, chat, _, turns, _) = handlers.respond(QUESTION, [], [])
    *_, (_, chat, panel, turns, _) = handlers.respond("And then?", chat, turns)
    current, earlier = panel.split("Earlier answers")
    assert f'id="{render.card_id(2, 1)}"' in current
    assert "<details" in earlier and f'id="{render.card_id(1, 1)}"' in earlier and f"<mark>{render.esc(QUOTE)}</mark>" in earlier
    assert f'href="#{render.card_id(1, 1)}"' in chat[1]["content"]
