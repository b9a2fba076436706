"""The index on disk: build, update incrementally, switch atomically, load and check.

Layout of ``index/``::

    CURRENT              {"version": "v-…"}  — replaced atomically; names the live version
    v-…/manifest.json    format, embedding model, dimension, chunk settings, files, file checksums
    v-…/chunks.jsonl     one unique chunk per line: row, id, text, locations [[source, start, end], …]
    v-…/vectors.faiss    the vectors, id = row
    .lock                held (flock) by the one rebuild that may run at a time

A rebuild writes a new version folder beside the live one, fsyncs it, then replaces CURRENT.
Killing it at any point leaves CURRENT naming a complete version.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .chunk import Chunk, Chunker
from .documents import (SUPPORTED_SUFFIXES, Document, Skipped, UnreadableDocument, read_document, reader_version,
                        scan)
from .embed import Embedder, batched
from .errors import (CorpusError, IndexCorruptError, IndexLockedError, IndexMismatchError,
                     IndexMissingError)
from .store import FaissStore

FORMAT = "rag-index/1"
POINTER = "CURRENT"
KEEP_OLD_VERSIONS = 1


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
    chunks_total: int = 0
    chunks_to_embed: int = 0
    chunks_embedded: int = 0
    full_rebuild_reason: str | None = None
    version: str | None = None
    dry_run: bool = False
    seconds: float = 0.0

    @property
    def up_to_date(self) -> bool:
        return not (self.added or self.changed or self.removed or self.renamed or self.full_rebuild_reason)

    def summary(self) -> str:
        lines = []
        if self.full_rebuild_reason:
            lines.append(f"full rebuild: {self.full_rebuild_reason}")
        verb = "would embed" if self.dry_run else "embedded"
        n_embed = self.chunks_to_embed if self.dry_run else self.chunks_embedded
        lines.append(
            f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
            f"{len(self.renamed)} renamed, {len(self.unchanged)} unchanged, {len(self.skipped)} skipped; "
            f"{self.chunks_total} chunks, {verb} {n_embed}")
        for title, items in (("added", self.added), ("changed", self.changed), ("removed", self.removed)):
            lines += [f"  {title}: {s}" for s in items]
        lines += [f"  renamed: {a} -> {b}" for a, b in self.renamed]
        lines += [f"  same content: {b} (indexed once with {a})" for a, b in self.duplicates]
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


def _sha256_path(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    return h.hexdigest()


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """An exclusive flock; the kernel drops it when the holder dies, so no lock goes stale."""
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
        yield
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- loading

@dataclass
class Snapshot:
    """One loaded, checked version of the index."""
    path: Path
    manifest: dict
    chunks: list[ChunkRecord]
    store: FaissStore

    @property
    def version(self) -> str:
        return self.path.name

    def document_pages(self, source: str) -> tuple[int, ...]:
        return tuple(self.manifest["files"].get(source, {}).get("pages", ()))


def current_version(index_dir: Path) -> str | None:
    try:
        return json.loads((Path(index_dir) / POINTER).read_text())["version"]
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, OSError):
        raise IndexCorruptError(f"{Path(index_dir) / POINTER} is unreadable; run `rag index` to rebuild") from None


def load(index_dir: Path, *, embed_model: str | None = None, chunk_settings: dict | None = None,
         verify: bool = True) -> Snapshot:
    index_dir = Path(index_dir)
    version = current_version(index_dir)
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
    if verify:
        for name, expected in manifest["checksums"].items():
            f = path / name
            if not f.is_file():
                raise IndexCorruptError(f"index file {f} is missing; {fix}")
            if _sha256_path(f) != expected:
                raise IndexCorruptError(f"index file {f} is truncated or altered (checksum mismatch); {fix}")
    try:
        with open(path / "chunks.jsonl", encoding="utf-8") as f:
            chunks = [ChunkRecord.from_json(line) for line in f]
        store = FaissStore.load(path / "vectors.faiss")
    except Exception as exc:  # noqa: BLE001 - any parse failure means a damaged index
        raise IndexCorruptError(f"index in {path} cannot be read ({type(exc).__name__}); {fix}") from None
    if len(store) != len(chunks) or store.dim != manifest["embedding"]["dim"]:
        raise IndexCorruptError(f"index in {path} is inconsistent (vectors vs chunks); {fix}")
    return Snapshot(path, manifest, chunks, store)


# --------------------------------------------------------------------------- building

@dataclass
class _Plan:
    report: BuildReport
    old: Snapshot | None
    documents: dict[str, Document]            # files to (re)chunk
    reused: dict[str, list[Location]]          # source -> its chunks' old locations (old file name)
    files: dict[str, dict]                     # manifest "files" entries for the new version


class Builder:
    def __init__(self, seeds_dir: Path, index_dir: Path, embedder: Embedder, chunker: Chunker,
                 *, progress: Callable[[int, int], None] | None = None, show_progress: bool = False):
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
        t0 = time.monotonic()
        if dry_run:
            plan = self._plan()
            plan.report.dry_run = True
            plan.report.chunks_to_embed = self._count_to_embed(plan)
            plan.report.seconds = time.monotonic() - t0
            return plan.report
        with build_lock(self.index_dir):
            plan = self._plan()
            if plan.report.up_to_date and plan.old is not None:
                plan.report.version = plan.old.version
                plan.report.chunks_total = len(plan.old.chunks)
            else:
                self._write(plan)
            self._collect_garbage()
        plan.report.seconds = time.monotonic() - t0
        return plan.report

    def _plan(self) -> _Plan:
        if not self.seeds_dir.is_dir():
            raise CorpusError(f"corpus folder {self.seeds_dir} does not exist; create it and add documents")
        report = BuildReport()
        old = None
        try:
            old = load(self.index_dir)
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
                report.full_rebuild_reason = "chunk settings changed"
                old = None
        old_files: dict[str, dict] = old.manifest["files"] if old else {}
        old_locs: dict[str, list[Location]] = {}
        if old:
            for rec in old.chunks:
                for loc in rec.locations:
                    old_locs.setdefault(loc.source, []).append(loc)
        by_hash = {meta["sha256"]: src for src, meta in old_files.items()}

        found, skipped = scan(self.seeds_dir)
        report.skipped.extend(skipped)
        documents: dict[str, Document] = {}
        reused: dict[str, list[Location]] = {}
        files: dict[str, dict] = {}
        first_of_hash: dict[str, str] = {}
        for source, path in found:
            try:
                doc = read_document(path, source)
            except UnreadableDocument as exc:
                report.skipped.append(Skipped(source, str(exc)))
                continue
            entry = {"sha256": doc.sha256, "chars": len(doc.text), "reader": reader_version(path)}
            if doc.pages:
                entry["pages"] = list(doc.pages)
            files[source] = entry
            if doc.sha256 in first_of_hash:
                report.duplicates.append((first_of_hash[doc.sha256], source))
            first_of_hash.setdefault(doc.sha256, source)
            prev = old_files.get(source)
            if prev is not None and prev["sha256"] == doc.sha256 and prev.get("reader") == entry["reader"]:
                report.unchanged.append(source)
                reused[source] = old_locs.get(source, [])
            elif prev is None and doc.sha256 in by_hash and by_hash[doc.sha256] not in {s for s, _ in found}:
                old_src = by_hash[doc.sha256]
                report.renamed.append((old_src, source))
                reused[source] = old_locs.get(old_src, [])
            else:
                (report.changed if prev is not None else report.added).append(source)
                documents[source] = doc
        report.removed = sorted(set(old_files) - set(files) - {a for a, _ in report.renamed})
        if not files:
            why = "no readable documents" if found else "no supported documents"
            supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
            raise CorpusError(f"{self.seeds_dir} has {why} (supported: {supported}); nothing to index"
                              + (f"; skipped {len(report.skipped)}" if report.skipped else ""))
        return _Plan(report, old, documents, reused, files)

    def _chunks_of(self, plan: _Plan) -> Iterator[Chunk]:
        for source in sorted(plan.documents):
            yield from self.chunker.iter_chunks(source, plan.documents[source].text)

    def _count_to_embed(self, plan: _Plan) -> int:
        known = {rec.id for rec in plan.old.chunks} if plan.old else set()
        new_ids = {c.id for c in self._chunks_of(plan)} - known
        return len(new_ids)

    def _write(self, plan: _Plan) -> None:
        report = plan.report
        old = plan.old
        old_rows = {rec.id: rec for rec in old.chunks} if old else {}
        old_text = {rec.id: rec.text for rec in old.chunks} if old else {}
        # Gather every chunk of the new version: id -> (text, locations).
        texts: dict[str, str] = {}
        locations: dict[str, list[Location]] = {}
        if old:
            loc_to_id = {(l.source, l.start, l.end): rec.id for rec in old.chunks for l in rec.locations}
            for source, locs in plan.reused.items():
                for loc in locs:
                    cid = loc_to_id[(loc.source, loc.start, loc.end)]
                    texts[cid] = old_text[cid]
                    locations.setdefault(cid, []).append(Location(source, loc.start, loc.end))
        for chunk in self._chunks_of(plan):
            texts.setdefault(chunk.id, chunk.text)
            locations.setdefault(chunk.id, []).append(Location(chunk.source, chunk.start, chunk.end))
        ids = sorted(texts, key=lambda cid: min((l.source, l.start) for l in locations[cid]))
        to_embed = [cid for cid in ids if cid not in old_rows]
        report.chunks_to_embed = len(to_embed)
        vectors: dict[str, np.ndarray] = {}
        if old:
            keep = [cid for cid in ids if cid in old_rows]
            if keep:
                vecs = old.store.vectors([old_rows[cid].row for cid in keep])
                vectors.update(zip(keep, vecs))
        self._embed(to_embed, texts, vectors)
        report.chunks_embedded = len(to_embed)

        version = time.strftime("v-%Y%m%dT%H%M%S-") + uuid.uuid4().hex[:6]
        tmp = self.index_dir / (version + ".tmp")
        tmp.mkdir(parents=True)
        store = FaissStore(self.embedder.dim)
        if ids:
            store.add(list(range(len(ids))), np.vstack([vectors[cid] for cid in ids]))
        store.save(tmp / "vectors.faiss")
        with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as f:
            for row, cid in enumerate(ids):
                locs = sorted(locations[cid], key=lambda l: (l.source, l.start))
                f.write(ChunkRecord(row, cid, texts[cid], locs).to_json() + "\n")
            f.flush()
            os.fsync(f.fileno())
        with open(tmp / "vectors.faiss", "rb+") as f:
            os.fsync(f.fileno())
        manifest = {
            "format": FORMAT,
            **self._settings(),
            "store": FaissStore.kind,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "counts": {"files": len(plan.files), "chunks": len(ids)},
            "files": plan.files,
            "skipped": [[s.source, s.reason] for s in report.skipped],
            "checksums": {name: _sha256_path(tmp / name) for name in ("chunks.jsonl", "vectors.faiss")},
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
        report.version = version
        report.chunks_total = len(ids)

    def _embed(self, ids: list[str], texts: dict[str, str], out: dict[str, np.ndarray]) -> None:
        if not ids:
            return
        bar = None
        if self.show_progress:
            from tqdm import tqdm
            bar = tqdm(total=len(ids), unit="chunk", desc="embedding", dynamic_ncols=True)
        done = 0
        try:
            for batch in batched(ids, 64):
                vecs = self.embedder.embed_documents([texts[cid] for cid in batch])
                out.update(zip(batch, vecs))
                done += len(batch)
                if bar is not None:
                    bar.update(len(batch))
                if self.progress is not None:
                    self.progress(done, len(ids))
        finally:
            if bar is not None:
                bar.close()

    def _collect_garbage(self) -> None:
        """Delete unfinished builds and all but the newest old versions (readers may still use them)."""
        live = current_version(self.index_dir)
        versions = []
        for p in self.index_dir.iterdir():
            if p.is_dir() and p.name.startswith("v-"):
                if p.name.endswith(".tmp"):
                    shutil.rmtree(p, ignore_errors=True)
                elif p.name != live:
                    versions.append(p)
        # Oldest first. Names sort by time only to the second, so order by when each was written.
        versions.sort(key=lambda p: (p.stat().st_mtime_ns, p.name))
        for p in versions[:-KEEP_OLD_VERSIONS] if KEEP_OLD_VERSIONS else versions:
            shutil.rmtree(p, ignore_errors=True)
