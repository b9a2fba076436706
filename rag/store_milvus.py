"""Milvus behind the vector-store seam, through pymilvus' ``MilvusClient``.

The vectors of an index version live in one of two places:

* **Milvus Lite** (the ``milvus-lite`` package, the default when Milvus is selected): a data folder
  ``<version folder>/vectors.db``, one collection ``chunks``. Milvus Lite lets one process at a
  time open a data folder (an ``flock`` on ``vectors.db/LOCK``), and pymilvus keeps the in-process
  Milvus Lite server of a folder running until it is released, even after ``client.close()``. So
  this module counts its own users of each folder and releases the server when the last one closes,
  and a process that finds a folder held by another process (the chat window serving a version
  while ``rag index`` reads it to reuse its vectors) opens a private copy of it instead. A finished
  version's folder is never written again, so the copy is exact.
* **A Milvus server or cluster** (``http://host:19530``, optional token): one collection per index
  version, named after the version, created before the version's folder is finished and dropped
  when the version is garbage-collected. The folder records it in ``milvus.json`` from the start,
  so an unfinished build's collection is found and dropped too.

Vectors are L2-normalised and searched by inner product ("IP"), so scores are cosine similarities,
as with FAISS. Milvus Lite uses an exact ``FLAT`` index (the same results as FAISS' flat index); a
server gets ``HNSW``, an approximate index meant for millions of vectors.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import VectorStoreError

LITE_DIR = "vectors.db"            # Milvus Lite's data folder inside a version folder (pymilvus wants ".db")
LITE_COLLECTION = "chunks"
LOCATOR = "milvus.json"            # written into a version folder before its server collection exists
ID, VECTOR = "id", "vector"
BATCH = 1000                       # rows per insert / get request: keeps gRPC messages small
HNSW = {"M": 16, "efConstruction": 200}

_lite_lock = threading.Lock()
_lite_users: dict[str, int] = {}   # Milvus Lite data folder -> open MilvusStores in this process


def collection_name(version: str) -> str:
    """The server collection of an index version (letters, digits and underscores only)."""
    return "rag_" + re.sub(r"[^0-9A-Za-z_]", "_", version)


def _pymilvus():
    try:
        import pymilvus
    except ImportError:  # pragma: no cover - a dependency
        raise VectorStoreError("the Milvus vector store needs pymilvus; install it with "
                               "`pip install 'pymilvus[milvus_lite]'`") from None
    # pymilvus and Milvus Lite log every failed call with a traceback; errors reach the user as one
    # line through VectorStoreError instead.
    for name in ("pymilvus", "pymilvus.milvus_client", "milvus_lite"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return pymilvus


def _held_by_another_process(db_dir: Path) -> bool:
    lock = db_dir / "LOCK"
    try:
        fd = os.open(lock, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _release_lite(path: str) -> None:
    """One user of a Milvus Lite folder is done; stop its server when it was the last."""
    with _lite_lock:
        n = _lite_users.get(path, 0) - 1
        if n > 0:
            _lite_users[path] = n
            return
        _lite_users.pop(path, None)
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(path)


def _cleanup(client, lite_path: str | None, private_copy: str | None) -> None:
    try:
        client.close()
    except Exception:  # noqa: BLE001 - closing is best effort
        pass
    if lite_path is not None:
        _release_lite(lite_path)
    if private_copy is not None:
        shutil.rmtree(private_copy, ignore_errors=True)


class MilvusStore:
    """A ``VectorStore`` in one Milvus collection; ids are the index's int64 row numbers."""

    kind = "milvus"

    def __init__(self, client, collection: str, dim: int, *, where: dict, lite_path: str | None = None,
                 private_copy: str | None = None, approximate: bool = False):
        self.client = client
        self.collection = collection
        self.dim = dim
        self.where = where                     # what the manifest records: {"uri": …, "collection": …}
        self.approximate = approximate
        self._count = self._count_rows()
        self._closer = weakref.finalize(self, _cleanup, client, lite_path, private_copy)

    # ------------------------------------------------------------------ opening

    @classmethod
    def create_lite(cls, folder: Path, dim: int) -> "MilvusStore":
        """A new, empty Milvus Lite store in ``folder/vectors.db``."""
        db = Path(folder) / LITE_DIR
        client, path = cls._open_lite_client(db)
        try:
            cls._create_collection(client, LITE_COLLECTION, dim, approximate=False)
            return cls(client, LITE_COLLECTION, dim, where={"uri": LITE_DIR, "collection": LITE_COLLECTION},
                       lite_path=path)
        except Exception:
            _cleanup(client, path, None)
            raise

    @classmethod
    def create_server(cls, folder: Path, version: str, dim: int, uri: str, token: str = "") -> "MilvusStore":
        """A new, empty collection for index version ``version`` on the Milvus server at ``uri``."""
        name = collection_name(version)
        where = {"uri": uri, "collection": name}
        (Path(folder) / LOCATOR).write_text(json.dumps(where))
        client = cls._server_client(uri, token)
        try:
            if client.has_collection(name):
                client.drop_collection(name)
            cls._create_collection(client, name, dim, approximate=True)
            return cls(client, name, dim, where=where, approximate=True)
        except VectorStoreError:
            raise
        except Exception as exc:  # noqa: BLE001
            client.close()
            raise VectorStoreError(f"Milvus at {uri} could not create collection {name}: {_reason(exc)}") from None

    @classmethod
    def open(cls, folder: Path, where: dict, dim: int, *, token: str = "") -> "MilvusStore":
        """The store a finished version folder's manifest points to (``where``)."""
        uri, name = where["uri"], where["collection"]
        if uri.startswith(("http://", "https://", "tcp://")):
            client = cls._server_client(uri, token)
            try:
                if not client.has_collection(name):
                    raise VectorStoreError(f"Milvus at {uri} has no collection {name}; "
                                           "run `rag index` to rebuild the index")
                client.load_collection(name)
                return cls(client, name, dim, where=where, approximate=True)
            except VectorStoreError:
                client.close()
                raise
            except Exception as exc:  # noqa: BLE001
                client.close()
                raise VectorStoreError(f"Milvus at {uri} could not open collection {name}: {_reason(exc)}") from None
        db = Path(folder) / uri
        if not db.is_dir():
            raise VectorStoreError(f"the Milvus Lite data folder {db} is missing; run `rag index` to rebuild the index")
        private = None
        path = os.path.abspath(db)
        with _lite_lock:
            ours = path in _lite_users
        if not ours and _held_by_another_process(db):
            # Another process serves this version; read a private copy (the folder is never written again).
            private = tempfile.mkdtemp(prefix="rag-milvus-")
            db = Path(private) / LITE_DIR
            shutil.copytree(path, db, ignore=shutil.ignore_patterns("LOCK"))
        try:
            client, path = cls._open_lite_client(db)
        except Exception:
            if private:
                shutil.rmtree(private, ignore_errors=True)
            raise
        try:
            client.load_collection(name)
            return cls(client, name, dim, where=where, lite_path=path, private_copy=private)
        except Exception as exc:  # noqa: BLE001
            _cleanup(client, path, private)
            raise VectorStoreError(f"the Milvus Lite data in {Path(folder) / uri} cannot be read "
                                   f"({_reason(exc)}); run `rag index` to rebuild the index") from None

    @staticmethod
    def _open_lite_client(db: Path):
        pymilvus = _pymilvus()
        path = os.path.abspath(db)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with _lite_lock:
            _lite_users[path] = _lite_users.get(path, 0) + 1
        try:
            return pymilvus.MilvusClient(uri=path), path
        except Exception as exc:  # noqa: BLE001
            _release_lite(path)
            if _held_by_another_process(Path(path)):
                raise VectorStoreError(f"the Milvus Lite data in {path} is open in another process") from None
            raise VectorStoreError(f"Milvus Lite could not open {path}: {_reason(exc)}") from None

    @staticmethod
    def _server_client(uri: str, token: str):
        pymilvus = _pymilvus()
        try:
            return pymilvus.MilvusClient(uri=uri, token=token or "", timeout=10)
        except Exception as exc:  # noqa: BLE001
            raise VectorStoreError(f"cannot reach the Milvus server at {uri} ({_reason(exc)}); start it or "
                                   "fix RAG_MILVUS_URI / RAG_MILVUS_TOKEN") from None

    @staticmethod
    def _create_collection(client, name: str, dim: int, *, approximate: bool) -> None:
        from pymilvus import DataType

        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field(ID, DataType.INT64, is_primary=True)
        schema.add_field(VECTOR, DataType.FLOAT_VECTOR, dim=dim)
        params = client.prepare_index_params()
        if approximate:
            params.add_index(field_name=VECTOR, index_type="HNSW", metric_type="IP", params=HNSW)
        else:
            params.add_index(field_name=VECTOR, index_type="FLAT", metric_type="IP")
        # Strong consistency: a search right after the build sees every vector written.
        client.create_collection(name, schema=schema, consistency_level="Strong")
        # The collection is empty, so there is nothing to wait for (and pymilvus' wait polls every
        # 0.5 s through a call Milvus Lite does not implement).
        client.create_index(name, params, sync=False)
        client.load_collection(name)

    # ------------------------------------------------------------------ the VectorStore seam

    def __len__(self) -> int:
        return self._count

    def _count_rows(self) -> int:
        res = self.client.query(self.collection, filter="", output_fields=["count(*)"], consistency_level="Strong")
        return int(res[0]["count(*)"]) if res else 0

    def _check(self, vectors: np.ndarray) -> np.ndarray:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {vectors.shape}")
        return vectors

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        vectors = self._check(vectors)
        if len(ids) != len(vectors):
            raise ValueError("ids and vectors differ in length")
        for start in range(0, len(ids), BATCH):
            rows = [{ID: int(i), VECTOR: v.tolist()}
                    for i, v in zip(ids[start:start + BATCH], vectors[start:start + BATCH])]
            self.client.insert(self.collection, rows)
        self._count = self._count_rows() if len(ids) else self._count

    def _existing(self, ids: Sequence[int]) -> list[int]:
        found = []
        for start in range(0, len(ids), BATCH):
            batch = [int(i) for i in ids[start:start + BATCH]]
            rows = self.client.query(self.collection, filter=f"{ID} in {batch}", output_fields=[ID],
                                     consistency_level="Strong")
            found += [int(r[ID]) for r in rows]
        return found

    def remove(self, ids: Sequence[int]) -> int:
        if not len(ids):
            return 0
        present = self._existing(list(dict.fromkeys(int(i) for i in ids)))
        for start in range(0, len(present), BATCH):
            self.client.delete(self.collection, ids=present[start:start + BATCH])
        self._count -= len(present)
        return len(present)

    def search(self, query: np.ndarray, k: int, ids: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The ``k`` nearest vectors; with ``ids``, only among those (a filter expression that
        Milvus applies while it searches)."""
        if len(self) == 0 or k <= 0 or (ids is not None and not len(ids)):
            return []
        q = self._check(np.asarray(query, dtype=np.float32).reshape(1, -1))
        limit = min(k, len(self)) if ids is None else min(k, len(ids), len(self))
        params: dict = {"metric_type": "IP"}
        if self.approximate:
            params["params"] = {"ef": max(64, 2 * limit)}
        extra = {} if ids is None else {"filter": f"{ID} in {[int(i) for i in ids]}"}
        res = self.client.search(self.collection, data=[q[0].tolist()], limit=limit, output_fields=[ID],
                                 search_params=params, consistency_level="Strong", **extra)
        return [(int(hit["id"]), float(hit["distance"])) for hit in res[0]]

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        if not len(ids):
            return np.zeros((0, self.dim), dtype=np.float32)
        wanted = [int(i) for i in ids]
        got: dict[int, list[float]] = {}
        unique = list(dict.fromkeys(wanted))
        for start in range(0, len(unique), BATCH):
            for row in self.client.get(self.collection, ids=unique[start:start + BATCH], output_fields=[VECTOR]):
                got[int(row[ID])] = row[VECTOR]
        missing = [i for i in unique if i not in got]
        if missing:
            raise KeyError(f"no vectors stored for id(s) {missing[:5]}")
        return np.asarray([got[i] for i in wanted], dtype=np.float32)

    def save(self, path: Path | None = None) -> None:
        """Make every written vector durable (the vectors already live where they belong)."""
        self.client.flush(self.collection)

    def close(self) -> None:
        self._closer()

    def drop(self) -> None:
        """Delete this store's collection (a server collection of a version being removed)."""
        try:
            self.client.drop_collection(self.collection)
        finally:
            self.close()


def drop_server_collection(folder: Path, token: str = "") -> bool:
    """Drop the server collection a version folder's ``milvus.json`` names; True when one was dropped.

    A server that cannot be reached keeps the collection (an orphan, named ``rag_v_…``), since
    removing an old version must never fail a rebuild."""
    try:
        where = json.loads((Path(folder) / LOCATOR).read_text())
    except (OSError, ValueError):
        return False
    try:
        client = MilvusStore._server_client(where["uri"], token)
    except VectorStoreError:
        return False
    try:
        if client.has_collection(where["collection"]):
            client.drop_collection(where["collection"])
            return True
        return False
    except Exception:  # noqa: BLE001
        return False
    finally:
        client.close()


def release_lite_folder(folder: Path) -> None:
    """Stop this process' Milvus Lite server of a version folder about to be deleted, if it runs one."""
    path = os.path.abspath(Path(folder) / LITE_DIR)
    with _lite_lock:
        running = _lite_users.pop(path, None)
    if running:
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(path)


def _reason(exc: Exception) -> str:
    msg = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(msg).split())[:200]
