"""Building the index: the Builder reads the corpus folder, chunks the new and changed files,
embeds only chunks it has not embedded before, and writes and switches to a new version.

See ``rag.index_plan`` for how the corpus is compared with the live version, ``rag.index_staging``
for the state a build keeps while it runs, and ``rag.index_versions`` for how a version goes live.
"""
from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from . import models
from .chunk import Chunk, Chunker, embedded_text
from .documents import UnreadableDocument, stop_pdf_worker, stream_pieces
from .embed import Embedder
from .errors import CorpusError
from .index_duplicates import near_duplicates
from .index_format import FORMAT, SPOOL, STAGING, ChunkRecord, Location
from .index_plan import BuildReport, _Plan, check_corpus, content_key, plan_build
from .index_staging import _Locations, _spool_read, _spool_write, _Staging
from .index_versions import _disk_full, _write_error, build_lock, collect_garbage, discard_unfinished, publish
from .store import StoreConfig, close_store, create_store, save_store
from .textfiles import iter_text

EMBED_BATCH = 32


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
        check_corpus(self.seeds_dir)        # before the lock: a mistyped folder creates nothing
        if dry_run:
            plan = self._plan()
            plan.report.dry_run = True
            self._count_to_embed(plan)
            if plan.old is not None:
                self._remembered_near_duplicates(plan)
            plan.report.seconds = time.monotonic() - t0
            return plan.report
        with build_lock(self.index_dir):
            collect_garbage(self.index_dir, self.store)     # what a killed build left behind
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
                    discard_unfinished(self.index_dir, self._writing, self.store)
                    if isinstance(exc, OSError) or _disk_full(exc):
                        raise _write_error(self.index_dir, exc) from None
                    raise
            collect_garbage(self.index_dir, self.store)
        plan.report.seconds = time.monotonic() - t0
        return plan.report

    @staticmethod
    def _remembered_near_duplicates(plan: _Plan) -> None:
        """What the live version found, for a run that changes nothing (or only looks)."""
        pairs = plan.old.manifest.get("near_duplicates", [])
        plan.report.near_duplicates_checked = pairs is not None
        plan.report.near_duplicates = [tuple(p) for p in pairs or []]

    def _plan(self) -> _Plan:
        return plan_build(self.seeds_dir, self.index_dir, self.store, self._settings(), self._ocr_bar)

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
            copies: dict[tuple[str, str], list[str]] = {}    # identical files are reported as such, not as similar
            for source, meta in plan.files.items():
                copies.setdefault(content_key(source, meta), []).append(source)
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
        publish(self.index_dir, tmp, version, manifest)
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
