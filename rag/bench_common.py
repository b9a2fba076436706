"""What the benchmarks of `rag bench` share: the plan of sizes, the section titles, the question
file, small statistics, the corpus words the synthetic text is drawn from, and the environment and
port of a benchmark's child process."""
from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import REPO_ROOT, Settings
from .errors import ConfigError
from .records import json_lines


SECTIONS = {
    "stages": "Answer stages",
    "latency": "Time to first token and total time",
    "llm": "Generation and prompt speed: pipeline against llama.cpp",
    "llama_tuning": "llama.cpp threads and n_batch",
    "embeddings": "Embeddings: PyTorch against ONNX int8",
    "indexing": "Indexing a synthetic corpus",
    "formats": "Reading each kind of document",
    "retrieval": "Retrieval at scale",
    "chat": "The chat process",
    "api": "The HTTP API (rag serve)",
    "cold": "Cold start: a new process answering one question",
    "builds": "llama.cpp builds side by side",
}


@dataclass
class Plan:
    """How big each benchmark is. ``quick`` is a smoke test that finishes in seconds."""
    quick: bool = False
    rounds: int = 3                        # passes over the question file (answers)
    max_questions: int = 0                 # 0: all
    embed_chunks: int = 128
    embed_rounds: int = 2
    index_chunks: int = 10_000
    vector_sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    queries: int = 100
    exact_max: int | None = None           # None: the store's own limit
    tune_threads: tuple[int, ...] = (1, 2)
    tune_batches: tuple[int, ...] = (64, 128, 256, 512)
    tune_prompt_tokens: int = 0            # 0: the longest answer prompt of the run
    tune_reps: int = 1
    gen_tokens: int = 48
    max_answer_tokens: int | None = None   # None: the setting's
    chat_answers: int = 2
    format_docs: int = 20                  # documents of each kind read (formats)
    ocr_pages: int = 5                     # scanned pages read by OCR (formats)
    cold_runs: int = 3                     # `rag ask` runs from the shell (cold start)
    build_rounds: int = 1                  # passes over the questions per llama.cpp build

    @classmethod
    def make(cls, quick: bool, index_chunks: int | None = None, vector_sizes=None, rounds: int | None = None) -> "Plan":
        plan = cls(quick=True, rounds=1, max_questions=2, embed_chunks=8, embed_rounds=1, index_chunks=60,
                   vector_sizes=(1_000, 4_000), queries=20, exact_max=2_000, tune_batches=(512,),
                   tune_prompt_tokens=64, tune_reps=1, gen_tokens=8, max_answer_tokens=32,
                   chat_answers=1, format_docs=2, ocr_pages=1, cold_runs=1) if quick else cls()
        if index_chunks is not None:
            plan.index_chunks = index_chunks
        if vector_sizes:
            plan.vector_sizes = tuple(vector_sizes)
        if rounds is not None:
            plan.rounds = rounds
        return plan


def _log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def _ms(x):
    return None if x is None else round(1000 * x, 3)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def p95(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    return float(np.percentile(values, 95, method="linear")) if len(values) > 1 else values[0]


def _r(x, nd):
    return None if x is None else round(float(x), nd)


def peak_rss_mb(pid: int | None = None) -> float | None:
    """Peak resident memory (VmHWM) of a process, in MB."""
    try:
        for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


# --------------------------------------------------------------------------- questions and text

@dataclass
class Question:
    text: str
    expect: list[list[str]] = field(default_factory=list)   # requirements, each a list of alternatives
    answerable: bool = True


def load_questions(path: Path) -> list[Question]:
    """A QA file: ``seeds_qa.jsonl`` records (question, answers, answerable) or ``{"question", "expect"}``."""
    def question(d: dict) -> Question:
        expect = d.get("answers") or [[x] for x in d.get("expect", [])]
        return Question(str(d["question"]), [list(r) for r in expect], bool(d.get("answerable", True)))

    out = json_lines(path, "question", question, file_kind="questions")
    if not out:
        raise ConfigError(f"{path} holds no questions")
    return out


def _found(text: str, expect: list[list[str]]) -> bool:
    low = " ".join(text.lower().split())
    return all(any(" ".join(a.lower().split()) in low for a in req) for req in expect)


def corpus_words(seeds_dir: Path) -> list[str]:
    from .documents import read_source, scan

    words: list[str] = []
    try:
        found, _ = scan(seeds_dir)
    except Exception:  # noqa: BLE001
        found = []
    for source, _ in found:
        try:
            words += read_source(seeds_dir, source).split()
        except Exception:  # noqa: BLE001 - an unreadable file adds no words
            continue
    if len(words) < 200:
        words += ("the agreement covers extraction recycling stockpiling and investment in critical minerals "
                  "officials said the first projects would start within six months and prices rose").split() * 20
    return words


# --------------------------------------------------------------------------- child processes

def _child_env(settings: Settings) -> dict:
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", TOKENIZERS_PARALLELISM="false",
               RAG_MODELS_DIR=str(settings.models_dir), RAG_MODEL=settings.model, RAG_THREADS=str(settings.threads),
               RAG_EMBED_BACKEND=settings.embed_backend, PYTHONPATH=str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", ""))
    env.pop("RAG_SEEDS_DIR", None)
    env.pop("RAG_INDEX_DIR", None)
    return env


def _run(settings: Settings, args: list[str], what: str, timeout: float = 600) -> str:
    """Run a child Python with the benchmark's environment; its standard output, or RuntimeError
    with the last line it wrote to standard error."""
    proc = subprocess.run(args, capture_output=True, text=True, env=_child_env(settings), cwd=str(REPO_ROOT),
                          timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{what}: {(proc.stderr.strip().splitlines() or ['no output'])[-1]}")
    return proc.stdout


def _last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
