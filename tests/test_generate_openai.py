"""The OpenAI-compatible generator: against a small stdlib fake server (unit), and against
llama-cpp-python's own OpenAI-compatible server with the real 0.5B model (integration)."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rag.config import REPO_ROOT, Settings
from rag.errors import ConfigError, ModelError
from rag.generate import GenerationStats
from rag.generate_openai import OpenAIGenerator, RenderedChat
from conftest import free_port

MESSAGES = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Name a colour."}]


# --------------------------------------------------------------------------- a fake server

class FakeOpenAI(BaseHTTPRequestHandler):
    """Streams a fixed reply word by word; ``/tokenize`` like vLLM's when ``tokenize`` is on."""
    reply = "Red is a colour."
    tokenize = True
    key = ""
    cut = False                  # end the stream after two pieces, as an interrupted answer does
    requests: list = []

    def log_message(self, *args):
        pass

    def _json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/v1/models":
            return self._json(200, {"data": [{"id": "fake-model"}]})
        self._json(404, {"error": "not found"})

    def do_POST(self):
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append((self.path, payload))
        if self.key and self.headers.get("Authorization") != f"Bearer {self.key}":
            return self._json(401, {"error": "invalid api key"})
        if self.path == "/tokenize" and self.tokenize:
            return self._json(200, {"count": len(payload["prompt"].split()), "tokens": []})
        if self.path not in ("/v1/chat/completions", "/v1/completions"):
            return self._json(404, {"error": "not found"})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        words = self.reply.split(" ")
        for i, w in enumerate(words):
            if self.cut and i == 2:
                return
            piece = w if i == 0 else " " + w
            choice = ({"delta": {"content": piece}} if self.path.endswith("chat/completions") else {"text": piece})
            choice["finish_reason"] = "stop" if i == len(words) - 1 else None
            self.wfile.write(f"data: {json.dumps({'choices': [choice]})}\n\n".encode())
        usage = {"prompt_tokens": 17, "completion_tokens": len(words), "prompt_tokens_details": {"cached_tokens": 9}}
        self.wfile.write(f"data: {json.dumps({'choices': [], 'usage': usage})}\n\ndata: [DONE]\n\n".encode())


@pytest.fixture
def fake_server():
    FakeOpenAI.requests = []
    FakeOpenAI.tokenize, FakeOpenAI.key, FakeOpenAI.cut = True, "", False
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_render_keeps_the_messages_and_is_chatml_text():
    p = OpenAIGenerator("http://127.0.0.1:1").render(MESSAGES)
    assert isinstance(p, str) and isinstance(p, RenderedChat)
    assert p.messages == tuple(MESSAGES)
    assert p.startswith("<|im_start|>system\nAnswer briefly.<|im_end|>\n") and p.endswith("<|im_start|>assistant\n")


def test_stream_sends_the_messages_greedily_and_reports_usage(fake_server):
    gen = OpenAIGenerator(fake_server + "/v1/")
    stats = GenerationStats()
    pieces = list(gen.stream(gen.render(MESSAGES), max_tokens=12, timeout_s=10, stats=stats))
    assert "".join(pieces) == "Red is a colour." and len(pieces) == 4
    path, payload = FakeOpenAI.requests[-1]
    assert path == "/v1/chat/completions"
    assert payload["messages"] == MESSAGES and payload["model"] == "fake-model" and payload["stream"]
    assert payload["temperature"] == 0 and payload["max_tokens"] == 12
    assert (stats.prompt_tokens, stats.cached_tokens, stats.completion_tokens, stats.stopped_by) == (17, 9, 4, "stop")
    assert gen.name == "fake-model"


def test_a_plain_prompt_uses_the_completions_route(fake_server):
    gen = OpenAIGenerator(fake_server, model="m1")
    assert "".join(gen.stream("Once upon", max_tokens=5, timeout_s=10)) == "Red is a colour."
    path, payload = FakeOpenAI.requests[-1]
    assert path == "/v1/completions" and payload["prompt"] == "Once upon" and payload["model"] == "m1"


def test_tokens_are_counted_by_the_server_or_estimated(fake_server):
    gen = OpenAIGenerator(fake_server)
    assert gen.count_tokens("one two three four") == 4 and gen.token_counter == "tokenize"
    FakeOpenAI.tokenize = False
    gen = OpenAIGenerator(fake_server)
    assert gen.count_tokens("x" * 41) == 11 and gen.token_counter == "estimate"


def test_a_rejected_key_is_a_one_line_error(fake_server):
    FakeOpenAI.key = "right"
    gen = OpenAIGenerator(fake_server, model="m", api_key="wrong")
    with pytest.raises(ModelError, match=r"HTTP 401.*RAG_LLM_API_KEY") as err:
        list(gen.stream("hi", max_tokens=3, timeout_s=5))
    assert "\n" not in str(err.value)
    assert "".join(OpenAIGenerator(fake_server, model="m", api_key="right").stream("hi", max_tokens=3, timeout_s=5))


def test_an_answer_cut_off_by_the_server_is_an_error_not_a_short_answer(fake_server):
    FakeOpenAI.cut = True
    gen = OpenAIGenerator(fake_server, model="m")
    with pytest.raises(ModelError, match="ended the answer early") as err:
        list(gen.stream(gen.render(MESSAGES), max_tokens=12, timeout_s=10))
    assert "\n" not in str(err.value)


def test_an_unreachable_server_is_a_one_line_error():
    url = f"http://127.0.0.1:{free_port()}"
    gen = OpenAIGenerator(url, model="m")
    for call in (lambda: list(gen.stream(gen.render(MESSAGES), max_tokens=4, timeout_s=5)), gen.warm_up,
                 lambda: gen.count_tokens("hello")):
        with pytest.raises(ModelError) as err:
            call()
        msg = str(err.value)
        assert "cannot reach the language model server at " + url in msg and "RAG_LLM_URL" in msg
        assert "\n" not in msg


def test_a_server_that_never_answers_times_out_with_a_one_line_error():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)                          # accepts connections, never answers
    try:
        gen = OpenAIGenerator(f"http://127.0.0.1:{silent.getsockname()[1]}", model="m")
        t0 = time.monotonic()
        with pytest.raises(ModelError, match=r"did not answer within 1 s") as err:
            list(gen.stream("hi", max_tokens=4, timeout_s=1))
        assert time.monotonic() - t0 < 10 and "\n" not in str(err.value)
    finally:
        silent.close()


def test_settings_read_the_server_url_from_the_environment(monkeypatch):
    monkeypatch.setenv("RAG_LLM_URL", "http://10.0.0.5:8000/v1")
    monkeypatch.setenv("RAG_LLM_MODEL", "qwen")
    monkeypatch.setenv("RAG_LLM_API_KEY", "k")
    s = Settings.from_env()
    assert (s.llm_url, s.llm_model, s.llm_api_key) == ("http://10.0.0.5:8000/v1", "qwen", "k")
    assert "'k'" not in repr(s)
    monkeypatch.setenv("RAG_LLM_URL", "10.0.0.5:8000")
    with pytest.raises(ConfigError, match="RAG_LLM_URL"):
        Settings.from_env()


def test_the_engine_uses_the_server_when_a_url_is_set(fake_server, tmp_path):
    from rag.pipeline import shared_generator

    gen = shared_generator(Settings(llm_url=fake_server, models_dir=tmp_path / "no-models"))
    assert isinstance(gen, OpenAIGenerator) and gen.base == fake_server + "/v1"


# --------------------------------------------------------------------------- llama-cpp-python's server

MODEL = REPO_ROOT / "models" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
SEEDS = REPO_ROOT / "seeds"


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    """llama-cpp-python's OpenAI-compatible server with the 0.5B model, once for this module."""
    if not MODEL.is_file():
        pytest.fail(f"{MODEL} is missing; run `make chat` or `rag models fetch qwen2.5-coder-0.5b`")
    port = free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(MODEL), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "2048", "--n_threads", "2", "--verbose", "False"],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(url + "/v1/models", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"llama_cpp.server did not start: {log_path.read_text()[-1000:]}")
        time.sleep(0.3)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


@pytest.mark.integration
def test_streams_a_short_answer_and_counts_tokens_with_the_servers_tokenizer(llama_server):
    from llama_cpp import Llama

    gen = OpenAIGenerator(llama_server)
    prompt = gen.render([{"role": "system", "content": "Answer in one full sentence."},
                         {"role": "user", "content": "What colour is the sky on a clear day?"}])
    stats = GenerationStats()
    pieces = list(gen.stream(prompt, max_tokens=24, timeout_s=120, stats=stats))
    text = "".join(pieces)
    assert len(pieces) >= 2 and "blue" in text.lower()
    assert stats.completion_tokens == len(pieces) and stats.prompt_s > 0 and stats.stopped_by in ("stop", "length")
    # the server's count is the model's own tokenizer's count
    vocab = Llama(model_path=str(MODEL), vocab_only=True, verbose=False)
    expected = len(vocab.tokenize(str(prompt).encode(), add_bos=False, special=True))
    assert gen.count_tokens(prompt) == expected and gen.token_counter == "llama-cpp-python"
    assert stats.prompt_tokens == expected


@pytest.mark.integration
def test_a_full_answer_through_the_server_has_verified_citations(llama_server, tmp_path):
    import rag
    from rag.documents import read_text

    a = rag.answer("What floor price per kilogram did the Department of War set for NdPr?",
                   seeds_dir=SEEDS, index_dir=tmp_path / "index", llm_url=llama_server)
    assert not a.abstained, a.to_dict()
    assert "110" in a.answer and "[1]" in a.answer
    assert a.model.endswith("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")
    assert a.citations and "110" in " ".join(c.quote for c in a.citations)
    for c in a.citations:
        assert read_text(SEEDS / c.source)[c.start:c.end] == c.quote
    assert a.timings["completion_tokens"] > 0 and a.timings["prompt_tokens"] > 100
