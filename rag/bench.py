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

This module describes the machine and runs every benchmark (`run_bench`); the work is done in:

    rag.bench_common   the plan of sizes, section titles, the question file, shared helpers
    rag.bench_llm      answer stages, latency, pipeline against llama.cpp, llama.cpp tuning
    rag.bench_embed    embeddings: PyTorch against ONNX int8
    rag.bench_index    indexing a synthetic corpus, reading each kind of document, retrieval at scale
    rag.bench_chat     the chat process
    rag.bench_api      the HTTP API
    rag.bench_speed    cold start, and llama.cpp builds side by side
    rag.bench_report   BENCHMARKS.md and docs/bench.png
"""
from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from .bench_chat import bench_chat
from .bench_common import (SECTIONS, Plan, Question, _found, _free_port, _log, corpus_words, load_questions, median,
                           p95, peak_rss_mb)
from .bench_embed import bench_embeddings, text_windows
from .bench_index import (DIM, _exact_top, bench_document_kinds, bench_indexing, bench_retrieval, embedding_like,
                          synthetic_document)
from .bench_llm import STAGES, RecordingGenerator, bench_answers, bench_llama_tuning
from .bench_report import _fmt, _table, conclusions, write_chart, write_report
from .config import REPO_ROOT, Settings
from .errors import ConfigError

# rag.bench keeps the names it had before the split (tests and rag.bench_api import some of them).
__all__ = ["DIM", "SECTIONS", "STAGES", "Plan", "Question", "RecordingGenerator", "_exact_top", "_fmt", "_found",
           "_free_port", "_table", "bench_answers", "bench_chat", "bench_document_kinds", "bench_embeddings",
           "bench_indexing", "bench_llama_tuning", "bench_retrieval", "conclusions", "corpus_words", "embedding_like",
           "load_questions", "machine_info", "median", "p95", "peak_rss_mb", "run_bench", "synthetic_document",
           "text_windows", "write_chart", "write_report"]

DEFAULT_QUESTIONS = REPO_ROOT / "tests" / "fixtures" / "seed_questions.jsonl"
CPU_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16",
             "avx_vnni", "amx_tile", "amx_int8", "amx_bf16")
PACKAGES = ("torch", "sentence-transformers", "transformers", "onnxruntime", "faiss-cpu", "llama-cpp-python",
            "bm25s", "numpy", "gradio")


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

        builds = [str(Path(p).expanduser()) for p in (llama_builds or [])]
        step("cold", lambda: bench_cold_start(settings, answer_index, qs[0].text, res, runs=plan.cold_runs,
                                              pythons=builds))
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
