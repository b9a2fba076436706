"""Benchmarks of answers and the LLM, part of `rag bench`.

* answer stages — per-stage time of a warm answer through the Engine, median and p95;
* time to first token and total time of the same answers;
* generation and prompt-processing tokens/s of the pipeline against llama.cpp called directly
  (same model, prompt and max tokens, each answer followed by its direct twin);
* llama.cpp threads and n_batch for prompt processing.
"""
from __future__ import annotations

import time
from pathlib import Path

from .bench_common import Plan, Question, _ms, _r, median, p95
from .config import Settings


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
