"""Hybrid retrieval: dense (FAISS) and lexical (BM25) rankings fused by reciprocal rank.

A search may be scoped to chosen documents (``scope.Scope``): both rankings then consider only
those documents' chunks while they search, so the k results all come from them, and each hit's
chunk lists only its places in the chosen documents.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from .embed import Embedder
from .index import ChunkRecord, Snapshot
from . import keywords
from .scope import Scope, resolve

RRF_K = 60


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
        self._rows_by_source: dict[str, list[int]] | None = None

    def _bm25_index(self):
        if self._bm25 is None:
            self._bm25 = keywords.for_snapshot(self.snapshot)
        return self._bm25

    # ------------------------------------------------------------------ scoping

    def _source_rows(self) -> dict[str, list[int]]:
        if self._rows_by_source is None:
            rows: dict[str, list[int]] = {}
            for rec in self.snapshot.chunks:
                for loc in rec.locations:
                    rows.setdefault(loc.source, []).append(rec.row)
            self._rows_by_source = rows
        return self._rows_by_source

    def documents(self) -> list[str]:
        """Every document with indexed text (corpus-relative paths), sorted."""
        return sorted(self._source_rows())

    def scope(self, sources) -> Scope | None:
        """The documents ``sources`` (paths, folders, glob patterns) names, or None for all of them;
        ``ScopeError`` when it names none."""
        return resolve(sources, self.documents())

    def rows(self, scope: Scope) -> np.ndarray:
        """The rows of the chunks found in the scope's documents, sorted."""
        by_source = self._source_rows()
        rows = {r for source in scope.sources for r in by_source.get(source, ())}
        return np.fromiter(sorted(rows), dtype=np.int64, count=len(rows))

    # ------------------------------------------------------------------ searching

    def bm25_search(self, query: str, k: int, rows: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The ``k`` best chunks by BM25; with ``rows``, only among those chunks."""
        import bm25s

        if not self.snapshot.chunks or (rows is not None and not len(rows)):
            return []
        bm25 = self._bm25_index()
        tokens = bm25s.tokenize([query], stopwords="en", return_ids=False, show_progress=False)
        if not tokens or not tokens[0]:
            return []
        extra = {}
        if rows is not None:
            mask = np.zeros(len(self.snapshot.chunks), dtype=np.float32)
            mask[rows] = 1.0
            extra["weight_mask"] = mask
        k = min(k, len(self.snapshot.chunks) if rows is None else len(rows))
        docs, scores = bm25.retrieve(tokens, k=k, show_progress=False, n_threads=1, **extra)
        return [(int(d), float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]

    def search(self, query: str, k: int, query_vector: np.ndarray | None = None,
               timings: dict | None = None, scope: Scope | None = None) -> list[Hit]:
        """The ``k`` best chunks (of the ``scope``'s documents, when given); ``timings``, when
        given, receives dense_s, bm25_s and fusion_s."""
        if query_vector is None:
            query_vector = self.embedder.embed_query(query)
        rows = self.rows(scope) if scope is not None else None
        t0 = time.perf_counter()
        dense = self.snapshot.store.search(query_vector, self.candidates, ids=rows)
        t1 = time.perf_counter()
        lexical = self.bm25_search(query, self.candidates, rows)
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
            chunk = self.snapshot.chunks[row]
            if scope is not None:   # cite the chunk only where the chosen documents hold it
                chunk = replace(chunk, locations=[loc for loc in chunk.locations if loc.source in scope])
            hits.append(Hit(chunk, fused[row], d[1] if d else None, d[0] if d else None, info[row].get("bm25")))
        if timings is not None:
            timings.update(dense_s=t1 - t0, bm25_s=t2 - t1, fusion_s=time.perf_counter() - t2)
        return hits
