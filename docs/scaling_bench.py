"""Measurements behind docs/SCALING.md: vector search latency (FAISS vs Milvus Lite) and LLM speed
(in-process llama.cpp vs llama-cpp-python's OpenAI-compatible server).

    .venv/bin/python docs/scaling_bench.py vectors [--sizes 10000 100000]
    .venv/bin/python docs/scaling_bench.py llm [--model models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf]

Synthetic, L2-normalised 384-d vectors (all-MiniLM-L6-v2's size) in 1,000 clusters (topics), as
sentence embeddings are clustered; uniform random vectors are the worst case for approximate
indexes. 200 queries, k = 20 (what the retriever asks for). Latency is per query, one query at a
time, median and 95th percentile. Run it with OMP_NUM_THREADS=1 on a shared machine: FAISS's
OpenMP threads spin-wait and single queries get many times slower when other work holds the cores.
"""
from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DIM, K, QUERIES = 384, 20, 200


def _unit(rng, n, centers=None):
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    if centers is not None:
        v = centers[rng.integers(0, len(centers), n)] + 0.06 * v
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _latency(store, queries) -> dict:
    times = []
    for q in queries:
        t = time.perf_counter()
        store.search(q, K)
        times.append(time.perf_counter() - t)
    times.sort()
    return {"median_ms": round(1000 * statistics.median(times), 2),
            "p95_ms": round(1000 * times[int(0.95 * len(times))], 2)}


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def vectors(sizes: list[int]) -> None:
    from rag.store import FaissStore
    from rag.store_milvus import MilvusStore

    rng = np.random.default_rng(0)
    for n in sizes:
        centers = _unit(rng, 1000)
        data, queries = _unit(rng, n, centers), _unit(rng, QUERIES, centers)
        ids = list(range(n))
        exact = data @ queries.T                                   # ground truth for recall
        truth = [set(np.argsort(-exact[:, j])[:K]) for j in range(QUERIES)]
        row = {"n": n}
        t = time.perf_counter()
        flat = FaissStore(DIM, exact_max=10**12)
        flat.add(ids, data)
        row["faiss_flat_add_s"] = round(time.perf_counter() - t, 2)
        row["faiss_flat"] = _latency(flat, queries)
        auto = FaissStore(DIM)              # the default: exact up to 50,000 vectors, IVF beyond
        t = time.perf_counter()
        auto.add(ids, data)
        auto.save(Path(tempfile.mkdtemp()) / "v.faiss")
        row[f"faiss_default_{auto.kind}_add_s"] = round(time.perf_counter() - t, 2)
        row[f"faiss_default_{auto.kind}"] = _latency(auto, queries)
        found = [[i for i, _ in auto.search(q, K)] for q in queries]
        row[f"faiss_default_{auto.kind}"]["recall_at_20"] = round(
            float(np.mean([len(truth[j] & set(found[j])) / K for j in range(QUERIES)])), 3)
        import faiss
        hnsw = faiss.IndexHNSWFlat(DIM, 16, faiss.METRIC_INNER_PRODUCT)
        t = time.perf_counter()
        hnsw.add(data)
        row["faiss_hnsw16_add_s"] = round(time.perf_counter() - t, 2)
        hnsw.hnsw.efSearch = 64

        class _H:
            def search(self, q, k):
                return hnsw.search(q.reshape(1, -1), k)

        row["faiss_hnsw16_ef64"] = _latency(_H(), queries)
        found = hnsw.search(queries, K)[1]
        row["faiss_hnsw16_ef64"]["recall_at_20"] = round(
            float(np.mean([len(truth[j] & set(found[j])) / K for j in range(QUERIES)])), 3)
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            lite = MilvusStore.create_lite(Path(tmp), DIM)
            lite.add(ids, data)
            lite.save()
            row["milvus_lite_add_s"] = round(time.perf_counter() - t, 2)
            row["milvus_lite_flat"] = _latency(lite, queries)
            got = [i for i, _ in lite.search(queries[0], K)]
            row["milvus_lite_same_top20_as_faiss"] = got == [i for i, _ in flat.search(queries[0], K)]
            lite.close()
            row["milvus_lite_disk_mb"] = round(_du(Path(tmp)) / 2**20, 1)
        row["raw_float32_mb"] = round(n * DIM * 4 / 2**20, 1)
        print(json.dumps(row), flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def llm(model: Path, threads: int) -> None:
    import httpx

    from rag.generate import GenerationStats, LlamaCppGenerator
    from rag.generate_openai import OpenAIGenerator

    text = (ROOT / "seeds").glob("*.txt").__next__().read_text()[:1800]
    messages = [{"role": "system", "content": "Answer from the passage in two sentences."},
                {"role": "user", "content": f"<passages>\n[1] {text}\n</passages>\nWhat does the passage say about prices?"}]

    def run(gen, label, repeats=3):
        out = []
        for i in range(repeats):
            msgs = [dict(m) for m in messages]
            msgs[-1]["content"] += " " * i              # defeat prompt caching between runs
            p = gen.render(msgs)
            st = GenerationStats()
            t = time.perf_counter()
            n = sum(1 for _ in gen.stream(p, max_tokens=96, timeout_s=300, stats=st))
            total = time.perf_counter() - t
            out.append({"prompt_tokens": st.prompt_tokens, "first_token_s": round(st.prompt_s, 2),
                        "completion_tokens": n, "gen_tok_s": round(n / st.generate_s, 1) if st.generate_s else None,
                        "total_s": round(total, 2)})
        print(json.dumps({"generator": label, "runs": out}), flush=True)

    local = LlamaCppGenerator(model, threads=threads)
    run(local, "in-process llama.cpp")
    local.close()

    port = _free_port()
    log = open(tempfile.mktemp(suffix=".log"), "w")
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "2048", "--n_threads", str(threads),
                             "--verbose", "False", "--interrupt_requests", "False"], stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(url + "/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        gen = OpenAIGenerator(url)
        run(gen, "llama-cpp-python server", repeats=1)   # the first request warms the server up
        run(gen, "llama-cpp-python server")
        # two users at once: the server answers them one after the other
        results = {}

        def one(i):
            msgs = [dict(m) for m in messages]
            msgs[-1]["content"] += "\n" * (i + 5)
            st = GenerationStats()
            t = time.perf_counter()
            n = sum(1 for _ in gen.stream(gen.render(msgs), max_tokens=96, timeout_s=300, stats=st))
            results[i] = {"completion_tokens": n, "first_token_s": round(st.prompt_s, 2),
                          "total_s": round(time.perf_counter() - t, 2)}

        threads_ = [threading.Thread(target=one, args=(i,)) for i in range(2)]
        t = time.perf_counter()
        for th in threads_:
            th.start()
        for th in threads_:
            th.join()
        wall = time.perf_counter() - t
        toks = sum(r["completion_tokens"] for r in results.values())
        print(json.dumps({"generator": "llama-cpp-python server, 2 concurrent users", "runs": list(results.values()),
                          "wall_s": round(wall, 2), "aggregate_gen_tok_s": round(toks / wall, 1)}), flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="what", required=True)
    v = sub.add_parser("vectors")
    v.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    m = sub.add_parser("llm")
    m.add_argument("--model", type=Path, default=ROOT / "models" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")
    m.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if args.what == "vectors":
        vectors(args.sizes)
    else:
        llm(args.model, args.threads)


if __name__ == "__main__":
    main()
