"""The corpus folder as the chat window manages it: add an uploaded file, delete one, list them,
and read the live index's status. Indexing itself is ``rag.pipeline.build_index``.

An upload is checked before anything is written: its type, its size, its name (reduced to a plain
file name: no folders, no hidden or reserved names) and that its text can be read. It never
replaces a file silently: the same content is reported as already there, a different file with the
same name is stored under a new name.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from rag.config import Settings
from rag.documents import UnreadableDocument, attachment_name, extract_text, scan
from rag.errors import ConfigError, RagError
from rag.index import POINTER, current_version
from rag.mail import attachment_list
from rag.models import sha256_file

UPLOAD_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf", ".docx", ".csv", ".tsv", ".xlsx", ".ods", ".pptx", ".epub", ".eml")
MAX_UPLOAD_MB = 20
MAX_NAME_CHARS = 120
_UNSAFE = re.compile(r"[^\w .,()+@-]", re.UNICODE)
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


class UploadRejected(RagError):
    """An uploaded file cannot be added to the corpus; the message says why."""


@dataclass(frozen=True)
class Added:
    name: str            # the file's name in the corpus folder
    note: str            # what happened, one line


def max_upload_bytes() -> int:
    """The largest upload, from ``RAG_MAX_UPLOAD_MB`` (megabytes) or the default."""
    raw = os.environ.get("RAG_MAX_UPLOAD_MB", "").strip()
    try:
        mb = float(raw) if raw else MAX_UPLOAD_MB
    except ValueError:
        mb = float("nan")
    if not mb > 0 or mb == float("inf"):
        raise ConfigError(f"RAG_MAX_UPLOAD_MB must be a positive number of megabytes, not {raw!r}")
    return int(mb * 1024 * 1024)


def safe_name(name: str) -> str:
    """A plain file name for an uploaded file's name: the last path part, without characters that
    mean something to a shell or a file system, never hidden, never empty."""
    base = unicodedata.normalize("NFC", str(name)).replace("\\", "/").split("/")[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = _UNSAFE.sub("_", base)
    base = re.sub(r"\s+", " ", base).strip(" .")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = stem.strip(" .") or "document"
    if stem.lower() in _RESERVED:
        stem = f"{stem}_"
    suffix = f".{suffix.lower()}" if suffix else ""
    stem = stem[: MAX_NAME_CHARS - len(suffix)]
    return stem + suffix


def check_upload(path: Path, original_name: str, max_bytes: int | None = None) -> tuple[str, bytes]:
    """(safe name, bytes) of an uploaded file, or UploadRejected with the reason."""
    shown = Path(str(original_name).replace("\\", "/")).name or "the file"
    name = safe_name(original_name)
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        kinds = ", ".join(UPLOAD_SUFFIXES)
        raise UploadRejected(f"{shown}: {suffix or 'no'} file type is not supported (use {kinds})")
    limit = max_upload_bytes() if max_bytes is None else max_bytes
    try:
        size = Path(path).stat().st_size
        if size > limit:
            raise UploadRejected(f"{shown}: too large ({size / 1048576:.3g} MB; the limit is {limit / 1048576:.3g} MB)")
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UploadRejected(f"{shown}: the upload cannot be read ({exc.strerror or exc})") from None
    if not data:
        raise UploadRejected(f"{shown}: the file is empty")
    try:
        text, _pages = extract_text(Path(name), data)
    except UnreadableDocument as exc:
        raise UploadRejected(f"{shown}: cannot be read as {suffix} ({exc})") from None
    if not text.strip():
        raise UploadRejected(f"{shown}: has no text to index")
    return name, data


def add_document(seeds_dir: Path, path: Path, original_name: str, max_bytes: int | None = None) -> Added:
    """Check an uploaded file and store it in the corpus folder (never replacing another file)."""
    name, data = check_upload(path, original_name, max_bytes)
    root = Path(seeds_dir)
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(data).hexdigest()
    stem, suffix = Path(name).stem, Path(name).suffix
    for i in range(1, 1000):
        candidate = name if i == 1 else f"{stem} ({i}){suffix}"
        target = root / candidate
        if target.exists() or target.is_symlink():
            if target.is_file() and not target.is_symlink() and sha256_file(target) == digest:
                return Added(candidate, f"{candidate} is already in the documents (same content); nothing changed")
            continue
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        except OSError as exc:
            raise UploadRejected(f"{name}: cannot be saved in {root} ({exc.strerror or exc})") from None
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if candidate != name:
            return Added(candidate, f"added as {candidate}: a different file named {name} is already there")
        return Added(candidate, f"added {candidate}")
    raise UploadRejected(f"{name}: too many files with this name already")


def delete_document(seeds_dir: Path, source: str) -> str:
    """Remove one document (a file the corpus lists) from the corpus folder."""
    root = Path(seeds_dir).resolve()
    if not source:
        raise UploadRejected("choose a document to delete")
    listed = dict(scan(root)[0])
    if source not in listed:
        raise UploadRejected(f"{source} is not one of the documents")
    if attachment_name(listed[source], source) is not None:
        message = source.rpartition("/")[0]
        raise UploadRejected(f"{source} is an attachment of {message}; delete {message} to remove it")
    path = root / source
    if path.is_symlink() or not path.resolve().is_relative_to(root):
        raise UploadRejected(f"{source} is not one of the documents")
    try:
        path.unlink()
    except OSError as exc:
        raise UploadRejected(f"{source} cannot be deleted ({exc.strerror or exc})") from None
    return f"deleted {source}"


def documents(seeds_dir: Path) -> list[dict]:
    """The documents of the corpus folder: source, size in bytes, modification time; an e-mail's
    attachment also names the e-mail it is part of (``part_of``)."""
    root = Path(seeds_dir)
    if not root.is_dir():
        return []
    out = []
    for source, path in scan(root)[0]:
        try:
            st = path.stat()
        except OSError:
            continue
        name = attachment_name(path, source)
        if name is None:
            out.append({"source": source, "bytes": st.st_size, "modified": st.st_mtime})
        else:
            size = dict(attachment_list(path)).get(name, 0)
            out.append({"source": source, "bytes": size, "modified": st.st_mtime,
                        "part_of": source.rpartition("/")[0]})
    return out


def index_status(settings: Settings, llm: str = "") -> dict:
    """What the live index holds and how it was built (empty values when there is no index yet)."""
    status = {"documents": 0, "chunks": 0, "built_at": "", "version": "", "embedding_model": settings.embed_model,
              "llm": llm or settings.model, "seeds_dir": str(settings.seeds_dir), "skipped": 0}
    try:
        version = current_version(settings.index_dir)
    except RagError as exc:
        status["error"] = str(exc)
        return status
    if version is None:
        return status
    try:
        manifest = json.loads((Path(settings.index_dir) / version / "manifest.json").read_text())
    except (OSError, ValueError):
        status["error"] = "the index manifest cannot be read; re-index the documents"
        return status
    counts = manifest.get("counts") or {}
    status.update(
        version=version,
        documents=int(counts.get("files", len(manifest.get("files") or {}))),
        chunks=int(counts.get("chunks", 0)),
        built_at=str(manifest.get("built_at") or _mtime(Path(settings.index_dir) / POINTER)),
        embedding_model=str((manifest.get("embedding") or {}).get("model") or settings.embed_model),
        skipped=len(manifest.get("skipped") or []),
    )
    return status


def _mtime(path: Path) -> str:
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(path.stat().st_mtime))
    except OSError:
        return ""
