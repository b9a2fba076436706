"""The vector-store seam and its FAISS implementation.

Vectors are L2-normalised, so inner product is cosine similarity. Ids are int64 row numbers that
the index's chunk table maps to chunks. Files are written with ``faiss.write_index``: no pickle.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol, Sequence

import numpy as np


class VectorStore(Protocol):
    dim: int

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None: ...
    def remove(self, ids: Sequence[int]) -> int: ...
    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]: ...
    def vectors(self, ids: Sequence[int]) -> np.ndarray: ...
    def save(self, path: Path) -> None: ...
    def __len__(self) -> int: ...


class FaissStore:
    """Exact inner-product search (``IndexFlatIP``) behind an ``IndexIDMap2``."""

    kind = "faiss-flat-ip"

    def __init__(self, dim: int, index=None):
        import faiss

        self.dim = dim
        self._faiss = faiss
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def __len__(self) -> int:
        return self.index.ntotal

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {vectors.shape}")
        if len(ids) != len(vectors):
            raise ValueError("ids and vectors differ in length")
        if len(ids):
            self.index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))

    def remove(self, ids: Sequence[int]) -> int:
        if not len(ids):
            return 0
        return int(self.index.remove_ids(np.asarray(ids, dtype=np.int64)))

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        if len(self) == 0 or k <= 0:
            return []
        q = np.ascontiguousarray(np.asarray(query, dtype=np.float32).reshape(1, -1))
        scores, ids = self.index.search(q, min(k, len(self)))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        if not len(ids):
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([self.index.reconstruct(int(i)) for i in ids]).astype(np.float32)

    def save(self, path: Path) -> None:
        self._faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path) -> "FaissStore":
        import faiss

        index = faiss.read_index(str(path))
        return cls(index.d, index)
