"""Shared fixtures and small, real fakes of the two model seams (embedder and generator).

The fakes are deterministic and cheap, so the unit suite never loads a model:

* ``FakeEmbedder`` hashes lowercased word stems into 64 dimensions (texts that share words are
  similar) and counts tokens roughly like WordPiece: one per punctuation mark, one per started
  six letters of a word. It records every text it embeds in ``embedded``.
* ``FakeGenerator`` renders chat messages as plain ChatML and streams a scripted reply, which is a
  fixed string or a function of the rendered prompt, word by word (optionally slowly); like the real
  one it stops at ``max_tokens`` or ``timeout_s`` and says which.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import zlib
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import pytest

from rag.chunk import split_sentences
from rag.generate import GenerationStats

# --------------------------------------------------------------------------- environment


@pytest.fixture(autouse=True)
def _offline_env(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("RAG_OCR_CACHE", str(tmp_path / "ocr-cache"))
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    for var in ("RAG_SEEDS_DIR", "RAG_INDEX_DIR", "RAG_MODELS_DIR", "RAG_MODEL", "RAG_THREADS", "RAG_TOP_K",
                "RAG_VECTOR_STORE", "RAG_MILVUS_URI", "RAG_MILVUS_TOKEN", "RAG_LLM_URL", "RAG_LLM_API_KEY",
                "RAG_LLM_MODEL", "RAG_EMBED_BACKEND", "RAG_MODEL_VARIANT"):
        monkeypatch.delenv(var, raising=False)


# --------------------------------------------------------------------------- fake embedder

_TOKEN = re.compile(r"\w+|[^\w\s]")
_WORDS = re.compile(r"\w+")


def known_wrong(rows: list[dict], wrong: dict[str, str]) -> list:
    """Question rows as test parameters, those the product gets wrong today marked as expected failures
    (not strict: drafts differ by CPU build), each with what goes wrong."""
    return [pytest.param(r, marks=pytest.mark.xfail(strict=False, reason=wrong[r["id"]])) if r["id"] in wrong else r
            for r in rows]


def fake_count(text: str) -> int:
    """Roughly what a WordPiece tokenizer does: words split into ~6-letter pieces, punctuation alone."""
    n = 0
    for tok in _TOKEN.findall(text):
        n += -(-len(tok) // 6) if tok[0].isalnum() or tok[0] == "_" else 1
    return n


def _stem(word: str) -> str:
    w = word.lower()
    for suffix in ("ing", "ed", "es", "s"):
        if len(w) > len(suffix) + 2 and w.endswith(suffix):
            return w[: -len(suffix)]
    return w


def fake_vector(text: str, dim: int = 64) -> np.ndarray:
    """The FakeEmbedder's vector for ``text``, without recording anything (for checks)."""
    v = np.zeros(dim, dtype=np.float32)
    for word in _WORDS.findall(text):
        h = zlib.crc32(_stem(word).encode("utf-8"))
        v[h % dim] += 1.0 if (h >> 16) & 1 else -1.0
    if not v.any():
        v[0] = 1.0
    return v / np.linalg.norm(v)


class FakeEmbedder:
    def __init__(self, name: str = "fake-embedder", dim: int = 64):
        self.name = name
        self.dim = dim
        self.embedded: list[str] = []

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([fake_vector(t, self.dim) for t in texts]).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return fake_vector(text, self.dim)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [fake_count(t) for t in texts]


# --------------------------------------------------------------------------- fake generator

_PASSAGE_LINE = re.compile(r"^\[(\d+)\] (.*)$", re.M)


def prompt_passages(prompt: str) -> dict[int, str]:
    """The numbered passages of the question (the last <passages> block of the prompt)."""
    block = prompt.rsplit("<passages>", 1)[-1].split("</passages>", 1)[0]
    return {int(n): text for n, text in _PASSAGE_LINE.findall(block)}


def echo_passage(n: int = 1) -> Callable[[str], str]:
    """A reply that repeats passage ``n`` of the prompt and cites it."""
    def reply(prompt: str) -> str:
        text = prompt_passages(prompt)[n].rstrip(".")
        return f"{text} [{n}]."
    return reply


def echo_sentence_with(*words: str) -> Callable[[str], str]:
    """A reply that repeats the first sentence of the prompt's passages holding one of ``words`` and
    cites its passage: a model that answers with the sentence that says it."""
    def reply(prompt: str) -> str:
        for n, text in sorted(prompt_passages(prompt).items()):
            for sentence in (text[a:b] for a, b in split_sentences(text)):
                if any(w in sentence for w in words):
                    return f"{sentence.rstrip('.')} [{n}]."
        raise AssertionError(f"no passage of the prompt holds {words}")
    return reply


def cite_passage_with(word: str, sentence: str) -> Callable[[str], str]:
    """A reply that writes ``sentence`` and cites the first passage of the prompt containing ``word``."""
    def reply(prompt: str) -> str:
        n = next(n for n, text in prompt_passages(prompt).items() if word in text)
        return f"{sentence.rstrip('.')} [{n}]."
    return reply


class FakeGenerator:
    """``seconds_per_piece``: how long each piece takes to write. Like the real generator, it stops
    after ``max_tokens`` pieces or once ``timeout_s`` has passed (checked after every piece), and
    says which in ``stats.stopped_by``."""

    def __init__(self, reply: str | Callable[[str], str] = "NOT FOUND", *, name: str = "fake-llm",
                 n_ctx: int = 2048, seconds_per_piece: float = 0.0):
        self.reply = reply
        self.name = name
        self.n_ctx = n_ctx
        self.seconds_per_piece = seconds_per_piece
        self.prompts: list[str] = []

    def count_tokens(self, text: str) -> int:
        return fake_count(text)

    def render(self, messages: Sequence[dict]) -> str:
        parts = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages]
        return "".join(parts) + "<|im_start|>assistant\n"

    def stream(self, prompt: str, *, max_tokens: int, timeout_s: float,
               stats: GenerationStats | None = None) -> Iterator[str]:
        self.prompts.append(prompt)
        text = self.reply(prompt) if callable(self.reply) else self.reply
        pieces = re.findall(r"\S+\s*|\s+", text)
        stats = stats if stats is not None else GenerationStats()
        stats.prompt_tokens = self.count_tokens(prompt)
        stats.stopped_by = "stop"
        t0 = time.monotonic()
        for i, piece in enumerate(pieces):
            if i == max_tokens:
                stats.stopped_by = "length"
                break
            time.sleep(self.seconds_per_piece)
            stats.completion_tokens += 1
            yield piece
            if time.monotonic() - t0 > timeout_s:
                stats.stopped_by = "timeout"
                break


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_local(settings, **kw):
    """The real chat app for ``settings``, started on a free 127.0.0.1 port without blocking:
    (the app, to ``close()`` when done; its base URL without the trailing slash)."""
    from ui.app import serve

    port = free_port()
    demo = serve(settings, host="127.0.0.1", port=port, prevent_thread_lock=True, **kw)
    return demo, f"http://127.0.0.1:{port}"


# --------------------------------------------------------------------------- an unprivileged user

NOBODY = 65534   # the unprivileged user and group "nobody"


@pytest.fixture
def shared_dir():
    """A fresh folder that every user may enter (pytest's own temporary folders admit only their owner)."""
    path = Path(tempfile.mkdtemp(prefix="rag-test-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_unprivileged(setup: str, work: str, *args: str) -> subprocess.CompletedProcess:
    """Run Python ``setup`` and then ``work`` (with ``args`` as ``sys.argv[1:]``) in a subprocess that
    becomes the ordinary user "nobody" between the two, so that file permissions really apply: the
    tests run as root in CI, and root may read any file. ``setup`` imports what ``work`` needs (the
    interpreter itself may live where only root can read). Without root, all of it runs as the
    current user, for whom the same permissions apply."""
    here = Path(__file__).resolve().parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here.parent), str(here)])}
    drop = (f"import os\nif os.geteuid() == 0:\n    os.setgroups([]); os.setgid({NOBODY}); os.setuid({NOBODY})\n"
            "assert os.geteuid() != 0\n")
    code = "\n".join([textwrap.dedent(setup), drop, textwrap.dedent(work)])
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300,
                          env=env, cwd="/")


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


# --------------------------------------------------------------------------- corpora

CORPUS = {
    "minerals.txt": (
        "The United States and Japan signed a framework agreement on rare earths in Tokyo. "
        "The agreement covers extraction, recycling, stockpiling and investment in critical minerals. "
        "Japanese companies are expected to invest up to 400 billion dollars in the United States. "
        "The framework sets policy directions but includes no direct financial commitments.\n"
        "Both governments released a list of joint projects in energy and artificial intelligence. "
        "A price floor of 110 dollars per kilogram was set for NdPr oxide. "
        "Officials said the first projects would start within six months.\n"
    ),
    "lighthouse.md": (
        "# Harbour Point lighthouse\n\n"
        "The Harbour Point lighthouse was built in 1871 by the engineer Margaret Olsen. "
        "Its lamp can be seen from 22 nautical miles away on a clear night. "
        "The tower is 31 metres tall and painted with red and white bands.\n\n"
        "Keepers lived in the cottage beside the tower until the light was automated in 1968. "
        "Visitors may climb the 148 steps on summer weekends. "
        "The museum in the old cottage displays the original Fresnel lens.\n"
    ),
    "notes/bakery.txt": (
        "Rosa's Bakery on Mill Street sells rye bread, croissants and cinnamon buns. "
        "The bakery opens at six in the morning and bakes 240 loaves every day. "
        "Its sourdough starter is said to be more than forty years old. "
        "On Sundays the bakery is closed so the bakers can rest.\n"
    ),
}


def write_corpus(root: Path, files: dict[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in (CORPUS if files is None else files).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def corpus(tmp_path) -> Path:
    """A small corpus of three unrelated documents (one in a sub-folder)."""
    return write_corpus(tmp_path / "seeds")


@pytest.fixture
def index_dir(tmp_path) -> Path:
    return tmp_path / "index"
