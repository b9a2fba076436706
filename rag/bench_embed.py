"""Benchmark of the embedders, part of `rag bench`: PyTorch against the int8 ONNX export — chunks/s,
query time, cosine of their vectors, and the retrieval hit rate of an index built and searched
with each."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .bench_common import Plan, Question, _found, _ms, _r, corpus_words, median, p95
from .config import Settings


def text_windows(words: list[str], n: int, length: int = 120, seed: int = 0) -> list[str]:
    """``n`` passages of ``length`` consecutive words of real text (about 150 model tokens each)."""
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, max(1, len(words) - length), n)
    return [" ".join(words[s:s + length]) for s in starts]


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
