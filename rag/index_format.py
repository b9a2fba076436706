"""The index's on-disk format: file names, chunk records, and loading a checked version.

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

A rebuild writes a new version folder beside the live one, fsyncs it, then replaces CURRENT
(see ``rag.index_versions``). Killing it at any point leaves CURRENT naming a complete version.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from . import models
from .errors import IndexCorruptError, IndexMismatchError, IndexMissingError, RagError
from .regions import Region, regions_from_json
from .store import StoreConfig, VectorStore, manifest_location, open_store

FORMAT = "rag-index/1"
POINTER = "CURRENT"
STAGING = "embedded.partial"      # vectors of a build that has not finished (see rag.index_staging)
SPOOL = "chunks.spool"            # texts of the new chunks while a build runs


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
