"""A build's working state: the staging file of vectors embedded so far (so a killed build
loses no work), the spool of new chunk texts, and where each chunk occurs, held compactly.
"""
from __future__ import annotations

import json
import os
import time
import zlib
from array import array
from pathlib import Path

import numpy as np

from .index_format import STAGING

CHECKPOINT_CHUNKS = 256           # the staging file is fsynced after at most this many new vectors


class _Staging:
    """Vectors embedded by a build that has not switched yet, so a build that is killed does not
    lose its work: the next build reuses them by chunk id instead of embedding those chunks again.

    The file starts with a header line naming the embedding model and dimension; then fixed-size
    records (12-byte chunk id, the float32 vector, a crc32 of both). Records are appended after
    every batch and fsynced every CHECKPOINT_CHUNKS; a torn or damaged tail is cut off on open.
    """

    def __init__(self, index_dir: Path, embedding: dict, *, writable: bool):
        self.path = Path(index_dir) / STAGING
        self.dim = int(embedding["dim"])
        self.header = (json.dumps({"format": "rag-staging/1", "embedding": embedding}, sort_keys=True)
                       + "\n").encode()
        self.dtype = np.dtype([("id", "S12"), ("vector", "<f4", (self.dim,)), ("crc", "<u4")])
        self.rows: dict[str, int] = {}
        self._records = None
        self._file = None
        self._unsynced = 0
        self._synced_at = 0.0
        valid = self._read()
        if writable:
            if valid is None:
                self.path.unlink(missing_ok=True)
                self._file = open(self.path, "wb")
                self._file.write(self.header)
                self._sync()
            else:
                self._file = open(self.path, "r+b")
                self._file.truncate(valid)
                self._file.seek(valid)

    def _read(self) -> int | None:
        """Load the valid records; the byte length they end at, or None when the file is unusable."""
        try:
            size = self.path.stat().st_size
            with open(self.path, "rb") as f:
                header = f.read(len(self.header))
        except OSError:
            return None
        if header != self.header:
            return None
        n = (size - len(self.header)) // self.dtype.itemsize
        if n:
            try:
                records = np.memmap(self.path, dtype=self.dtype, mode="r", offset=len(self.header), shape=(n,))
            except (OSError, ValueError, OverflowError):
                return None  # changed while being opened: start the staging file afresh
            raw = records.view(np.uint8).reshape(n, self.dtype.itemsize)
            for i in range(n):
                if zlib.crc32(raw[i, :-4].tobytes()) != int(records["crc"][i]):
                    n = i
                    break
                self.rows[records["id"][i].hex()] = i
            self._records = records
        return len(self.header) + n * self.dtype.itemsize

    def __contains__(self, cid: str) -> bool:
        return cid in self.rows

    def vector(self, cid: str) -> np.ndarray:
        return np.asarray(self._records["vector"][self.rows[cid]], dtype=np.float32)

    def append(self, ids: list[str], vectors: np.ndarray) -> None:
        """Write the records; fsync once CHECKPOINT_CHUNKS are unsynced and a second has passed
        (a killed process loses nothing written; the fsync guards against a power cut)."""
        records = np.zeros(len(ids), dtype=self.dtype)
        records["id"] = [bytes.fromhex(cid) for cid in ids]
        records["vector"] = vectors
        raw = records.view(np.uint8).reshape(len(ids), self.dtype.itemsize)
        records["crc"] = [zlib.crc32(raw[i, :-4].tobytes()) for i in range(len(ids))]
        self._file.write(records.tobytes())
        self._unsynced += len(ids)
        if self._unsynced >= CHECKPOINT_CHUNKS and time.monotonic() - self._synced_at >= 1.0:
            self._sync()

    def _sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._unsynced = 0
        self._synced_at = time.monotonic()

    def close(self) -> None:
        if self._file is not None:
            self._sync()
            self._file.close()
            self._file = None
        self._records = None

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- chunk locations while building

class _Locations:
    """Where each row's text occurs, compactly: the first place in flat arrays (a row of a large
    file costs 20 bytes, not a list of tuples), the rare further places in a dict."""

    def __init__(self):
        self.sources: list[str] = []
        self._source_index: dict[str, int] = {}
        self._src = array("i")
        self._start = array("q")
        self._end = array("q")
        self._more: dict[int, list[tuple[str, int, int]]] = {}

    def new_row(self, source: str, start: int, end: int) -> None:
        i = self._source_index.get(source)
        if i is None:
            i = self._source_index[source] = len(self.sources)
            self.sources.append(source)
        self._src.append(i)
        self._start.append(start)
        self._end.append(end)

    def add(self, row: int, source: str, start: int, end: int) -> None:
        self._more.setdefault(row, []).append((source, start, end))

    def __len__(self) -> int:
        return len(self._src)

    def __getitem__(self, row: int) -> list[tuple[str, int, int]]:
        first = (self.sources[self._src[row]], self._start[row], self._end[row])
        return [first, *self._more.get(row, ())]


def _spool_write(spool, text: str, context: str = "") -> None:
    for part in (text, context):
        data = part.encode("utf-8")
        spool.write(len(data).to_bytes(4, "little"))
        spool.write(data)


def _spool_read(spool) -> tuple[str, str]:
    """A chunk's text and the context embedded with it (see ``Chunk.embedded_text``)."""
    parts = []
    for _ in range(2):
        n = int.from_bytes(spool.read(4), "little")
        parts.append(spool.read(n).decode("utf-8"))
    return parts[0], parts[1]
