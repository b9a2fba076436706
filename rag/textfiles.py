"""Plain-text files read a block at a time: one pass finds a file's checksum and how to decode it
(``probe_text``, by the rules of ``rag.documents.decode_text``), and ``iter_text`` then gives its
decoded text in pieces, so a large file is never held in memory whole. ``rag.documents`` gives
these names too.
"""
from __future__ import annotations

import codecs
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from . import documents
from .documents import UnreadableDocument

TEXT_BLOCK_BYTES = 1 << 20        # plain-text files are read and decoded a block at a time

_CP1252_UNDEFINED = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")


@dataclass(frozen=True)
class TextProbe:
    """What one pass over a plain-text file found: its checksum and how to decode it.

    ``iter_text(path, probe)`` then yields exactly ``decode_text(path.read_bytes())``, a block at
    a time, so a large file is never held in memory whole.
    """
    sha256: str
    size: int
    encoding: str
    errors: str


def _open_for_reading(path: Path):
    try:
        size = path.stat().st_size
        if size > documents.MAX_FILE_BYTES:
            raise UnreadableDocument(f"too large ({size:,} bytes; limit {documents.MAX_FILE_BYTES:,})")
        return open(path, "rb")
    except PermissionError:
        raise UnreadableDocument("permission denied") from None
    except IsADirectoryError:
        raise UnreadableDocument("is a directory") from None
    except OSError as exc:
        raise UnreadableDocument(f"cannot read ({exc.strerror or exc})") from None


def _blocks(f, block: int, first: int = 0) -> Iterator[bytes]:
    try:
        if data := f.read(max(block, first)):
            yield data
        while data := f.read(block):
            yield data
    except PermissionError:
        raise UnreadableDocument("permission denied") from None
    except OSError as exc:
        raise UnreadableDocument(f"cannot read ({exc.strerror or exc})") from None


def sha256_file(path: Path, block: int = 4 * TEXT_BLOCK_BYTES) -> str:
    """The sha256 of a file's bytes, read a block at a time; UnreadableDocument when it cannot be read."""
    h = hashlib.sha256()
    with _open_for_reading(Path(path)) as f:
        for data in _blocks(f, block):
            h.update(data)
    return h.hexdigest()


def probe_text(path: Path, block: int = TEXT_BLOCK_BYTES) -> TextProbe:
    """Read a plain-text file once, a block at a time: checksum, encoding (the rules of
    ``decode_text``), and whether it holds any text. Raises UnreadableDocument like ``read_document``."""
    path = Path(path)
    h = hashlib.sha256()
    size = 0
    encoding = None
    decoder = None
    chars = replacements = genuine = 0      # of a UTF-8 decoding with replacement characters
    tail = b""
    non_ascii = nonblank = False
    cp1252_ok = True
    with _open_for_reading(path) as f:
        for data in _blocks(f, block, first=8192):   # the first block holds any BOM and the NUL check
            if decoder is None:
                if data.startswith(b"\xef\xbb\xbf"):
                    encoding = "utf-8-sig"
                elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
                    encoding = "utf-16"
                elif b"\x00" in data[:8192]:
                    raise UnreadableDocument("binary file (contains NUL bytes)")
                decoder = codecs.getincrementaldecoder(encoding or "utf-8")("replace")
            h.update(data)
            size += len(data)
            piece = decoder.decode(data)
            if encoding is None:
                chars += len(piece)
                replacements += piece.count("\ufffd")
                genuine += (tail + data).count(b"\xef\xbf\xbd")
                tail = data[-2:]
                if not non_ascii and not piece.isascii():
                    non_ascii = not piece.replace("\ufffd", "").isascii()
                if cp1252_ok and any(b in data for b in _CP1252_UNDEFINED):
                    cp1252_ok = False
            if not nonblank and piece.strip():
                nonblank = True
        if decoder is not None:
            piece = decoder.decode(b"", final=True)
            chars += len(piece)
            replacements += piece.count("\ufffd")
            nonblank = nonblank or bool(piece.strip())
    if not nonblank:
        raise UnreadableDocument("empty (no text)")
    errors = "replace"
    if encoding is None:
        if replacements == genuine:                       # valid UTF-8
            encoding, errors = "utf-8", "strict"
        elif replacements * 200 < chars and non_ascii:    # mostly UTF-8 with a few bad bytes
            encoding = "utf-8"
        else:
            encoding, errors = ("cp1252" if cp1252_ok else "latin-1"), "strict"
    return TextProbe(h.hexdigest(), size, encoding, errors)


def iter_text(path: Path, probe: TextProbe, block: int = TEXT_BLOCK_BYTES,
              on_block: Callable[[int], None] | None = None) -> Iterator[str]:
    """The decoded text of a plain-text file in pieces (see ``probe_text``); ``on_block(n)`` is
    called with the size of every block of bytes read."""
    decoder = codecs.getincrementaldecoder(probe.encoding)(probe.errors)
    with _open_for_reading(Path(path)) as f:
        for data in _blocks(f, block):
            if on_block is not None:
                on_block(len(data))
            if piece := decoder.decode(data):
                yield piece
    if piece := decoder.decode(b"", final=True):
        yield piece
