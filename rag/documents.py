"""Finding and reading the corpus: one Document per readable file, one Skipped per file that is not.

The text a Document carries is *the* decoded text of its file: citations are character offsets
into it, and ``read_text`` gives anyone the same text to check a quote against.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text", ".rst"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES
MAX_FILE_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class Document:
    source: str                 # path relative to the corpus folder, with '/' separators
    text: str
    sha256: str                 # of the file's bytes
    pages: tuple[int, ...] = ()  # character offset where each page starts (paged formats only)

    def page_at(self, offset: int) -> int | None:
        """1-based page number holding ``offset``, or None for unpaged documents."""
        if not self.pages:
            return None
        page = 0
        for i, start in enumerate(self.pages):
            if start <= offset:
                page = i
            else:
                break
        return page + 1

    def __repr__(self) -> str:
        return f"Document({self.source!r}, {len(self.text):,} chars, sha256={self.sha256[:10]})"


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


class UnreadableDocument(Exception):
    """Raised by ``read_document`` with a one-line reason."""


def scan(root: Path) -> tuple[list[tuple[str, Path]], list[Skipped]]:
    """Files under ``root`` to index (sorted by source) and those skipped, with reasons.

    Symlinks are not followed: a corpus is the files that live in it.
    """
    root = Path(root)
    found: list[tuple[str, Path]] = []
    skipped: list[Skipped] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for d in list(dirnames):
            if os.path.islink(os.path.join(dirpath, d)):
                dirnames.remove(d)
                skipped.append(Skipped(_rel(root, Path(dirpath, d)), "symbolic link (not followed)"))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath, name)
            source = _rel(root, path)
            if path.is_symlink():
                skipped.append(Skipped(source, "symbolic link (not followed)"))
            elif path.suffix.lower() not in SUPPORTED_SUFFIXES:
                skipped.append(Skipped(source, f"unsupported file type {path.suffix or '(none)'}"))
            else:
                found.append((source, path))
    found.sort()
    return found, skipped


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UnreadableDocument(f"too large ({size:,} bytes; limit {MAX_FILE_BYTES:,})")
        return path.read_bytes()
    except PermissionError:
        raise UnreadableDocument("permission denied") from None
    except OSError as exc:
        raise UnreadableDocument(f"cannot read ({exc.strerror or exc})") from None


def decode_text(data: bytes) -> str:
    """Decode a text file: UTF-8 (BOM or not), UTF-16 with BOM, else Windows-1252 / Latin-1."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    if b"\x00" in data[:8192]:
        raise UnreadableDocument("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Mostly UTF-8 with a few bad bytes: keep UTF-8 and replace the bad bytes. It is UTF-8 only if
    # some non-ASCII text decodes: ASCII with a few stray high bytes is Windows-1252 (curly quotes).
    replaced = data.decode("utf-8", errors="replace")
    bad = replaced.count("\ufffd")
    if bad and bad * 200 < len(replaced) and any(ord(ch) > 127 and ch != "\ufffd" for ch in replaced):
        return replaced
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_text(path: Path) -> str:
    """The decoded text of a text file, exactly as the index sees it."""
    return decode_text(read_bytes(Path(path)))


def read_document(path: Path, source: str) -> Document:
    data = read_bytes(Path(path))
    text = decode_text(data)
    if not text.strip():
        raise UnreadableDocument("empty (no text)")
    return Document(source=source, text=text, sha256=hashlib.sha256(data).hexdigest())
