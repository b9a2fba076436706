"""The vector-store seam and its FAISS implementation (exact search, or IVF for large corpora).

Vectors are L2-normalised, so inner product is cosine similarity. Ids are int64 row numbers that
the index's chunk table maps to chunks. Files are written with ``faiss.write_index``: no pickle.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np


class VectorStore(Protocol):
    dim: int

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None: ...
    def remove(self, ids: Sequence[int]) -> int: ...
    def search(self, query: np.ndarray, k: int, ids: np.ndarray | None = None) -> list[tuple[int, float]]: ...
    def vectors(self, ids: Sequence[int]) -> np.ndarray: ...
    def save(self, path: Path) -> None: ...
    def __len__(self) -> int: ...


# Exact search up to this many vectors; an inverted-file (IVF) index beyond it. Measured on the
# 2-core machine (BENCHMARKS.md, `rag bench`): one exact query took a median 41 ms at 100,000 vectors
# and 304 ms at 1,000,000 while the machine was busy (memory bandwidth bounds it: about 1.5 KB read
# per vector), so up to 50,000 vectors it stays near 20 ms; the IVF index answered in 1.5 ms and
# 16 ms at those sizes with recall@10 of 0.978 and 0.985.
EXACT_MAX_VECTORS = 50_000
# The IVF index has about sqrt(n) lists and searches 4·sqrt(lists) of them for every query (about a
# fifth of the lists at 100,000 vectors, an eighth at 1,000,000), which kept recall@10 against exact
# search at or above 0.95 on 384-d test data with the structure of sentence embeddings.
IVF_PROBE_FACTOR = 4.0
IVF_TRAIN_PER_LIST = 40


def ivf_lists(n: int) -> int:
    return int(min(8192, max(64, round(n ** 0.5))))


def ivf_probes(nlist: int) -> int:
    return int(min(nlist, max(8, round(IVF_PROBE_FACTOR * nlist ** 0.5))))


class FaissStore:
    """Inner-product search in FAISS, exact or approximate by size.

    Up to ``exact_max`` vectors: ``IndexFlatIP`` behind an ``IndexIDMap2`` (exact). Beyond: an
    ``IndexIVFFlat`` with a hash-table direct map, which keeps our ids, can remove vectors and
    reconstruct them by id. Adding past the limit converts the index, and ``save`` writes the type
    that fits the size at that moment (after removals an IVF index may become exact again).
    """

    kind = "faiss-flat-ip"

    def __init__(self, dim: int, index=None, *, exact_max: int = EXACT_MAX_VECTORS):
        import faiss

        self.dim = dim
        self.exact_max = exact_max
        self._faiss = faiss
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.kind = self._kind()

    @property
    def approximate(self) -> bool:
        return isinstance(self.index, self._faiss.IndexIVF)

    def _kind(self) -> str:
        return "faiss-ivf-flat-ip" if self.approximate else "faiss-flat-ip"

    def __len__(self) -> int:
        return self.index.ntotal

    # ------------------------------------------------------------------ index type

    def _all(self) -> tuple[np.ndarray, np.ndarray]:
        """Every (id, vector) in the store."""
        faiss = self._faiss
        if self.approximate:
            ivf = self.index
            invlists = ivf.invlists
            ids, vecs = [], []
            for lst in range(ivf.nlist):
                size = invlists.list_size(lst)
                if size:
                    ids.append(faiss.rev_swig_ptr(invlists.get_ids(lst), size).copy())
                    codes = faiss.rev_swig_ptr(invlists.get_codes(lst), size * ivf.code_size)
                    vecs.append(np.frombuffer(codes.tobytes(), dtype=np.float32).reshape(size, self.dim))
            if not ids:
                return np.zeros(0, dtype=np.int64), np.zeros((0, self.dim), dtype=np.float32)
            return np.concatenate(ids), np.vstack(vecs)
        ids = faiss.vector_to_array(self.index.id_map).astype(np.int64)
        inner = faiss.downcast_index(self.index.index)
        vecs = inner.reconstruct_n(0, inner.ntotal) if inner.ntotal else np.zeros((0, self.dim), np.float32)
        return ids, np.asarray(vecs, dtype=np.float32).reshape(-1, self.dim)

    def _rebuild(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Replace the index with the type that fits ``len(ids)`` vectors, holding exactly these."""
        faiss = self._faiss
        if len(ids) <= self.exact_max:
            index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
        else:
            nlist = ivf_lists(len(ids))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(self.dim), self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.cp.niter = 10
            rng = np.random.default_rng(len(ids))
            sample = vectors if len(vectors) <= nlist * IVF_TRAIN_PER_LIST else \
                vectors[np.sort(rng.choice(len(vectors), nlist * IVF_TRAIN_PER_LIST, replace=False))]
            index.train(np.ascontiguousarray(sample, dtype=np.float32))
            index.set_direct_map_type(faiss.DirectMap.Hashtable)
            index.nprobe = ivf_probes(nlist)
        if len(ids):
            index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))
        self.index = index
        self.kind = self._kind()

    def _fits_size(self) -> bool:
        n = len(self)
        if not self.approximate:
            return n <= self.exact_max
        # An IVF index stays while its list count suits the size (within a factor of two).
        return n > self.exact_max and ivf_lists(n) <= 2 * self.index.nlist

    # ------------------------------------------------------------------ the store

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {vectors.shape}")
        if len(ids) != len(vectors):
            raise ValueError("ids and vectors differ in length")
        if not len(ids):
            return
        ids = np.asarray(ids, dtype=np.int64)
        if len(self) + len(ids) > self.exact_max and (not self.approximate
                                                      or ivf_lists(len(self) + len(ids)) > 2 * self.index.nlist):
            old_ids, old_vecs = self._all()
            self._rebuild(np.concatenate([old_ids, ids]), np.vstack([old_vecs, vectors]))
        else:
            self.index.add_with_ids(vectors, ids)

    def remove(self, ids: Sequence[int]) -> int:
        if not len(ids):
            return 0
        return int(self.index.remove_ids(np.asarray(ids, dtype=np.int64)))

    def search(self, query: np.ndarray, k: int, ids: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The ``k`` nearest vectors; with ``ids``, only among those (FAISS skips every other id
        while it searches, so ``k`` results come back whenever ``ids`` holds that many)."""
        if len(self) == 0 or k <= 0 or (ids is not None and not len(ids)):
            return []
        q = np.ascontiguousarray(np.asarray(query, dtype=np.float32).reshape(1, -1))
        if ids is None:
            scores, found = self.index.search(q, min(k, len(self)))
            return _pairs(found, scores)
        faiss = self._faiss
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64))
        k = min(k, len(ids), len(self))
        if not self.approximate:
            scores, found = self.index.search(q, k, params=faiss.SearchParameters(sel=selector))
            return _pairs(found, scores)
        # IVF: the usual lists first; when the chosen vectors lie elsewhere, every list.
        for nprobe in dict.fromkeys((self.index.nprobe, self.index.nlist)):
            scores, found = self.index.search(q, k, params=faiss.SearchParametersIVF(sel=selector, nprobe=nprobe))
            hits = _pairs(found, scores)
            if len(hits) == k:
                break
        return hits

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        if not len(ids):
            return np.zeros((0, self.dim), dtype=np.float32)
        keys = np.asarray(ids, dtype=np.int64)
        return np.asarray(self.index.reconstruct_batch(keys), dtype=np.float32).reshape(len(keys), self.dim)

    def save(self, path: Path) -> None:
        if not self._fits_size():
            self._rebuild(*self._all())
        self._faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path) -> "FaissStore":
        import faiss

        index = faiss.read_index(str(path))
        return cls(index.d, index)


def _pairs(ids: np.ndarray, scores: np.ndarray) -> list[tuple[int, float]]:
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]


# --------------------------------------------------------------------------- choosing a backend

FAISS_FILE = "vectors.faiss"


class StoreConfig:
    """Which vector store new index versions use, and how to reach it.

    ``backend`` is "faiss" (a file per version, searched in-process) or "milvus": Milvus Lite in
    each version folder when ``milvus_uri`` is empty, else one collection per version on the
    Milvus server or cluster at ``milvus_uri`` (``http://host:19530``, with ``milvus_token``)."""

    def __init__(self, backend: str = "faiss", milvus_uri: str = "", milvus_token: str = ""):
        self.backend = backend
        self.milvus_uri = milvus_uri
        self.milvus_token = milvus_token

    @classmethod
    def from_settings(cls, settings) -> "StoreConfig":
        return cls(settings.vector_store, settings.milvus_uri, settings.milvus_token)

    def describe(self) -> str:
        if self.backend != "milvus":
            return self.backend
        return f"milvus ({self.milvus_uri})" if self.milvus_uri else "milvus (Milvus Lite)"


def manifest_backend(manifest: dict) -> str:
    """The backend an index version was built with ("faiss" for versions that predate the choice)."""
    entry = manifest.get("store")
    if isinstance(entry, dict):
        return entry.get("backend", "faiss")
    return "faiss"


def manifest_location(manifest: dict) -> str:
    """Where an index version's vectors live, in the words of ``StoreConfig.describe``."""
    entry = manifest.get("store")
    if manifest_backend(manifest) != "milvus":
        return "faiss"
    uri = entry.get("uri", "")
    return f"milvus ({uri})" if uri.startswith(("http://", "https://", "tcp://")) else "milvus (Milvus Lite)"


def create_store(config: StoreConfig | None, folder: Path, dim: int) -> VectorStore:
    """An empty store for the index version being written into ``folder`` (``v-….tmp``)."""
    if config is None or config.backend == "faiss":
        return FaissStore(dim)
    from .store_milvus import MilvusStore

    if config.milvus_uri:
        version = folder.name[:-len(".tmp")] if folder.name.endswith(".tmp") else folder.name
        return MilvusStore.create_server(folder, version, dim, config.milvus_uri, config.milvus_token)
    return MilvusStore.create_lite(folder, dim)


def save_store(store: VectorStore, folder: Path) -> tuple[list[str], object]:
    """Persist ``store`` into the version ``folder``; returns (files to checksum, manifest entry).

    A Milvus store is flushed and closed: the folder is renamed next, and the process that serves
    the version opens it afresh."""
    if isinstance(store, FaissStore):
        store.save(folder / FAISS_FILE)
        with open(folder / FAISS_FILE, "rb+") as f:
            os.fsync(f.fileno())
        return [FAISS_FILE], store.kind
    store.save(folder)
    entry = {"backend": "milvus", "index": "hnsw-ip" if store.approximate else "flat-ip", **store.where}
    store.close()
    return [], entry


def open_store(folder: Path, manifest: dict, config: StoreConfig | None = None) -> VectorStore:
    """The store of a finished version folder, as its manifest describes it."""
    if manifest_backend(manifest) == "faiss":
        return FaissStore.load(folder / FAISS_FILE)
    from .store_milvus import MilvusStore

    return MilvusStore.open(folder, manifest["store"], manifest["embedding"]["dim"],
                            token=config.milvus_token if config else "")


def close_store(store: VectorStore | None) -> None:
    close = getattr(store, "close", None)
    if close is not None:
        close()


def drop_version_store(folder: Path, config: StoreConfig | None = None) -> None:
    """Before a version folder is deleted: drop its server collection, stop its Milvus Lite server."""
    if (folder / "milvus.json").is_file() or (folder / "vectors.db").is_dir():
        from .store_milvus import drop_server_collection, release_lite_folder

        release_lite_folder(folder)
        drop_server_collection(folder, config.milvus_token if config else "")
