"""What a build is to do, and what it did: the BuildReport, and the plan that compares the corpus
folder with the live version (which files are added, changed, renamed, removed or unchanged, and
which unchanged chunks can be reused). The text attachments of an e-mail follow it: read again
when it changes, renamed with it, removed with it or when it no longer holds them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .documents import (PART_SUFFIXES, STREAMED_SUFFIXES, SUPPORTED_SUFFIXES, Document, Skipped,
                        UnreadableDocument, attachments, read_document, reader_version, scan)
from .errors import CorpusError, IndexCorruptError, IndexMismatchError, IndexMissingError
from .index_format import Location, Snapshot, load
from .store import StoreConfig, manifest_location
from .textfiles import TextProbe, probe_text, sha256_file

NEAR_DUPLICATES_SHOWN = 10        # pairs listed in the summary


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


def content_key(source: str, meta: dict) -> tuple[str, str]:
    """What makes two indexed documents the same content: the file's checksum and, for an
    attachment (whose checksum is its e-mail's), its name in the e-mail."""
    part_of = meta.get("part_of")
    return meta["sha256"], source[len(part_of):] if part_of else ""


def check_corpus(seeds_dir: Path) -> None:
    if not seeds_dir.is_dir():
        what = "is not a folder" if seeds_dir.exists() else "does not exist"
        raise CorpusError(f"corpus folder {seeds_dir} {what}; create it and add documents")


def plan_build(seeds_dir: Path, index_dir: Path, store: StoreConfig, settings: dict,
               ocr_bar: Callable[[str], Callable[[int, int], None] | None]) -> _Plan:
    """Compare ``seeds_dir`` with the live version built with ``settings`` (embedding, chunking);
    ``ocr_bar(source)`` gives the progress callback for a PDF read by OCR."""
    check_corpus(seeds_dir)
    report = BuildReport()
    old = None
    try:
        old = load(index_dir, store=store, check_store=False)
    except IndexMissingError:
        pass
    except (IndexCorruptError, IndexMismatchError) as exc:
        report.full_rebuild_reason = f"the existing index cannot be reused ({exc})"
    if old is not None:
        if old.manifest["embedding"] != settings["embedding"]:
            report.full_rebuild_reason = (f"embedding model changed ({old.manifest['embedding']['model']} -> "
                                          f"{settings['embedding']['model']})")
            old = None
        elif old.manifest["chunking"] != settings["chunking"]:
            before, after = old.manifest["chunking"], settings["chunking"]
            diff = ", ".join(f"{k} {before.get(k)} -> {after.get(k)}" for k in sorted(set(before) | set(after))
                             if before.get(k) != after.get(k))
            report.full_rebuild_reason = f"chunk settings changed ({diff})"
            old = None
        elif manifest_location(old.manifest) != store.describe():
            report.store_changed = f"{manifest_location(old.manifest)} -> {store.describe()}"
    old_files: dict[str, dict] = old.manifest["files"] if old else {}
    old_locs: dict[str, list[Location]] = {}
    if old:
        for rec in old.chunks:
            for loc in rec.locations:
                old_locs.setdefault(loc.source, []).append(loc)
    by_content = {content_key(src, meta): src for src, meta in old_files.items()}

    found, skipped = scan(seeds_dir, parts=False)
    report.skipped.extend(skipped)
    documents: dict[str, _NewText] = {}
    reused: dict[str, list[Location]] = {}
    files: dict[str, dict] = {}
    first_of_content: dict[tuple[str, str], str] = {}
    found_sources = {s for s, _ in found}

    def consider(source: str, path: Path, sha: str, reader: str, probe: TextProbe | None,
                 was: str | None, part_of: str | None = None) -> str | None:
        """Reuse one document, rename it (from the old document ``was``, when given) or read it.
        Returns the old source whose entry it took (itself when unchanged), else None."""
        prev = old_files.get(source)
        if prev is not None and prev["sha256"] == sha and prev.get("reader") == reader:
            report.unchanged.append(source)
            entry, known = dict(prev), source
            reused[source] = old_locs.get(source, [])
        elif prev is None and was is not None and old_files.get(was, {}).get("reader") == reader:
            report.renamed.append((was, source))
            entry, known = dict(old_files[was]), was
            reused[source] = old_locs.get(was, [])
        else:
            try:
                if probe is not None:
                    new = _NewText(path, probe.size, probe=probe)
                    entry = {"sha256": sha, "chars": 0, "reader": reader}   # chars: counted when chunked
                else:
                    doc = read_document(path, source, isolated=True, ocr_progress=ocr_bar(source))
                    new = _NewText(path, 0 if part_of else path.stat().st_size, doc=doc)
                    entry = {"sha256": doc.sha256, "chars": len(doc.text), "reader": reader}
                    if doc.pages:
                        entry["pages"] = list(doc.pages)
                    if doc.regions:
                        entry["regions"] = [r.to_json() for r in doc.regions]
            except (UnreadableDocument, OSError) as exc:
                reason = str(exc) if isinstance(exc, UnreadableDocument) else f"cannot read ({exc})"
                report.skipped.append(Skipped(source, reason))
                return None
            (report.changed if prev is not None else report.added).append(source)
            documents[source] = new
            known = None
        if part_of:
            entry["part_of"] = part_of
        files[source] = entry
        key = content_key(source, entry)
        if key in first_of_content:
            report.duplicates.append((first_of_content[key], source))
        first_of_content.setdefault(key, source)
        return known

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
        was = by_content.get((sha, "")) if source not in old_files else None
        known = consider(source, path, sha, reader, probe, was if was not in found_sources else None)
        if path.suffix.lower() not in PART_SUFFIXES:
            continue
        # The attachments of an unchanged or renamed e-mail are those it had; a new one's are read
        # (and indexed even when the message itself cannot be).
        names = old_files[known].get("attachments", []) if known else attachments(path, cached=False)
        if names and source in files:
            files[source]["attachments"] = list(names)
        for name in names:
            consider(f"{source}/{name}", path, sha, reader, None,
                     f"{known}/{name}" if known and known != source else None, part_of=source)
    for listed in (report.added, report.changed, report.unchanged):
        listed.sort()
    report.removed = sorted(set(old_files) - set(files) - {a for a, _ in report.renamed})
    if not files:
        why = "no readable documents" if found else "no supported documents"
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise CorpusError(f"{seeds_dir} has {why} (supported: {supported}); nothing to index"
                          + (f"; skipped {len(report.skipped)}" if report.skipped else ""))
    return _Plan(report, old, documents, reused, files)
