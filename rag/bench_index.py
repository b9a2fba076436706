"""Benchmarks of the index, part of `rag bench`, on synthetic data of any size.

* indexing — a synthetic corpus built by `build_index` in a fresh process: full build, one
  document added, nothing changed, peak RSS; and reading each kind of document (`bench_formats`);
* retrieval at scale — synthetic 384-d vectors shaped like sentence embeddings: latency of the
  chosen FAISS index against exact search, and recall@10.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from .bench_common import Plan, Question, _last_json, _log, _run, _ms, corpus_words, median, p95, peak_rss_mb
from .config import Settings

DIM = 384


# --------------------------------------------------------------------------- indexing

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


def _run_child(settings: Settings, seeds: Path, index: Path) -> dict:
    return _last_json(_run(settings, [sys.executable, "-c", _CHILD, str(seeds), str(index)], "index build failed",
                           timeout=6 * 3600))


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
