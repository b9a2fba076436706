"""Hybrid retrieval: dense (FAISS) and lexical (BM25) rankings fused by reciprocal rank."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

import numpy as np

from .embed import Embedder
from .index import ChunkRecord, Snapshot

RRF_K = 60
_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def bm25_tokens(text: str) -> list[str]:
    return [t.lower() for t in _TOKEN.findall(text)]


@dataclass
class Hit:
    chunk: ChunkRecord
    score: float                  # fused score (higher is better)
    dense_score: float | None     # cosine similarity to the question, when ranked by FAISS
    dense_rank: int | None
    bm25_rank: int | None


class Retriever:
    """Searches one Snapshot. Builds its BM25 index once, when first needed."""

    def __init__(self, snapshot: Snapshot, embedder: Embedder, *, candidates: int = 20):
        self.snapshot = snapshot
        self.embedder = embedder
        self.candidates = candidates
        self._bm25 = None

    def _bm25_index(self):
        if self._bm25 is None:
            import bm25s

            corpus = [bm25_tokens(rec.text) for rec in self.snapshot.chunks]
            bm25 = bm25s.BM25()
            bm25.index(bm25s.tokenize([" ".join(c) for c in corpus], stopwords="en", show_progress=False),
                       show_progress=False)
            self._bm25 = bm25
        return self._bm25

    def bm25_search(self, query: str, k: int) -> list[tuple[int, float]]:
        import bm25s

        if not self.snapshot.chunks:
            return []
        bm25 = self._bm25_index()
        tokens = bm25s.tokenize([query], stopwords="en", return_ids=False, show_progress=False)
        if not tokens or not tokens[0]:
            return []
        k = min(k, len(self.snapshot.chunks))
        docs, scores = bm25.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        return [(int(d), float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]

    def search(self, query: str, k: int, query_vector: np.ndarray | None = None,
               timings: dict | None = None) -> list[Hit]:
        """The ``k`` best chunks; ``timings``, when given, receives dense_s, bm25_s and fusion_s."""
        if query_vector is None:
            query_vector = self.embedder.embed_query(query)
        t0 = time.perf_counter()
        dense = self.snapshot.store.search(query_vector, self.candidates)
        t1 = time.perf_counter()
        lexical = self.bm25_search(query, self.candidates)
        t2 = time.perf_counter()
        fused: dict[int, float] = {}
        info: dict[int, dict] = {}
        for rank, (row, score) in enumerate(dense):
            fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank + 1)
            info.setdefault(row, {})["dense"] = (rank, score)
        for rank, (row, _score) in enumerate(lexical):
            fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank + 1)
            info.setdefault(row, {})["bm25"] = rank
        order = sorted(fused, key=lambda r: -fused[r])[:k]
        hits = []
        for row in order:
            d = info[row].get("dense")
            hits.append(Hit(self.snapshot.chunks[row], fused[row], d[1] if d else None,
                            d[0] if d else None, info[row].get("bm25")))
        if timings is not None:
            timings.update(dense_s=t1 - t0, bm25_s=t2 - t1, fusion_s=time.perf_counter() - t2)
        return hits
