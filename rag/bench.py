"""`rag bench`: every benchmark in one run, written as ``BENCHMARKS.md`` and ``docs/bench.png``.

Sections (each records the command and settings that produced it):

* answer stages — per-stage time of a warm answer, median and p95 over the questions of a file;
* time to first token and total time;
* generation and prompt-processing tokens/s of the pipeline against llama.cpp called directly
  (same model, prompt and max tokens, interleaved in the same run);
* llama.cpp threads and n_batch for prompt processing;
* embeddings — PyTorch against the int8 ONNX export: chunks/s, query time, cosine, retrieval hit rate;
* indexing — a synthetic corpus: full build, one document added, nothing changed, peak RSS;
* retrieval at scale — synthetic 384-d vectors: latency and recall@10 against exact search;
* the chat process — cold start of `rag ui` until HTTP 200, first answer, peak RSS.

Output goes to ``bench-out/`` unless ``--out`` names another folder; ``--out .`` replaces the
published report at the repository root.
"""
from __future__ import annotations

import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .bench_formats import report_lines as formats_report
from .config import REPO_ROOT, Settings
from .errors import ConfigError

DEFAULT_QUESTIONS = REPO_ROOT / "tests" / "fixtures" / "seed_questions.jsonl"
DIM = 384
CPU_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16",
             "avx_vnni", "amx_tile", "amx_int8", "amx_bf16")
PACKAGES = ("torch", "sentence-transformers", "transformers", "onnxruntime", "faiss-cpu", "llama-cpp-python",
            "bm25s", "numpy", "gradio")
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


# --------------------------------------------------------------------------- machine

def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags() -> list[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return [f for f in CPU_FLAGS if f in have]
    except OSError:
        pass
    return []


def _versions() -> dict:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def machine_info() -> dict:
    import psutil

    try:
        import llama_cpp

        llama = llama_cpp.llama_print_system_info().decode().strip()
    except Exception as exc:  # noqa: BLE001 - informational only
        llama = f"unavailable ({type(exc).__name__})"
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        cores = os.cpu_count() or 1
    return {"cpu": _cpu_model(), "cores": cores, "flags": _cpu_flags(),
            "ram_gb": round(psutil.virtual_memory().total / 2**30, 1), "os": platform.platform(terse=True),
            "llama_cpp_build": llama, "versions": _versions(), "load_start": [round(x, 2) for x in os.getloadavg()],
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


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
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read questions file {path}: {exc.strerror}") from None
    out = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            expect = d.get("answers") or [[x] for x in d.get("expect", [])]
            out.append(Question(str(d["question"]), [list(r) for r in expect], bool(d.get("answerable", True))))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path} line {i} is not a question record ({exc})") from None
    if not out:
        raise ConfigError(f"{path} holds no questions")
    return out


def _found(text: str, expect: list[list[str]]) -> bool:
    low = " ".join(text.lower().split())
    return all(any(" ".join(a.lower().split()) in low for a in req) for req in expect)


def corpus_words(seeds_dir: Path) -> list[str]:
    from .documents import read_text, scan

    words: list[str] = []
    try:
        found, _ = scan(seeds_dir)
    except Exception:  # noqa: BLE001
        found = []
    for _, path in found:
        try:
            words += read_text(path).split()
        except Exception:  # noqa: BLE001 - an unreadable file adds no words
            continue
    if len(words) < 200:
        words += ("the agreement covers extraction recycling stockpiling and investment in critical minerals "
                  "officials said the first projects would start within six months and prices rose").split() * 20
    return words


def text_windows(words: list[str], n: int, length: int = 120, seed: int = 0) -> list[str]:
    """``n`` passages of ``length`` consecutive words of real text (about 150 model tokens each)."""
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, max(1, len(words) - length), n)
    return [" ".join(words[s:s + length]) for s in starts]


def synthetic_document(words: list[str], n_words: int, rng) -> str:
    """Sentences of 8–24 words drawn from ``words``, in paragraphs, with numbers here and there."""
    out, para = [], []
    total = 0
    while total < n_words:
        k = int(rng.integers(8, 25))
        sent = [words[int(i)] for i in rng.integers(0, len(words), k)]
        if rng.random() < 0.3:
            sent.insert(int(rng.integers(0, k)), str(int(rng.integers(2, 5000))))
        s = " ".join(sent).strip(".,;:")
        para.append(s[:1].upper() + s[1:] + ".")
        total += len(sent)
        if len(para) >= 6:
            out.append(" ".join(para))
            para = []
    if para:
        out.append(" ".join(para))
    return "\n\n".join(out) + "\n"


def embedding_like(n: int, rng, latent: int = 24, dim: int = DIM, basis=None) -> np.ndarray:
    """Unit vectors that vary along few directions, as sentence embeddings do (a Gaussian latent
    of ``latent`` dimensions mapped into ``dim`` plus a little noise)."""
    if basis is None:
        basis = np.random.default_rng(1234).standard_normal((latent, dim), dtype=np.float32) / np.sqrt(latent)
    out = np.empty((n, dim), dtype=np.float32)
    for i in range(0, n, 100_000):
        m = min(100_000, n - i)
        v = rng.standard_normal((m, latent), dtype=np.float32) @ basis
        v += rng.standard_normal((m, dim), dtype=np.float32) * (0.3 / np.sqrt(dim))
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        out[i:i + m] = v
    return out


# --------------------------------------------------------------------------- answers and the LLM

class RecordingGenerator:
    """Passes everything to the real generator and remembers the last prompt it was given."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name
        self.n_ctx = inner.n_ctx
        self.last_prompt = ""

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def count_tokens(self, text):
        return self.inner.count_tokens(text)

    def render(self, messages):
        return self.inner.render(messages)

    def stream(self, prompt, **kw):
        self.last_prompt = prompt
        return self.inner.stream(prompt, **kw)


def _direct_completion(llm, prompt: str, max_tokens: int) -> dict:
    """One completion by llama-cpp-python itself, timed like the pipeline times its generator."""
    tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
    cached = 0
    for a, b in zip(llm._input_ids[: llm.n_tokens], tokens):
        if a != b:
            break
        cached += 1
    t0 = time.monotonic()
    first = None
    n = 0
    text = ""
    for out in llm.create_completion(tokens, max_tokens=max_tokens, temperature=0.0, top_k=1, repeat_penalty=1.0,
                                     stream=True):
        piece = out["choices"][0].get("text") or ""
        if piece:
            if first is None:
                first = time.monotonic()
            n += 1
            text += piece
    end = time.monotonic()
    return {"prompt_tokens": len(tokens), "cached_tokens": cached, "completion_tokens": n,
            "prompt_s": (first or end) - t0, "generate_s": end - (first or end), "text": text}


def _rates(prompt_tokens, cached, completion, prompt_s, generate_s) -> tuple[float | None, float | None]:
    pp = (prompt_tokens - cached) / prompt_s if prompt_s and prompt_tokens > cached else None
    gen = (completion - 1) / generate_s if generate_s and completion > 1 else None
    return pp, gen


STAGES = [  # (timing key, label)
    ("embed_s", "query embedding"),
    ("dense_s", "vector search (FAISS)"),
    ("bm25_s", "keyword search (BM25)"),
    ("fusion_s", "fusion (reciprocal rank)"),
    ("select_s", "evidence selection"),
    ("prompt_build_s", "prompt build"),
    ("prompt_eval_s", "prompt processing (LLM)"),
    ("generate_s", "generation (LLM)"),
    ("verify_s", "verification and answer"),
]


def bench_answers(settings: Settings, plan: Plan, questions: list[Question], index_dir: Path, res: dict) -> list[str]:
    """Warm answers through the Engine, each followed by the same prompt through llama.cpp directly."""
    from llama_cpp import Llama

    from . import models
    from .pipeline import Engine, shared_embedder, shared_generator

    s = settings.with_(index_dir=index_dir, max_answer_tokens=plan.max_answer_tokens)
    recorder = RecordingGenerator(shared_generator(s))
    engine = Engine(s, embedder=shared_embedder(s), generator=recorder)
    t = time.monotonic()
    engine.warm_up()
    warm_s = time.monotonic() - t
    qs = questions[: plan.max_questions] if plan.max_questions else questions
    engine.answer(qs[0].text)                       # one untimed answer: everything is warm
    inner = recorder.inner          # the same model file and context settings as the pipeline's
    model_path = getattr(inner, "model_path", None) or models.resolve(s.model, s.models_dir)[1]
    direct = Llama(model_path=str(model_path), n_ctx=s.n_ctx, n_threads=s.threads, n_threads_batch=s.threads,
                   n_batch=getattr(inner, "n_batch", 512), flash_attn=getattr(inner, "flash_attn", False),
                   verbose=False)
    _direct_completion(direct, recorder.last_prompt, 1)
    rows, prompts = [], []
    for r in range(plan.rounds):
        for q in qs:
            a = engine.answer(q.text)
            t = dict(a.timings)
            prompt = recorder.last_prompt if t.get("prompt_tokens") else ""
            row = {"question": q.text, "round": r, "abstained": a.abstained, **t}
            row["pipeline_pp_tok_s"], row["pipeline_gen_tok_s"] = _rates(
                t.get("prompt_tokens", 0), t.get("cached_tokens", 0), t.get("completion_tokens", 0),
                t.get("prompt_eval_s"), t.get("generate_s"))
            if prompt:
                prompts.append(prompt)
                d = _direct_completion(direct, prompt, s.max_answer_tokens)
                row["direct_pp_tok_s"], row["direct_gen_tok_s"] = _rates(
                    d["prompt_tokens"], d["cached_tokens"], d["completion_tokens"], d["prompt_s"], d["generate_s"])
                row["direct_completion_tokens"] = d["completion_tokens"]
                row["same_output"] = d["text"] == a.draft
            rows.append(row)
    direct.close()
    stages = {key: {"label": label, "median_ms": _ms(median([r.get(key) for r in rows])),
                    "p95_ms": _ms(p95([r.get(key) for r in rows]))} for key, label in STAGES}
    res["stages"] = {"answers": len(rows), "questions": len(qs), "rounds": plan.rounds, "warm_up_s": round(warm_s, 2),
                     "stages": stages, "rows": rows}
    res["latency"] = {key: {"median_s": _r(median([r.get(key) for r in rows]), 3),
                            "p95_s": _r(p95([r.get(key) for r in rows]), 3)}
                      for key in ("retrieve_s", "first_token_s", "total_s")}
    res["latency"]["answers"] = len(rows)
    both = [r for r in rows if r.get("direct_gen_tok_s") and r.get("pipeline_gen_tok_s")]
    llm = {}
    for key in ("pipeline_gen_tok_s", "direct_gen_tok_s", "pipeline_pp_tok_s", "direct_pp_tok_s"):
        llm[key] = _r(median([r.get(key) for r in both]), 1)
    llm["gen_ratio"] = _r(median([r["pipeline_gen_tok_s"] / r["direct_gen_tok_s"] for r in both]), 3)
    pp_pairs = [r for r in both if r.get("pipeline_pp_tok_s") and r.get("direct_pp_tok_s")]
    llm["pp_ratio"] = _r(median([r["pipeline_pp_tok_s"] / r["direct_pp_tok_s"] for r in pp_pairs]), 3)
    llm["pairs"] = len(both)
    llm["max_tokens"] = s.max_answer_tokens
    llm["same_output"] = sum(1 for r in both if r.get("same_output"))
    llm["prompt_tokens_median"] = median([r.get("prompt_tokens") for r in both])
    llm["uncached_prompt_tokens_median"] = median([r.get("prompt_tokens", 0) - r.get("cached_tokens", 0) for r in both])
    llm["completion_tokens_median"] = median([r.get("completion_tokens") for r in both])
    res["llm"] = llm
    return prompts


def _r(x, nd):
    return None if x is None else round(float(x), nd)


def bench_llama_tuning(settings: Settings, plan: Plan, prompt: str, res: dict) -> None:
    """Prompt processing (and generation) tokens/s of llama.cpp by threads and n_batch."""
    from llama_cpp import Llama

    from . import models

    from .pipeline import shared_generator

    gen = shared_generator(settings)
    model_path = getattr(gen, "model_path", None) or models.resolve(settings.model, settings.models_dir)[1]
    flash_attn = getattr(gen, "flash_attn", False)
    rows = []
    tokens = None
    for threads in plan.tune_threads:
        for n_batch in plan.tune_batches:
            llm = Llama(model_path=str(model_path), n_ctx=settings.n_ctx, n_threads=threads, n_threads_batch=threads,
                        n_batch=n_batch, flash_attn=flash_attn, verbose=False)
            if tokens is None:
                tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
                if plan.tune_prompt_tokens:
                    tokens = tokens[: plan.tune_prompt_tokens]
            times = []
            for _ in range(plan.tune_reps):
                llm.reset()
                t = time.perf_counter()
                llm.eval(tokens)
                times.append(time.perf_counter() - t)
            row = {"threads": threads, "n_batch": n_batch, "prompt_tokens": len(tokens),
                   "pp_tok_s": round(len(tokens) / median(times), 1)}
            if n_batch == max(plan.tune_batches):   # generation does not depend on n_batch
                llm.reset()
                d = _direct_completion(llm, llm.detokenize(tokens[1:]).decode("utf-8", "replace"), plan.gen_tokens)
                row["gen_tok_s"] = _r(_rates(0, 0, d["completion_tokens"], None, d["generate_s"])[1], 1)
            rows.append(row)
            llm.close()
    best = max(rows, key=lambda r: r["pp_tok_s"])
    default = next((r for r in rows if r["threads"] == settings.threads and r["n_batch"] == 512), None)
    res["llama_tuning"] = {"rows": rows, "best": {"threads": best["threads"], "n_batch": best["n_batch"],
                                                  "pp_tok_s": best["pp_tok_s"]},
                           "default": {"threads": settings.threads, "n_batch": 512,
                                       "pp_tok_s": default["pp_tok_s"] if default else None}}


# --------------------------------------------------------------------------- embeddings

def _hit_rate(retriever, questions: list[Question], k: int) -> tuple[float | None, int]:
    graded = [q for q in questions if q.answerable and q.expect]
    hits = 0
    for q in graded:
        text = " ".join(h.chunk.text for h in retriever.search(q.text, k))
        hits += _found(text, q.expect)
    return (round(hits / len(graded), 3) if graded else None), len(graded)


def bench_embeddings(settings: Settings, plan: Plan, questions: list[Question], work: Path, res: dict) -> None:
    from .embed import ONNX_QUANTIZATION, OnnxEmbedder, SentenceTransformerEmbedder, cached_onnx_model
    from .index import load
    from .models import embedding_model_path
    from .pipeline import build_index, make_chunker
    from .retrieve import Retriever

    words = corpus_words(settings.seeds_dir)
    chunks = text_windows(words, plan.embed_chunks)
    qtexts = [q.text for q in questions]
    onnx = OnnxEmbedder(settings.embed_model, models_dir=settings.models_dir, threads=settings.threads)
    cached = cached_onnx_model(embedding_model_path(settings.embed_model), onnx.cache_dir) is not None
    backends = {"torch": SentenceTransformerEmbedder(settings.embed_model, threads=settings.threads), "onnx": onnx}
    out = {"chunk_words": 120, "chunks": len(chunks), "rounds": plan.embed_rounds, "onnx_was_cached": cached,
           "onnx_quantization": ONNX_QUANTIZATION}
    per = {}
    for name, e in backends.items():
        t = time.perf_counter()
        e.warm_up()
        per[name] = {"load_s": round(time.perf_counter() - t, 2)}
        e.embed_documents(chunks[:2])
    vecs = {}
    for _ in range(plan.embed_rounds):                 # interleaved rounds: both see the same machine
        for name, e in backends.items():
            t = time.perf_counter()
            vecs[name] = e.embed_documents(chunks)
            per[name].setdefault("runs", []).append(len(chunks) / (time.perf_counter() - t))
    for name, e in backends.items():
        lat = []
        for q in qtexts:
            t = time.perf_counter()
            e.embed_query(q)
            lat.append(time.perf_counter() - t)
        per[name]["chunks_per_s"] = round(median(per[name].pop("runs")), 1)
        per[name]["query_ms_median"] = _ms(median(lat))
        per[name]["query_ms_p95"] = _ms(p95(lat))
    qv = {name: e.embed_documents(qtexts) for name, e in backends.items()}
    cos_chunks = (vecs["torch"] * vecs["onnx"]).sum(axis=1)
    cos_q = (qv["torch"] * qv["onnx"]).sum(axis=1)
    out.update(cosine_chunks_mean=_r(cos_chunks.mean(), 4), cosine_chunks_min=_r(cos_chunks.min(), 4),
               cosine_questions_mean=_r(cos_q.mean(), 4), cosine_questions_min=_r(cos_q.min(), 4))
    # Retrieval: an index of the corpus built with each backend, searched with each.
    snaps = {}
    for name, e in backends.items():
        idx = work / f"index-{name}"
        s = settings.with_(index_dir=idx)
        build_index(s, embedder=e)
        snaps[name] = load(idx, embed_model=e.name, chunk_settings=make_chunker(s, e).settings())
    k = settings.top_k
    hit = {}
    for index_name, query_name in (("torch", "torch"), ("onnx", "onnx"), ("torch", "onnx")):
        rate, n = _hit_rate(Retriever(snaps[index_name], backends[query_name], candidates=settings.candidates),
                            questions, k)
        hit[f"{index_name}_index_{query_name}_queries"] = rate
        out["graded_questions"] = n
    out["hit_rate_k"] = k
    out["hit_rate"] = hit
    out["backends"] = per
    out["speedup"] = _r(per["onnx"]["chunks_per_s"] / per["torch"]["chunks_per_s"], 2)
    out["default_backend"] = settings.embed_backend
    res["embeddings"] = out


# --------------------------------------------------------------------------- indexing

_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from rag.config import Settings
from rag.pipeline import build_index, shared_embedder
s = Settings.from_env(seeds_dir=sys.argv[1], index_dir=sys.argv[2])
e = shared_embedder(s)
t1 = time.perf_counter()
e.warm_up()
t2 = time.perf_counter()
r = build_index(s, embedder=e)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forked parent across exec.
peak = next(int(l.split()[1]) / 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "build_s": r.seconds, "chunks_total": r.chunks_total,
                  "chunks_embedded": r.chunks_embedded, "added": len(r.added), "changed": len(r.changed),
                  "up_to_date": r.up_to_date, "wall_s": time.perf_counter() - t0,
                  "peak_rss_mb": peak}))
"""


def _child_env(settings: Settings) -> dict:
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", TOKENIZERS_PARALLELISM="false",
               RAG_MODELS_DIR=str(settings.models_dir), RAG_MODEL=settings.model, RAG_THREADS=str(settings.threads),
               RAG_EMBED_BACKEND=settings.embed_backend, PYTHONPATH=str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", ""))
    env.pop("RAG_SEEDS_DIR", None)
    env.pop("RAG_INDEX_DIR", None)
    return env


def _run_child(settings: Settings, seeds: Path, index: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(seeds), str(index)], capture_output=True, text=True,
                          env=_child_env(settings), cwd=str(REPO_ROOT), timeout=6 * 3600)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"index build failed: {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_indexing(settings: Settings, plan: Plan, work: Path, res: dict) -> None:
    from .pipeline import make_chunker, shared_embedder

    words = corpus_words(settings.seeds_dir)
    rng = np.random.default_rng(42)
    seeds = work / "synthetic-corpus"
    seeds.mkdir()
    # A document of 2,000 words gives about 16 chunks of 200 tokens (40 overlapping).
    chunker = make_chunker(settings, shared_embedder(settings))
    sample = synthetic_document(words, 2000, rng)
    per_doc = max(1, len(chunker.split("sample.txt", sample)))
    n_docs = max(2, -(-plan.index_chunks // per_doc))
    for i in range(n_docs):
        (seeds / f"doc{i:05d}.txt").write_text(synthetic_document(words, 2000, rng), encoding="utf-8")
    index = work / "synthetic-index"
    _log(f"indexing {n_docs} synthetic documents (about {n_docs * per_doc} chunks)")
    full = _run_child(settings, seeds, index)
    (seeds / "added.txt").write_text(synthetic_document(words, 2000, rng), encoding="utf-8")
    added = _run_child(settings, seeds, index)
    same = _run_child(settings, seeds, index)
    res["indexing"] = {
        "documents": n_docs, "words_per_document": 2000, "chunks": full["chunks_total"],
        "full": full, "add_one": added, "unchanged": same,
        "chunks_per_s": round(full["chunks_embedded"] / full["build_s"], 1) if full["build_s"] else None,
    }


def bench_document_kinds(settings: Settings, plan: Plan, work: Path, res: dict) -> None:
    from .bench_formats import bench_formats

    bench_formats(settings, corpus_words(settings.seeds_dir), plan.format_docs, plan.ocr_pages, work, res)


# --------------------------------------------------------------------------- retrieval at scale

def _exact_top(X: np.ndarray, Q: np.ndarray, k: int = 10) -> np.ndarray:
    best_s = np.full((len(Q), k), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(Q), k), dtype=np.int64)
    for i in range(0, len(X), 200_000):
        s = Q @ X[i:i + 200_000].T
        idx = np.argpartition(-s, k - 1, axis=1)[:, :k] if s.shape[1] > k else np.argsort(-s, axis=1)[:, :k]
        cand_s = np.take_along_axis(s, idx, axis=1)
        all_s = np.concatenate([best_s, cand_s], axis=1)
        all_i = np.concatenate([best_i, idx + i], axis=1)
        order = np.argsort(-all_s, axis=1)[:, :k]
        best_s = np.take_along_axis(all_s, order, axis=1)
        best_i = np.take_along_axis(all_i, order, axis=1)
    return best_i


def _rrf(dense: list[tuple[int, float]], lexical: list[int], k: int = 60) -> list[int]:
    fused: dict[int, float] = {}
    for rank, (row, _) in enumerate(dense):
        fused[row] = fused.get(row, 0.0) + 1.0 / (k + rank + 1)
    for rank, row in enumerate(lexical):
        fused[row] = fused.get(row, 0.0) + 1.0 / (k + rank + 1)
    return sorted(fused, key=lambda r: -fused[r])


def bench_retrieval(settings: Settings, plan: Plan, questions: list[Question], res: dict) -> None:
    import faiss

    from .pipeline import shared_embedder
    from .store import EXACT_MAX_VECTORS, FaissStore

    embedder = shared_embedder(settings)
    exact_max = plan.exact_max or EXACT_MAX_VECTORS
    rows = []
    for n in plan.vector_sizes:
        _log(f"retrieval at {n:,} vectors")
        rng = np.random.default_rng(n)
        X = embedding_like(n, rng)
        Q = embedding_like(plan.queries, np.random.default_rng(n + 1))
        truth = _exact_top(X, Q)
        flat = faiss.IndexFlatIP(DIM)
        flat.add(X)
        exact_lat = []
        for q in Q[: min(len(Q), 50)]:
            t = time.perf_counter()
            flat.search(q[None], 10)
            exact_lat.append(time.perf_counter() - t)
        del flat
        t = time.perf_counter()
        store = FaissStore(DIM, exact_max=exact_max)
        store.add(np.arange(n, dtype=np.int64), X)
        build_s = time.perf_counter() - t
        del X
        size_mb = round(faiss.serialize_index(store.index).nbytes / 2**20, 1)
        search_lat, total_lat, recalls = [], [], []
        for i, q in enumerate(Q):
            text = questions[i % len(questions)].text
            t0 = time.perf_counter()
            embedder.embed_query(text)                       # the real query embedding
            t1 = time.perf_counter()
            hits = store.search(q, settings.candidates)
            t2 = time.perf_counter()
            _rrf(hits, [h for h, _ in hits[::-1]])           # fusion with a second ranking of the candidates
            t3 = time.perf_counter()
            search_lat.append(t2 - t1)
            total_lat.append(t3 - t0)
            recalls.append(len({h for h, _ in hits[:10]} & set(truth[i].tolist())) / 10)
        rows.append({"vectors": n, "index": store.kind, "nlist": getattr(store.index, "nlist", None),
                     "nprobe": getattr(store.index, "nprobe", None), "build_s": round(build_s, 2),
                     "exact_search_ms_median": _ms(median(exact_lat)), "exact_search_ms_p95": _ms(p95(exact_lat)),
                     "search_ms_median": _ms(median(search_lat)), "search_ms_p95": _ms(p95(search_lat)),
                     "retrieval_ms_median": _ms(median(total_lat)), "retrieval_ms_p95": _ms(p95(total_lat)),
                     "recall_at_10": round(float(np.mean(recalls)), 4), "queries": len(Q), "index_mb": size_mb,
                     "peak_rss_mb": peak_rss_mb()})
        del store
    res["retrieval"] = {"rows": rows, "exact_max": exact_max, "latent_dims": 24, "dim": DIM}


# --------------------------------------------------------------------------- the chat process

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_chat(settings: Settings, plan: Plan, questions: list[Question], index_dir: Path, res: dict) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    cmd = [sys.executable, "-m", "rag.cli", "ui", "--host", "127.0.0.1", "--port", str(port),
           "--seeds", str(settings.seeds_dir), "--index", str(index_dir)]
    log = tempfile.TemporaryFile(mode="w+")        # not a pipe: a full pipe would stall the server
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=_child_env(settings), cwd=str(REPO_ROOT), stdout=subprocess.DEVNULL,
                            stderr=log, text=True)
    try:
        ready = None
        while time.monotonic() - t0 < 180:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"rag ui exited with status {proc.returncode}: "
                                   f"{(log.read().strip().splitlines() or [''])[-1]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        ready = time.monotonic() - t0
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.05)
        if ready is None:
            raise RuntimeError("rag ui did not answer HTTP within 180 s")
        from gradio_client import Client

        client = Client(url, verbose=False)
        t = time.monotonic()
        first = client.predict(questions[0].text, api_name="/ask")
        first_answer_s = time.monotonic() - t
        next_answer_s = None
        if plan.chat_answers > 1:
            t = time.monotonic()
            client.predict(questions[-1].text, api_name="/ask")
            next_answer_s = time.monotonic() - t
        rss = peak_rss_mb(proc.pid)
        res["chat"] = {"ready_s": round(ready, 2), "first_answer_s": round(first_answer_s, 2),
                       "first_answer_after_start_s": round(ready + first_answer_s, 2),
                       "next_answer_s": _r(next_answer_s, 2), "peak_rss_mb": rss,
                       "answered": bool(first.get("answer")) if isinstance(first, dict) else False}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# --------------------------------------------------------------------------- report

def _fmt(x, nd=1):
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        if x and abs(x) < 1 and nd < 2:
            return f"{x:.2f}"
        return f"{x:,.{nd}f}"
    return str(x)


def _plain(v) -> str:
    return ",".join(str(x) for x in v) if isinstance(v, (list, tuple)) else str(v)


def _table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    out += ["| " + " | ".join(_fmt(c) if not isinstance(c, str) else c for c in row) + " |" for row in rows]
    return out


def conclusions(res: dict) -> list[str]:
    """The choices the measurements support, stated from this run's numbers."""
    out = []
    em = res.get("embeddings")
    if em:
        hr = em["hit_rate"]
        ok = (em["cosine_chunks_mean"] or 0) >= 0.99 and (hr["onnx_index_onnx_queries"] or 0) >= (hr["torch_index_torch_queries"] or 0)
        out.append(
            f"Embeddings: the int8 ONNX export {'meets' if ok else 'misses'} the quality bar (mean cosine to PyTorch "
            f"{em['cosine_chunks_mean']} on passages, {em['cosine_questions_mean']} on questions, bar 0.99; hit rate "
            f"{hr['onnx_index_onnx_queries']} against {hr['torch_index_torch_queries']}) and embeds "
            f"{em['speedup']}× as many chunks/s ({em['backends']['onnx']['chunks_per_s']} against "
            f"{em['backends']['torch']['chunks_per_s']}), so {'it is' if ok else 'PyTorch stays'} the default "
            "(`RAG_EMBED_BACKEND=torch|onnx`).")
        mixed, base = hr["torch_index_onnx_queries"] or 0, hr["torch_index_torch_queries"] or 0
        out.append(
            "Index identity: an index built with PyTorch vectors and searched with ONNX query vectors has hit rate "
            f"{hr['torch_index_onnx_queries']} (PyTorch queries: {hr['torch_index_torch_queries']}); "
            + ("the vectors are interchangeable, so the backend is not part of the index's identity and switching "
               "backends does not force re-embedding." if mixed >= base else
               "mixing the backends loses hits here, so the backend should be part of the index's identity."))
    rt = res.get("retrieval")
    if rt:
        parts = [f"{r['vectors']:,}: {r['index'].replace('faiss-', '')}, search p95 {_fmt(r['search_ms_p95'])} ms "
                 f"(exact {_fmt(r['exact_search_ms_p95'])} ms), recall@10 {_fmt(r['recall_at_10'], 3)}" for r in rt["rows"]]
        out.append(f"Vector index: exact search up to {rt['exact_max']:,} vectors, IVF beyond — " + "; ".join(parts) + ".")
    tu = res.get("llama_tuning")
    if tu:
        best, default = tu["best"], tu["default"]
        same = best["threads"] == default["threads"] and best["n_batch"] == default["n_batch"]
        text = (f"llama.cpp: the fastest prompt processing here was {best['threads']} thread(s), n_batch {best['n_batch']} "
                f"({_fmt(best['pp_tok_s'])} tok/s); the default ({default['threads']} threads, n_batch {default['n_batch']}) "
                f"gave {_fmt(default['pp_tok_s'])} tok/s.")
        m = res["machine"]
        if not same and m["load_start"][0] > 0.5 * m["cores"]:
            text += (" The machine was busy, and a thread that waits for a busy core slows every llama.cpp thread "
                     "down, so this run does not justify changing the default; a run on a quiet machine decides.")
        elif not same and best["pp_tok_s"] < 1.05 * default["pp_tok_s"]:
            text += " The difference is within this machine's run-to-run noise, so the default stays."
        out.append(text)
    llm = res.get("llm")
    if llm and llm.get("gen_ratio"):
        text = (f"The pipeline generated at {llm['gen_ratio']}× the tokens/s of llama.cpp called directly "
                f"(prompt processing {llm['pp_ratio']}×, {llm['pairs']} pairs)")
        if llm["gen_ratio"] >= 0.9:
            text += ": its own overhead per token is small."
        else:
            text += (": slower than llama.cpp alone in this run. Both stream the same tokens through "
                     "`create_completion`, so on a busy machine the gap is as likely the load changing between the "
                     "two halves of a pair as overhead; the run on a quiet machine tells which.")
        out.append(text)
    return out


def write_report(res: dict, out: Path) -> Path:
    m, st = res["machine"], res["settings"]
    cmd = res["command"]
    # Only the load before the run tells whether other work shared the machine: the run makes its own.
    busy = m["load_start"][0] > 0.5 * m["cores"]
    full = asdict(Plan())
    reduced = [f"{k.replace('_', ' ')} {_plain(res['plan'].get(k))} instead of {_plain(v)}" for k, v in full.items()
               if k in ("rounds", "index_chunks", "vector_sizes") and _plain(res["plan"].get(k)) != _plain(v)]
    sizes = ("quick smoke-test sizes" if res["quick"] else
             "reduced sizes: " + ", ".join(reduced) if reduced else "full sizes")
    L = ["# Benchmarks", "",
         f"Produced by `{cmd}` on {m['date']} ({sizes}). "
         "All figures of one run come from the same machine state; compare ratios within a run.", ""]
    if busy:
        L += [f"**The machine was busy during this run** (load average {m['load_start'][0]} at the start and "
              f"{m.get('load_end', ['?'])[0]} at the end on {m['cores']} cores): absolute times are slower than on a "
              "quiet machine; the ratios measured side by side hold better.", ""]
    L += ["## Machine and settings", ""]
    L += _table(["", ""], [
        ["CPU", f"{m['cpu']}, {m['cores']} cores available, {m['ram_gb']} GB RAM"],
        ["CPU flags", ", ".join(m["flags"]) or "–"],
        ["llama.cpp build", m["llama_cpp_build"].replace("|", "/")],
        ["versions", ", ".join(f"{k} {v}" for k, v in m["versions"].items())],
        ["load average (1 min)", f"{m['load_start'][0]} at start, {m.get('load_end', ['?'])[0]} at end"],
        ["settings", f"model {st['model']}, embedding {st['embed_model']} ({st['embed_backend']} backend), "
                     f"threads {st['threads']}, n_ctx {st['n_ctx']}, top_k {st['top_k']}, candidates {st['candidates']}, "
                     f"max answer tokens {st['max_answer_tokens']}, chunks {st['chunk_tokens']}/{st['chunk_overlap_tokens']} tokens"],
        ["questions", f"`{res['questions_file']}` ({res['questions']} questions)"],
    ])
    L += ["", "![benchmarks](docs/bench.png)", ""]
    summary = conclusions(res)
    if summary:
        L += ["## What the figures decide", ""] + [f"- {line}" for line in summary] + [""]

    def section(key: str, body: list[str]) -> None:
        L.extend([f"## {SECTIONS[key]}", ""])
        if key in res.get("errors", {}):
            L.extend([f"Not measured: {res['errors'][key]}", ""])
        else:
            L.extend(body + [""])

    s = res.get("stages", {})
    if s:
        rows = [[v["label"], v["median_ms"], v["p95_ms"]] for v in s["stages"].values()]
        body = [f"Warm answers (`Engine.answer`, after `warm_up` and one untimed answer): {s['answers']} answers = "
                f"{s['questions']} questions × {s['rounds']} rounds. Times in ms. Command: `{cmd}`.", ""]
        body += _table(["stage", "median ms", "p95 ms"], rows)
    else:
        body = []
    section("stages", body)

    lat = res.get("latency", {})
    body = []
    if lat:
        body = [f"The same {lat['answers']} warm answers, from the question to the first model token and to the verified "
                "answer. Seconds.", ""]
        body += _table(["", "median s", "p95 s"], [
            ["retrieval (embed, search, fusion, evidence)", lat["retrieve_s"]["median_s"], lat["retrieve_s"]["p95_s"]],
            ["time to first token", lat["first_token_s"]["median_s"], lat["first_token_s"]["p95_s"]],
            ["total (verified answer)", lat["total_s"]["median_s"], lat["total_s"]["p95_s"]]])
    section("latency", [str(x) if not isinstance(x, str) else x for x in body])

    llm = res.get("llm", {})
    body = []
    if llm:
        body = [f"Each pipeline answer was followed by llama-cpp-python's `Llama` called directly with the same model, "
                f"the same rendered prompt and the same max tokens ({llm['max_tokens']}), greedy; {llm['pairs']} "
                f"pairs, {llm['same_output']} with identical text. Prompts: median {_fmt(llm['prompt_tokens_median'], 0)} "
                f"tokens, of which {_fmt(llm['uncached_prompt_tokens_median'], 0)} not already in the KV cache; median "
                f"{_fmt(llm['completion_tokens_median'], 0)} tokens generated. Tokens/s are medians over the pairs; the "
                "ratio is the median of the per-pair ratios.", ""]
        body += _table(["", "pipeline tok/s", "llama.cpp direct tok/s", "ratio"], [
            ["generation", llm["pipeline_gen_tok_s"], llm["direct_gen_tok_s"], _fmt(llm["gen_ratio"], 3)],
            ["prompt processing (uncached tokens)", llm["pipeline_pp_tok_s"], llm["direct_pp_tok_s"],
             _fmt(llm["pp_ratio"], 3)]])
    section("llm", body)

    tu = res.get("llama_tuning", {})
    body = []
    if tu:
        body = [f"A prompt of {tu['rows'][0]['prompt_tokens']} tokens (an answer prompt of this run) evaluated from an "
                "empty KV cache by `Llama.eval`, per threads and n_batch; generation measured once per thread count. "
                f"Best: {tu['best']['threads']} threads, n_batch {tu['best']['n_batch']} "
                f"({_fmt(tu['best']['pp_tok_s'])} tok/s); the default is {tu['default']['threads']} threads, "
                f"n_batch {tu['default']['n_batch']} ({_fmt(tu['default']['pp_tok_s'])} tok/s).", ""]
        body += _table(["threads", "n_batch", "prompt tok/s", "generation tok/s"],
                       [[r["threads"], r["n_batch"], r["pp_tok_s"], r.get("gen_tok_s")] for r in tu["rows"]])
    section("llama_tuning", body)

    em = res.get("embeddings", {})
    body = []
    if em:
        b = em["backends"]
        hr = em["hit_rate"]
        body = [f"{em['chunks']} passages of {em['chunk_words']} words of the corpus, embedded by each backend in "
                f"{em['rounds']} interleaved round(s) (median); query time over the questions. ONNX: "
                f"{em['onnx_quantization']}, one text per run"
                f"{'' if em['onnx_was_cached'] else ' (exported in this run)'}. Hit rate: share of the "
                f"{em['graded_questions']} answerable questions whose expected answer text is in the top {em['hit_rate_k']} "
                "passages retrieved (dense + BM25).", ""]
        body += _table(["", "PyTorch (before)", "ONNX int8 (after)"], [
            ["chunks/s", b["torch"]["chunks_per_s"], b["onnx"]["chunks_per_s"]],
            ["query ms, median", b["torch"]["query_ms_median"], b["onnx"]["query_ms_median"]],
            ["query ms, p95", b["torch"]["query_ms_p95"], b["onnx"]["query_ms_p95"]],
            ["model load s", b["torch"]["load_s"], b["onnx"]["load_s"]],
            ["retrieval hit rate", _fmt(hr["torch_index_torch_queries"], 3), _fmt(hr["onnx_index_onnx_queries"], 3)],
        ])
        body += ["", f"Speed-up {em['speedup']}×. Cosine of ONNX to PyTorch vectors: passages mean "
                 f"{em['cosine_chunks_mean']} (min {em['cosine_chunks_min']}), questions mean {em['cosine_questions_mean']} "
                 f"(min {em['cosine_questions_min']}). A PyTorch-built index searched with ONNX query vectors: hit rate "
                 f"{_fmt(hr['torch_index_onnx_queries'], 3)}. Default backend in this run: {em['default_backend']}."]
    section("embeddings", body)

    ix = res.get("indexing", {})
    body = []
    if ix:
        f, a, u = ix["full"], ix["add_one"], ix["unchanged"]
        body = [f"A synthetic corpus of {ix['documents']:,} documents of {ix['words_per_document']:,} words (sentences drawn "
                f"from the corpus vocabulary) = {ix['chunks']:,} chunks; each build is `build_index` in a fresh process "
                f"with the {st['embed_backend']} embedder (its load time is listed apart).", ""]
        body += _table(["build", "seconds", "chunks embedded", "chunks/s", "embedder load s", "peak RSS MB"], [
            ["full", f["build_s"], f["chunks_embedded"], ix["chunks_per_s"], f["load_s"], f["peak_rss_mb"]],
            ["one document added", a["build_s"], a["chunks_embedded"], None, a["load_s"], a["peak_rss_mb"]],
            ["nothing changed", u["build_s"], u["chunks_embedded"], None, u["load_s"], u["peak_rss_mb"]]])
    section("indexing", body)

    body = []
    if res.get("formats"):
        head, rows = formats_report(res)
        body = head + _table(["kind", "documents", "chunks", "documents/s", "chunks/s"], rows)
    section("formats", body)

    rt = res.get("retrieval", {})
    body = []
    if rt:
        body = [f"Synthetic unit vectors of {rt['dim']} dimensions with the structure of sentence embeddings (a "
                f"{rt['latent_dims']}-dimensional Gaussian latent plus noise); queries from the same distribution. "
                f"`FaissStore` chooses exact search up to {rt['exact_max']:,} vectors, IVF beyond. Retrieval = the real query "
                "embedding + vector search + rank fusion of the candidates (BM25 over synthetic vectors is not "
                "included). Recall@10 against exact search; 'exact' is IndexFlatIP on the same vectors (before).", ""]
        body += _table(["vectors", "index", "lists / probes", "build s", "exact search ms p50 / p95",
                        "search ms p50 / p95", "retrieval ms p50 / p95", "recall@10", "index MB", "bench peak RSS MB"],
                       [[r["vectors"], r["index"], f"{_fmt(r['nlist'])} / {_fmt(r['nprobe'])}" if r["nlist"] else "–",
                         r["build_s"], f"{_fmt(r['exact_search_ms_median'])} / {_fmt(r['exact_search_ms_p95'])}",
                         f"{_fmt(r['search_ms_median'])} / {_fmt(r['search_ms_p95'])}",
                         f"{_fmt(r['retrieval_ms_median'])} / {_fmt(r['retrieval_ms_p95'])}", _fmt(r["recall_at_10"], 3),
                         r["index_mb"], r["peak_rss_mb"]] for r in rt["rows"]])
    section("retrieval", body)

    ch = res.get("chat", {})
    body = []
    if ch:
        body = ["`rag ui` started as a new process on a free port (index already built): time until the page answers "
                "HTTP 200, then the first and a second answer through the `/ask` API (the first waits for the models "
                "to finish loading in the background), then the process's peak RSS (VmHWM).", ""]
        body += _table(["", "value"], [
            ["cold start to HTTP 200", f"{_fmt(ch['ready_s'], 2)} s"],
            ["first answer after HTTP 200", f"{_fmt(ch['first_answer_s'], 2)} s"],
            ["start to first answer", f"{_fmt(ch['first_answer_after_start_s'], 2)} s"],
            ["next answer", f"{_fmt(ch['next_answer_s'], 2)} s"],
            ["peak RSS of the chat process", f"{_fmt(ch['peak_rss_mb'])} MB"]])
    section("chat", body)
    from .bench_api import report_lines

    section("api", report_lines(res["api"], _fmt, _table) if res.get("api") else [])
    from .bench_speed import builds_report_lines, report_lines as cold_lines

    section("cold", cold_lines(res["cold"]) if res.get("cold") else [])
    if res.get("builds") or "builds" in res.get("errors", {}):
        section("builds", builds_report_lines(res["builds"]) if res.get("builds") else [])
    path = out / "BENCHMARKS.md"
    path.write_text("\n".join(str(x) for x in L).rstrip() + "\n", encoding="utf-8")
    return path


def write_chart(res: dict, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 9.5))
    m, st = res["machine"], res["settings"]
    ax = axes[0][0]
    s = res.get("stages", {}).get("stages")
    if s:
        labels = [v["label"] for v in s.values()][::-1]
        med = [v["median_ms"] or 0 for v in s.values()][::-1]
        hi = [v["p95_ms"] or 0 for v in s.values()][::-1]
        y = np.arange(len(labels))
        ax.barh(y, hi, color="#c7d2fe", label="p95")
        ax.barh(y, med, color="#4f46e5", label="median")
        ax.set_yticks(y, labels)
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlabel("ms per answer (log scale)")
        ax.legend(loc="lower right")
    ax.set_title("Answer stages (warm)")
    ax = axes[0][1]
    em = res.get("embeddings", {}).get("backends")
    llm = res.get("llm", {})
    bars, vals, colors = [], [], []
    if em:
        bars += ["embed\nPyTorch", "embed\nONNX int8"]
        vals += [em["torch"]["chunks_per_s"], em["onnx"]["chunks_per_s"]]
        colors += ["#94a3b8", "#4f46e5"]
    if llm:
        bars += ["generate\npipeline", "generate\nllama.cpp"]
        vals += [llm.get("pipeline_gen_tok_s") or 0, llm.get("direct_gen_tok_s") or 0]
        colors += ["#4f46e5", "#94a3b8"]
    if bars:
        ax.bar(bars, vals, color=colors)
        for i, v in enumerate(vals):
            ax.text(i, v, f"{v:.1f}", ha="center", va="bottom")
    ax.set_ylabel("chunks/s (embed) · tokens/s (generate)")
    ax.set_title("Throughput")
    ax = axes[1][0]
    rt = res.get("retrieval", {}).get("rows")
    if rt:
        n = [r["vectors"] for r in rt]
        ax.plot(n, [max(r["exact_search_ms_p95"] or 0, 1e-3) for r in rt], "o--", color="#94a3b8", label="exact search p95 (before)")
        ax.plot(n, [r["search_ms_p95"] for r in rt], "o-", color="#4f46e5", label="chosen index search p95")
        ax.plot(n, [r["retrieval_ms_p95"] for r in rt], "s-", color="#0f766e", label="embed+search+fusion p95")
        for r in rt:
            ax.annotate(f"{r['index'].replace('faiss-', '')}\nrecall {r['recall_at_10']:.3f}", (r["vectors"], r["search_ms_p95"]),
                        textcoords="offset points", xytext=(4, 8), fontsize=8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("vectors")
        ax.set_ylabel("ms")
        ax.legend(fontsize=8)
    ax.set_title("Retrieval latency by corpus size")
    ax = axes[1][1]
    tu = res.get("llama_tuning", {}).get("rows")
    if tu:
        for threads in sorted({r["threads"] for r in tu}):
            rows = [r for r in tu if r["threads"] == threads]
            ax.plot([r["n_batch"] for r in rows], [r["pp_tok_s"] for r in rows], "o-", label=f"{threads} thread(s)")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("n_batch")
        ax.set_ylabel("prompt tokens/s")
        ax.legend()
    ax.set_title("llama.cpp prompt processing")
    fig.suptitle(f"rag benchmarks — `{res['command']}` — {m['date']}", fontsize=12)
    fig.text(0.01, 0.005, f"{m['cpu']}, {m['cores']} cores ({', '.join(m['flags'][-4:])}); load {m['load_start'][0]}→"
             f"{m.get('load_end', ['?'])[0]}; model {st['model']}, embeddings {st['embed_backend']}, threads "
             f"{st['threads']}; {'quick sizes' if res['quick'] else 'full sizes'}", fontsize=8)
    fig.tight_layout(rect=(0, 0.02, 1, 0.96))
    (out / "docs").mkdir(parents=True, exist_ok=True)
    path = out / "docs" / "bench.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- entry point

def run_bench(settings: Settings, *, quick: bool = False, out: str | Path = "bench-out",
              questions: str | Path | None = None, index_chunks: int | None = None,
              vector_sizes=None, rounds: int | None = None, command: str | None = None,
              llama_builds: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    plan = Plan.make(quick, index_chunks, vector_sizes, rounds)
    if plan.index_chunks < 1 or plan.rounds < 1 or any(n < 10 for n in plan.vector_sizes):
        raise ConfigError("benchmark sizes must be at least 1 chunk, 1 round and 10 vectors")
    qfile = Path(questions) if questions else DEFAULT_QUESTIONS
    qs = load_questions(qfile)
    out = Path(out)
    try:
        (out / "docs").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot write benchmark output to {out}: {exc.strerror}") from None
    if command is None:
        command = "rag bench" + (" --quick" if quick else "")
    res: dict = {"command": command, "quick": quick, "plan": asdict(plan), "questions_file": _rel(qfile),
                 "questions": len(qs), "machine": machine_info(), "errors": {},
                 "settings": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(settings).items()
                              if not _secret(k)}}
    t_start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        work = Path(tmp)
        answer_index = work / "index-answers"
        prompts: list[str] = []

        def step(key: str, fn, *args) -> None:
            _log(f"{SECTIONS.get(key, key)} …")
            t = time.monotonic()
            try:
                value = fn(*args)
                if key == "stages":
                    prompts.extend(value or [])
            except Exception as exc:  # noqa: BLE001 - one failing benchmark must not lose the others
                res["errors"][key] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                _log(f"{key} failed: {res['errors'][key]}")
                if key == "stages":
                    res["errors"].setdefault("latency", res["errors"][key])
                    res["errors"].setdefault("llm", res["errors"][key])
            res.setdefault("seconds", {})[key] = round(time.monotonic() - t, 1)

        step("embeddings", bench_embeddings, settings, plan, qs, work, res)
        step("stages", bench_answers, settings, plan, qs, answer_index, res)
        from .bench_speed import bench_builds, bench_cold_start

        step("cold", lambda: bench_cold_start(settings, answer_index, qs[0].text, res, runs=plan.cold_runs))
        builds = [str(Path(p).expanduser()) for p in (llama_builds or [])]
        if builds:
            asked = qs[: plan.max_questions] if plan.max_questions else qs
            step("builds", lambda: bench_builds(settings, builds, answer_index, asked, res,
                                                max_answer_tokens=plan.max_answer_tokens or settings.max_answer_tokens,
                                                rounds=plan.build_rounds, found=_found))
        prompt = max(prompts, key=len) if prompts else "Summarise the documents. " * 60
        step("llama_tuning", bench_llama_tuning, settings, plan, prompt, res)
        step("chat", bench_chat, settings, plan, qs, answer_index, res)
        from .bench_api import bench_api

        step("api", bench_api, settings, plan, qs, answer_index, res)
        step("indexing", bench_indexing, settings, plan, work, res)
        step("formats", bench_document_kinds, settings, plan, work, res)
        step("retrieval", bench_retrieval, settings, plan, qs, res)
    res["machine"]["load_end"] = [round(x, 2) for x in os.getloadavg()]
    res["seconds"]["total"] = round(time.monotonic() - t_start, 1)
    report = write_report(res, out)
    chart = write_chart(res, out)
    (out / "bench.json").write_text(json.dumps(res, indent=1, default=str), encoding="utf-8")
    print(f"wrote {report}, {chart} and {out / 'bench.json'} in {res['seconds']['total']:.0f} s")
    if res["errors"]:
        for key, why in res["errors"].items():
            print(f"not measured: {SECTIONS.get(key, key)}: {why}", file=sys.stderr)
        return 1
    return 0


def _secret(name: str) -> bool:
    return any(w in name for w in ("key", "password", "auth")) or (name.endswith("token") and "tokens" not in name)


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
