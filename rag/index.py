"""The index on disk: build, update incrementally, switch atomically, load and check.

Layout of ``index/``::

    CURRENT              {"version": "v-…"}  — replaced atomically; names the live version
    v-…/manifest.json    format, embedding model, dimension, chunk settings, files, file checksums
    v-…/chunks.jsonl     one unique chunk per line: row, id, text, locations [[source, start, end], …]
    v-…/vectors.faiss    the vectors, id = row (or v-…/vectors.db, Milvus Lite, or a Milvus server
                         collection named in v-…/milvus.json: see rag/store_milvus.py)
    .lock                held (flock) by the one rebuild that may run at a time
    embedded.partial     vectors embedded by a rebuild that did not finish, reused by the next one
    chunks.spool         texts of the new chunks while a rebuild runs (plain text is read block by
                         block, so memory does not grow with the size of a file)

A rebuild writes a new version folder beside the live one, fsyncs it, then replaces CURRENT.
Killing it at any point leaves CURRENT naming a complete version.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import time
import uuid
import zlib
from array import array
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from . import models
from .chunk import Chunk, Chunker, embedded_text
from .documents import (STREAMED_SUFFIXES, SUPPORTED_SUFFIXES, Document, Skipped, TextProbe, UnreadableDocument,
                        iter_text, probe_text, read_document, reader_version, scan, sha256_file,
                        stop_pdf_worker, stream_pieces)
from .embed import Embedder
from .errors import (CorpusError, IndexCorruptError, IndexLockedError, IndexMismatchError,
                     IndexMissingError, IndexWriteError, RagError)
from .regions import Region, regions_from_json
from .store import (StoreConfig, VectorStore, close_store, create_store, drop_version_store,
                    manifest_location, open_store, save_store)

FORMAT = "rag-index/1"
POINTER = "CURRENT"
KEEP_OLD_VERSIONS = 1
STAGING = "embedded.partial"      # vectors of a build that has not finished (see _Staging)
SPOOL = "chunks.spool"            # texts of the new chunks while a build runs
CHECKPOINT_CHUNKS = 256           # the staging file is fsynced after at most this many new vectors
EMBED_BATCH = 32
# Near-duplicate documents: a passage is shared when a passage of the other document is at least
# this similar (cosine); two documents are reported when this share of their passages is shared.
NEAR_DUPLICATE_COSINE = 0.75
NEAR_DUPLICATE_SHARE = 0.5
NEAR_DUPLICATE_SAMPLE = 64        # passages compared per document, at most
NEAR_DUPLICATE_BUDGET = 2e8       # at most this many passage comparisons per build
NEAR_DUPLICATES_KEPT = 500        # pairs kept in the manifest (most similar first)
NEAR_DUPLICATES_SHOWN = 10        # pairs listed in the summary


@dataclass(frozen=True)
class Location:
    source: str
    start: int
    end: int


@dataclass
class ChunkRecord:
    row: int
    id: str
    text: str
    locations: list[Location]

    def to_json(self) -> str:
        return json.dumps({"row": self.row, "id": self.id, "text": self.text,
                           "locations": [[l.source, l.start, l.end] for l in self.locations]},
                          ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> "ChunkRecord":
        d = json.loads(line)
        return cls(d["row"], d["id"], d["text"], [Location(*loc) for loc in d["locations"]])


@dataclass
class BuildReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)   # (old, new)
    skipped: list[Skipped] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # identical files (kept, also)
    near_duplicates: list[tuple[str, str, float]] = field(default_factory=list)  # (a, b, share of passages)
    near_duplicates_checked: bool = True
    chunks_total: int = 0
    chunks_to_embed: int = 0
    chunks_embedded: int = 0
    chunks_resumed: int = 0        # vectors reused from an interrupted build instead of embedded again
    full_rebuild_reason: str | None = None
    store_changed: str | None = None   # "faiss -> milvus (Milvus Lite)": vectors are copied, not embedded
    version: str | None = None
    dry_run: bool = False
    seconds: float = 0.0

    @property
    def up_to_date(self) -> bool:
        return not (self.added or self.changed or self.removed or self.renamed or self.full_rebuild_reason
                    or self.store_changed)

    def summary(self) -> str:
        lines = []
        if self.full_rebuild_reason:
            lines.append(f"full rebuild: {self.full_rebuild_reason}; every chunk is embedded again")
        if self.store_changed:
            lines.append(f"vector store changed ({self.store_changed}): vectors are copied, not embedded again")
        verb = "would embed" if self.dry_run else "embedded"
        n_embed = self.chunks_to_embed if self.dry_run else self.chunks_embedded
        resumed = ""
        if self.chunks_resumed:
            resumed = (f" ({self.chunks_resumed} more {'are' if self.dry_run else 'were'} already embedded "
                       f"by an interrupted build and reused)")
        lines.append(
            f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
            f"{len(self.renamed)} renamed, {len(self.unchanged)} unchanged, {len(self.skipped)} skipped; "
            f"{self.chunks_total if not self.dry_run else self.chunks_to_embed + self.chunks_resumed} "
            f"{'chunks' if not self.dry_run else 'new chunks'}, {verb} {n_embed}{resumed}")
        listed = [("added", self.added), ("changed", self.changed), ("removed", self.removed)]
        if self.dry_run:
            listed.append(("unchanged", self.unchanged))
        for title, items in listed:
            lines += [f"  {title}: {s}" for s in items]
        lines += [f"  renamed: {a} -> {b}" for a, b in self.renamed]
        lines += [f"  same content: {b} (indexed once with {a})" for a, b in self.duplicates]
        lines += [f"  near-duplicates: {a} ~ {b} ({share:.0%} of passages shared)"
                  for a, b, share in self.near_duplicates[:NEAR_DUPLICATES_SHOWN]]
        if not self.near_duplicates_checked:
            lines.append("  near-duplicates: not checked (too many passages for the check's budget)")
        if len(self.near_duplicates) > NEAR_DUPLICATES_SHOWN:
            lines.append(f"  near-duplicates: … and {len(self.near_duplicates) - NEAR_DUPLICATES_SHOWN} more pairs "
                         "(listed in the index manifest)")
        lines += [f"  skipped: {s}" for s in self.skipped]
        if not self.dry_run:
            lines.append("index is up to date" if self.up_to_date else f"index version {self.version} is live")
        return "\n".join(lines)


# --------------------------------------------------------------------------- files and fsync

def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durable(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return "No space left on device" in str(exc)    # FAISS reports write errors as RuntimeError


def _write_error(index_dir: Path, exc: BaseException) -> IndexWriteError:
    keep = "the previous index is still in use"
    if _disk_full(exc):
        return IndexWriteError(f"the disk is full: the new index version could not be written in {index_dir}; "
                               f"{keep}; free some space and run `rag index` again")
    why = getattr(exc, "strerror", None) or " ".join(str(exc).split()) or type(exc).__name__
    return IndexWriteError(f"the new index version could not be written in {index_dir} ({why}); {keep}; "
                           "fix the cause and run `rag index` again")


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """An exclusive flock; the kernel drops it when the holder dies, so no lock goes stale.

    The file ``.lock`` stays (removing it would race with the next holder); it names the pid of
    the process holding it, and nothing once released."""
    index_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(index_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            raise IndexLockedError(f"another rebuild of {index_dir} is running (pid {holder}); try again when it ends") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)     # a released lock names no process
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- loading

@dataclass
class Snapshot:
    """One loaded, checked version of the index."""
    path: Path
    manifest: dict
    chunks: list[ChunkRecord]
    store: VectorStore

    @property
    def version(self) -> str:
        return self.path.name

    def document_pages(self, source: str) -> tuple[int, ...]:
        return tuple(self.manifest["files"].get(source, {}).get("pages", ()))

    def document_regions(self, source: str) -> tuple[Region, ...]:
        return regions_from_json(self.manifest["files"].get(source, {}).get("regions"))


def current_version(index_dir: Path) -> str | None:
    try:
        return json.loads((Path(index_dir) / POINTER).read_text())["version"]
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, OSError):
        raise IndexCorruptError(f"{Path(index_dir) / POINTER} is unreadable; run `rag index` to rebuild") from None


def load(index_dir: Path, *, embed_model: str | None = None, chunk_settings: dict | None = None,
         verify: bool = True, store: StoreConfig | None = None, check_store: bool = True) -> Snapshot:
    """The live version, checked. When a rebuild switches to a new version and removes the one
    being read meanwhile, that is no damage: the new live version is loaded instead."""
    index_dir = Path(index_dir)
    for _ in range(3):
        version = current_version(index_dir)
        try:
            return _load_version(index_dir, version, embed_model, chunk_settings, verify, store, check_store)
        except IndexCorruptError:
            if version is None or current_version(index_dir) == version:
                raise
    return _load_version(index_dir, current_version(index_dir), embed_model, chunk_settings, verify, store,
                         check_store)


def _load_version(index_dir: Path, version: str | None, embed_model: str | None, chunk_settings: dict | None,
                  verify: bool, store: StoreConfig | None, check_store: bool = True) -> Snapshot:
    if version is None:
        raise IndexMissingError(f"no index in {index_dir}; run `rag index` to build it")
    path = index_dir / version
    fix = f"run `rag index --index {index_dir}` to rebuild it"
    try:
        manifest = json.loads((path / "manifest.json").read_text())
    except (OSError, ValueError):
        raise IndexCorruptError(f"index manifest in {path} is missing or unreadable; {fix}") from None
    if manifest.get("format") != FORMAT:
        raise IndexMismatchError(f"index format {manifest.get('format')!r} is not {FORMAT!r}; {fix}")
    if embed_model is not None and manifest["embedding"]["model"] != embed_model:
        raise IndexMismatchError(
            f"index was built with embedding model {manifest['embedding']['model']!r}, not {embed_model!r}; {fix}")
    if chunk_settings is not None and manifest["chunking"] != chunk_settings:
        raise IndexMismatchError(f"index was built with other chunk settings {manifest['chunking']}; {fix}")
    if check_store and store is not None and manifest_location(manifest) != store.describe():
        raise IndexMismatchError(f"index was built with the {manifest_location(manifest)} vector store, but the "
                                 f"settings (RAG_VECTOR_STORE, RAG_MILVUS_URI) select {store.describe()}; {fix}")
    if verify:
        for name, expected in manifest["checksums"].items():
            f = path / name
            if not f.is_file():
                raise IndexCorruptError(f"index file {f} is missing; {fix}")
            if models.sha256_file(f) != expected:
                raise IndexCorruptError(f"index file {f} is truncated or altered (checksum mismatch); {fix}")
    try:
        with open(path / "chunks.jsonl", encoding="utf-8") as f:
            chunks = [ChunkRecord.from_json(line) for line in f]
        store = open_store(path, manifest, store)
    except RagError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parse failure means a damaged index
        raise IndexCorruptError(f"index in {path} cannot be read ({type(exc).__name__}); {fix}") from None
    if len(store) != len(chunks) or store.dim != manifest["embedding"]["dim"]:
        raise IndexCorruptError(f"index in {path} is inconsistent (vectors vs chunks); {fix}")
    return Snapshot(path, manifest, chunks, store)


# --------------------------------------------------------------------------- resumable embedding

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


# --------------------------------------------------------------------------- near-duplicate documents

def near_duplicates(locations: "_Locations | list[list[tuple[str, int, int]]]", vectors: np.ndarray,
                    same_content: set[frozenset[str]] = frozenset()) -> list[tuple[str, str, float]] | None:
    """Pairs of documents that tell much the same thing: (a, b, share of their passages that have a
    close passage, cosine >= NEAR_DUPLICATE_COSINE, in the other). Identical files are left out.

    Cheap: at most NEAR_DUPLICATE_SAMPLE passages per document are compared with every passage,
    fewer when that would exceed NEAR_DUPLICATE_BUDGET comparisons; None when even 4 per document
    would (the check is then not made)."""
    n = len(locations)
    sources = sorted({loc[0] for row in range(n) for loc in locations[row]})
    if len(sources) < 2 or n == 0:
        return []
    doc_index = {s: i for i, s in enumerate(sources)}
    rows_of: list[list[int]] = [[] for _ in sources]
    row_doc = np.empty(n, dtype=np.int64)
    shared_rows: dict[int, set[int]] = {}    # rows (identical passages) found in several documents
    for row in range(n):
        docs = {doc_index[loc[0]] for loc in locations[row]}
        for d in docs:
            rows_of[d].append(row)
        row_doc[row] = min(docs)
        if len(docs) > 1:
            shared_rows[row] = docs
    per_doc = NEAR_DUPLICATE_SAMPLE
    while per_doc >= 4 and sum(min(len(r), per_doc) for r in rows_of) * n > NEAR_DUPLICATE_BUDGET:
        per_doc //= 2
    if per_doc < 4:
        return None
    queries: list[tuple[int, int]] = []     # (document, row)
    for d, rows in enumerate(rows_of):
        take = rows if len(rows) <= per_doc else [rows[i * len(rows) // per_doc] for i in range(per_doc)]
        queries += [(d, r) for r in take]
    asked = np.bincount([d for d, _ in queries], minlength=len(sources))
    hits: dict[tuple[int, int], int] = {}
    vectors = np.asarray(vectors, dtype=np.float32)
    step = max(1, 4_000_000 // n)
    for i in range(0, len(queries), step):
        part = queries[i:i + step]
        sims = vectors[[r for _, r in part]] @ vectors.T
        for (d, _), sim in zip(part, sims):
            close = np.flatnonzero(sim >= NEAR_DUPLICATE_COSINE)
            others = set(np.unique(row_doc[close]).tolist())
            for r in close:
                if int(r) in shared_rows:
                    others |= shared_rows[int(r)]
            others.discard(d)
            for o in others:
                hits[(d, o)] = hits.get((d, o), 0) + 1
    out = []
    for a, b in {tuple(sorted(k)) for k in hits}:
        if frozenset((sources[a], sources[b])) in same_content:
            continue
        share = (hits.get((a, b), 0) + hits.get((b, a), 0)) / (asked[a] + asked[b])
        if share >= NEAR_DUPLICATE_SHARE:
            out.append((sources[a], sources[b], round(float(share), 3)))
    out.sort(key=lambda t: (-t[2], t[0], t[1]))
    return out[:NEAR_DUPLICATES_KEPT]


# --------------------------------------------------------------------------- building

@dataclass
class _NewText:
    """A file whose text is chunked in this build: extracted whole (HTML, PDF, .docx) or, for
    plain text, decoded a block at a time so a large file is never held in memory."""
    path: Path
    size: int
    doc: Document | None = None
    probe: TextProbe | None = None

@dataclass
class _Plan:
    report: BuildReport
    old: Snapshot | None
    documents: dict[str, _NewText]            # files to (re)chunk
    reused: dict[str, list[Location]]          # source -> its chunks' old locations (old file name)
    files: dict[str, dict]                     # manifest "files" entries for the new version


class Builder:
    def __init__(self, seeds_dir: Path, index_dir: Path, embedder: Embedder, chunker: Chunker,
                 *, progress: Callable[[int, int], None] | None = None, show_progress: bool = False,
                 store: StoreConfig | None = None):
        self.store = store or StoreConfig()
        self.seeds_dir = Path(seeds_dir)
        self.index_dir = Path(index_dir)
        self.embedder = embedder
        self.chunker = chunker
        self.progress = progress
        self.show_progress = show_progress

    # The manifest's idea of "same settings": a change here forces a full rebuild.
    def _settings(self) -> dict:
        return {"embedding": {"model": self.embedder.name, "dim": self.embedder.dim},
                "chunking": self.chunker.settings()}

    def build(self, *, dry_run: bool = False) -> BuildReport:
        try:
            return self._build(dry_run)
        finally:
            stop_pdf_worker()      # PDFs are read in a worker process while planning

    def _build(self, dry_run: bool) -> BuildReport:
        t0 = time.monotonic()
        self._check_corpus()        # before the lock: a mistyped folder creates nothing
        if dry_run:
            plan = self._plan()
            plan.report.dry_run = True
            self._count_to_embed(plan)
            if plan.old is not None:
                self._remembered_near_duplicates(plan)
            plan.report.seconds = time.monotonic() - t0
            return plan.report
        with build_lock(self.index_dir):
            self._collect_garbage()     # what a killed build left behind
            plan = self._plan()
            if plan.report.up_to_date and plan.old is not None:
                plan.report.version = plan.old.version
                plan.report.chunks_total = len(plan.old.chunks)
                self._remembered_near_duplicates(plan)
                (self.index_dir / STAGING).unlink(missing_ok=True)
            else:
                self._writing = None
                try:
                    self._write(plan)
                except (OSError, RuntimeError) as exc:
                    self._discard_unfinished(self._writing)
                    if isinstance(exc, OSError) or _disk_full(exc):
                        raise _write_error(self.index_dir, exc) from None
                    raise
            self._collect_garbage()
        plan.report.seconds = time.monotonic() - t0
        return plan.report

    @staticmethod
    def _remembered_near_duplicates(plan: _Plan) -> None:
        """What the live version found, for a run that changes nothing (or only looks)."""
        pairs = plan.old.manifest.get("near_duplicates", [])
        plan.report.near_duplicates_checked = pairs is not None
        plan.report.near_duplicates = [tuple(p) for p in pairs or []]

    def _check_corpus(self) -> None:
        if not self.seeds_dir.is_dir():
            what = "is not a folder" if self.seeds_dir.exists() else "does not exist"
            raise CorpusError(f"corpus folder {self.seeds_dir} {what}; create it and add documents")

    def _plan(self) -> _Plan:
        self._check_corpus()
        report = BuildReport()
        old = None
        try:
            old = load(self.index_dir, store=self.store, check_store=False)
        except IndexMissingError:
            pass
        except (IndexCorruptError, IndexMismatchError) as exc:
            report.full_rebuild_reason = f"the existing index cannot be reused ({exc})"
        if old is not None:
            s = self._settings()
            if old.manifest["embedding"] != s["embedding"]:
                report.full_rebuild_reason = (f"embedding model changed ({old.manifest['embedding']['model']} -> "
                                              f"{s['embedding']['model']})")
                old = None
            elif old.manifest["chunking"] != s["chunking"]:
                before, after = old.manifest["chunking"], s["chunking"]
                diff = ", ".join(f"{k} {before.get(k)} -> {after.get(k)}" for k in sorted(set(before) | set(after))
                                 if before.get(k) != after.get(k))
                report.full_rebuild_reason = f"chunk settings changed ({diff})"
                old = None
            elif manifest_location(old.manifest) != self.store.describe():
                report.store_changed = f"{manifest_location(old.manifest)} -> {self.store.describe()}"
        old_files: dict[str, dict] = old.manifest["files"] if old else {}
        old_locs: dict[str, list[Location]] = {}
        if old:
            for rec in old.chunks:
                for loc in rec.locations:
                    old_locs.setdefault(loc.source, []).append(loc)
        by_hash = {meta["sha256"]: src for src, meta in old_files.items()}

        found, skipped = scan(self.seeds_dir)
        report.skipped.extend(skipped)
        documents: dict[str, _NewText] = {}
        reused: dict[str, list[Location]] = {}
        files: dict[str, dict] = {}
        first_of_hash: dict[str, str] = {}
        found_sources = {s for s, _ in found}
        for source, path in found:
            # Only the checksum is needed to know a file is unchanged; its text is read when it is not.
            reader = reader_version(path)
            probe = None
            try:
                if path.suffix.lower() in STREAMED_SUFFIXES:
                    probe = probe_text(path)
                    sha = probe.sha256
                else:
                    sha = sha256_file(path)
            except UnreadableDocument as exc:
                report.skipped.append(Skipped(source, str(exc)))
                continue
            prev = old_files.get(source)
            old_src = by_hash.get(sha) if prev is None else None
            if prev is not None and prev["sha256"] == sha and prev.get("reader") == reader:
                report.unchanged.append(source)
                entry = dict(prev)
                reused[source] = old_locs.get(source, [])
            elif (old_src is not None and old_src not in found_sources
                  and old_files[old_src].get("reader") == reader):
                report.renamed.append((old_src, source))
                entry = dict(old_files[old_src])
                reused[source] = old_locs.get(old_src, [])
            else:
                try:
                    if probe is not None:
                        new = _NewText(path, probe.size, probe=probe)
                        entry = {"sha256": sha, "chars": 0, "reader": reader}   # chars: counted when chunked
                    else:
                        doc = read_document(path, source, isolated=True, ocr_progress=self._ocr_bar(source))
                        new = _NewText(path, path.stat().st_size, doc=doc)
                        entry = {"sha256": doc.sha256, "chars": len(doc.text), "reader": reader}
                        if doc.pages:
                            entry["pages"] = list(doc.pages)
                        if doc.regions:
                            entry["regions"] = [r.to_json() for r in doc.regions]
                except (UnreadableDocument, OSError) as exc:
                    reason = str(exc) if isinstance(exc, UnreadableDocument) else f"cannot read ({exc})"
                    report.skipped.append(Skipped(source, reason))
                    continue
                (report.changed if prev is not None else report.added).append(source)
                documents[source] = new
            files[source] = entry
            if sha in first_of_hash:
                report.duplicates.append((first_of_hash[sha], source))
            first_of_hash.setdefault(sha, source)
        report.removed = sorted(set(old_files) - set(files) - {a for a, _ in report.renamed})
        if not files:
            why = "no readable documents" if found else "no supported documents"
            supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
            raise CorpusError(f"{self.seeds_dir} has {why} (supported: {supported}); nothing to index"
                              + (f"; skipped {len(report.skipped)}" if report.skipped else ""))
        return _Plan(report, old, documents, reused, files)

    def _chunks_of(self, plan: _Plan, source: str, bar=None) -> Iterator[Chunk]:
        """The chunks of one new or changed file; text files (plain, CSV) are read and chunked a block at a time."""
        new = plan.documents[source]
        if new.doc is not None:
            yield from self.chunker.iter_chunks(source, new.doc.text, regions=new.doc.regions)
            if bar is not None:
                bar.update(new.size)
            return
        chars = 0

        decoded = iter_text(new.path, new.probe, on_block=bar.update if bar is not None else None)
        stored, regions = stream_pieces(new.path, decoded)

        def pieces() -> Iterator[str]:
            nonlocal chars
            for piece in stored:
                chars += len(piece)
                yield piece

        try:
            yield from self.chunker.iter_chunks_stream(source, pieces(), regions=regions)
        except UnreadableDocument as exc:
            raise CorpusError(f"{source} became unreadable during the rebuild ({exc}); run `rag index` again") from None
        plan.files[source]["chars"] = chars
        if regions:
            plan.files[source]["regions"] = [r.to_json() for r in regions]

    def _ocr_bar(self, source: str) -> Callable[[int, int], None] | None:
        """Shows the pages of one PDF read by OCR, apart from the other bars (OCR is slow)."""
        if not self.show_progress:
            return None
        bar = None

        def update(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                from tqdm import tqdm
                bar = tqdm(total=total, unit="page", desc=f"OCR {source}", dynamic_ncols=True)
            bar.update(done - bar.n)
            if done >= total:
                bar.close()
        return update

    def _reading_bar(self, plan: _Plan):
        total = sum(new.size for new in plan.documents.values())
        if not self.show_progress or not total:
            return None
        from tqdm import tqdm
        return tqdm(total=total, unit="B", unit_scale=True, desc="reading", dynamic_ncols=True)

    def _count_to_embed(self, plan: _Plan) -> None:
        known = {rec.id for rec in plan.old.chunks} if plan.old else set()
        bar = self._reading_bar(plan)
        try:
            new_ids = {c.id for source in sorted(plan.documents) for c in self._chunks_of(plan, source, bar)} - known
        finally:
            if bar is not None:
                bar.close()
        staged = _Staging(self.index_dir, self._settings()["embedding"], writable=False)
        plan.report.chunks_resumed = sum(1 for cid in new_ids if cid in staged)
        plan.report.chunks_to_embed = len(new_ids) - plan.report.chunks_resumed
        staged.close()

    def _write(self, plan: _Plan) -> None:
        report = plan.report
        old = plan.old
        old_row = {rec.id: rec.row for rec in old.chunks} if old else {}
        # Every chunk of the new version, one row per distinct text, in order of first appearance
        # (files by name, then by offset). Only ids and locations stay in memory: the texts of new
        # chunks go to a spool file, old texts stay in the old snapshot.
        row_of: dict[str, int] = {}
        ids: list[str] = []
        locations = _Locations()
        spool_path = self.index_dir / SPOOL
        with open(spool_path, "w+b") as spool:
            def add(cid: str, source: str, start: int, end: int, text: str | None, context: str = "") -> None:
                row = row_of.get(cid)
                if row is None:
                    row_of[cid] = len(ids)
                    ids.append(cid)
                    locations.new_row(source, start, end)
                    if cid not in old_row:
                        _spool_write(spool, text, context)
                else:
                    locations.add(row, source, start, end)

            loc_to_id = {(l.source, l.start, l.end): rec.id for rec in old.chunks for l in rec.locations} if old else {}
            bar = self._reading_bar(plan)
            try:
                for source in sorted(plan.files):
                    if source in plan.reused:
                        for loc in sorted(plan.reused[source], key=lambda l: (l.start, l.end)):
                            add(loc_to_id[(loc.source, loc.start, loc.end)], source, loc.start, loc.end, None)
                    elif source in plan.documents:
                        for chunk in self._chunks_of(plan, source, bar):
                            add(chunk.id, chunk.source, chunk.start, chunk.end, chunk.text, chunk.context)
            finally:
                if bar is not None:
                    bar.close()
            del loc_to_id, row_of
            vectors = np.zeros((len(ids), self.embedder.dim), dtype=np.float32)
            keep = [row for row, cid in enumerate(ids) if cid in old_row]
            if keep:
                vectors[keep] = old.store.vectors([old_row[ids[row]] for row in keep])
            spool.flush()
            spool.seek(0)
            self._embed(ids, old_row, spool, vectors, report)

            version = time.strftime("v-%Y%m%dT%H%M%S-") + uuid.uuid4().hex[:6]
            self._writing = version
            tmp = self.index_dir / (version + ".tmp")
            tmp.mkdir(parents=True)
            store = create_store(self.store, tmp, self.embedder.dim)
            if ids:
                store.add(list(range(len(ids))), vectors)
            vector_files, store_entry = save_store(store, tmp)
            del store
            copies: dict[str, list[str]] = {}    # identical files are reported as such, not as similar
            for source, meta in plan.files.items():
                copies.setdefault(meta["sha256"], []).append(source)
            same_content = {frozenset((a, b)) for group in copies.values() for a in group for b in group if a < b}
            found = near_duplicates(locations, vectors, same_content)
            report.near_duplicates_checked = found is not None
            report.near_duplicates = found or []
            del vectors
            spool.seek(0)
            with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as f:
                for row, cid in enumerate(ids):
                    text = old.chunks[old_row[cid]].text if cid in old_row else _spool_read(spool)[0]
                    locs = [Location(*loc) for loc in sorted(locations[row], key=lambda l: (l[0], l[1]))]
                    f.write(ChunkRecord(row, cid, text, locs).to_json() + "\n")
                f.flush()
                os.fsync(f.fileno())
        spool_path.unlink(missing_ok=True)
        close_store(old.store if old else None)

        manifest = {
            "format": FORMAT,
            **self._settings(),
            "store": store_entry,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "counts": {"files": len(plan.files), "chunks": len(ids)},
            "files": plan.files,
            "skipped": [[s.source, s.reason] for s in report.skipped],
            # null: not checked (over budget)
            "near_duplicates": [list(p) for p in report.near_duplicates] if report.near_duplicates_checked else None,
            "checksums": {name: models.sha256_file(tmp / name) for name in ("chunks.jsonl", *vector_files)},
        }
        _write_durable(tmp / "manifest.json", json.dumps(manifest, indent=1, ensure_ascii=False).encode())
        _fsync_dir(tmp)
        final = self.index_dir / version
        os.replace(tmp, final)
        _fsync_dir(self.index_dir)
        pointer_tmp = self.index_dir / (POINTER + ".tmp")
        _write_durable(pointer_tmp, json.dumps({"version": version}).encode())
        os.replace(pointer_tmp, self.index_dir / POINTER)
        _fsync_dir(self.index_dir)
        (self.index_dir / STAGING).unlink(missing_ok=True)   # its vectors are in the live version now
        report.version = version
        report.chunks_total = len(ids)

    def _embed(self, ids: list[str], old_row: dict[str, int], spool, out: np.ndarray, report: BuildReport) -> None:
        """Fill ``out`` for the rows whose text is in ``spool`` (length-prefixed UTF-8, in row
        order): from the staging file when an interrupted build already embedded them, else by
        embedding them in batches, each appended to the staging file as it is done."""
        staging = _Staging(self.index_dir, self._settings()["embedding"], writable=True)
        new_rows = [row for row, cid in enumerate(ids) if cid not in old_row]
        todo = [row for row in new_rows if ids[row] not in staging]
        for row in new_rows:
            if ids[row] in staging:
                out[row] = staging.vector(ids[row])
        report.chunks_resumed = len(new_rows) - len(todo)
        report.chunks_to_embed = len(todo)
        bar = None
        if self.show_progress and todo:
            from tqdm import tqdm
            bar = tqdm(total=len(todo), unit="chunk", desc="embedding", dynamic_ncols=True)
        done = 0
        pending = set(todo)
        try:
            batch_rows: list[int] = []
            batch_texts: list[str] = []
            for row in new_rows:
                text, context = _spool_read(spool)
                if row not in pending:
                    continue
                batch_rows.append(row)
                batch_texts.append(embedded_text(text, context))
                if len(batch_rows) == EMBED_BATCH or row == todo[-1]:
                    vecs = np.asarray(self.embedder.embed_documents(batch_texts), dtype=np.float32)
                    out[batch_rows] = vecs
                    staging.append([ids[r] for r in batch_rows], vecs)
                    done += len(batch_rows)
                    report.chunks_embedded = done
                    batch_rows, batch_texts = [], []
                    if bar is not None:
                        bar.update(len(vecs))
                    if self.progress is not None:
                        self.progress(done, len(todo))
        finally:
            staging.close()
            if bar is not None:
                bar.close()

    def _discard_unfinished(self, version: str | None) -> None:
        """After a failed write: remove what it left, unless the new version already went live.
        The staging file of embedded vectors stays, so the next build does not embed them again."""
        for name in (POINTER + ".tmp", SPOOL):
            (self.index_dir / name).unlink(missing_ok=True)
        if version is None:
            return
        try:
            live = current_version(self.index_dir)
        except IndexCorruptError:
            live = None
        for folder in (self.index_dir / (version + ".tmp"), self.index_dir / version):
            if folder.name != live and folder.exists():
                try:
                    drop_version_store(folder, self.store)
                except Exception:  # noqa: BLE001 - cleaning up after a failure must not hide it
                    pass
                shutil.rmtree(folder, ignore_errors=True)

    def _collect_garbage(self) -> None:
        """Delete unfinished builds and all but the newest old versions (readers may still use them)."""
        try:
            live = current_version(self.index_dir)
        except IndexCorruptError:
            live = None
        versions = []
        for p in self.index_dir.iterdir():
            if p.is_dir() and p.name.startswith("v-"):
                if p.name.endswith(".tmp"):
                    drop_version_store(p, self.store)
                    shutil.rmtree(p, ignore_errors=True)
                elif p.name != live:
                    versions.append(p)
            elif p.name in (SPOOL, POINTER + ".tmp"):     # left by a build that was killed
                p.unlink(missing_ok=True)
        # Oldest first. Names sort by time only to the second, so order by when each was written.
        versions.sort(key=lambda p: (p.stat().st_mtime_ns, p.name))
        if live is None:    # without a live version, no old one is known to be unneeded
            versions = []
        for p in versions[:-KEEP_OLD_VERSIONS] if KEEP_OLD_VERSIONS else versions:
            drop_version_store(p, self.store)
            shutil.rmtree(p, ignore_errors=True)
