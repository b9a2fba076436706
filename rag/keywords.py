"""The keyword (BM25) side of retrieval: tokenising, building, and keeping the built index.

Building the BM25 index means tokenising every chunk. The first process to search a version does
that and saves the result beside the version's chunks (``v-…/bm25/``, with a stamp naming the
chunks file's checksum and each saved file's sha256); later processes load it in milliseconds. A
saved index that does not match its version or its stamp is never used: it is built again from
the chunks. The build itself does not make it, so its memory stays bounded by one file's chunks.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from .models import sha256_file

KEYWORD_DIR = "bm25"
STAMP = "stamp.json"
_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def bm25_tokens(text: str) -> list[str]:
    return [t.lower() for t in _TOKEN.findall(text)]


def keyword_index(texts: list[str]):
    """A BM25 index of ``texts`` (in row order)."""
    import bm25s

    bm25 = bm25s.BM25()
    bm25.index(bm25s.tokenize([" ".join(bm25_tokens(t)) for t in texts], stopwords="en", show_progress=False),
               show_progress=False)
    return bm25


def _identity(snapshot) -> dict:
    return {"format": 1, "chunks_sha256": snapshot.manifest.get("checksums", {}).get("chunks.jsonl", ""),
            "chunks": len(snapshot.chunks)}


def load_saved(snapshot):
    """The saved BM25 index of ``snapshot``'s version, or None if there is none that matches it."""
    import bm25s

    folder = snapshot.path / KEYWORD_DIR
    try:
        stamp = json.loads((folder / STAMP).read_text())
        if stamp.get("identity") != _identity(snapshot) or not stamp.get("files"):
            return None
        for name, digest in stamp["files"].items():
            if sha256_file(folder / name) != digest:
                return None
        bm25 = bm25s.BM25.load(str(folder), mmap=False, show_progress=False)
    except Exception:  # noqa: BLE001 - missing, damaged or foreign: built again from the chunks
        return None
    return bm25 if getattr(bm25, "scores", {}).get("num_docs") == len(snapshot.chunks) else None


def save(snapshot, bm25) -> bool:
    """Save ``bm25`` beside ``snapshot``'s chunks (atomically; best effort: a folder that cannot be
    written, or a version removed meanwhile, only costs building it again next time)."""
    folder = snapshot.path / KEYWORD_DIR
    tmp = None
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{KEYWORD_DIR}-", dir=snapshot.path))
        bm25.save(str(tmp), show_progress=False)
        files = {p.name: sha256_file(p) for p in tmp.iterdir() if p.is_file()}
        (tmp / STAMP).write_text(json.dumps({"identity": _identity(snapshot), "files": files}))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
        return True
    except OSError:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        return False


def for_snapshot(snapshot):
    """The BM25 index of ``snapshot``: the saved one if it matches, else built now and saved."""
    bm25 = load_saved(snapshot)
    if bm25 is None:
        bm25 = keyword_index([rec.text for rec in snapshot.chunks])
        save(snapshot, bm25)
    return bm25
