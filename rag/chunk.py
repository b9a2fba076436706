"""Sentence-aware, overlapping chunks that remember where they came from.

A chunk is a run of whole sentences from one document, at most ``max_tokens`` embedding-model
tokens long; consecutive chunks share up to ``overlap_tokens`` of trailing sentences. A sentence
longer than a chunk is cut at word boundaries. Every chunk keeps its character offsets, so
``document.text[start:end] == chunk.text`` always holds.

A document with named regions (a sheet, a slide, a chapter, a heading's section: ``rag.regions``)
is chunked region by region: no chunk spans two, and each knows the label of its region as its
``context`` (embedded with it, never part of its text).
"""
from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

from .errors import ConfigError
from .regions import Region

CountTokens = Callable[[Sequence[str]], list[int]]

# A sentence ends at its mark, closing quotes or brackets, and any bracketed notes that follow it
# ('… was Huguenot.[citation needed] In 1705 …', '… in 1998.[12] The …'), or at a line break.
_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?:\[[^\[\]\n]{1,40}\])*(?=\s)|\n")
_WORD = re.compile(r"\S+")
_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "inc", "ltd", "co",
    "corp", "no", "fig", "gen", "gov", "sen", "rep", "approx", "dept", "est", "jan", "feb", "mar",
    "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "mt", "ft", "vol", "pp",
}


_ABBREV_SPLIT = re.compile(r"[-/–—]")
_INITIALS = re.compile(r"(?:[a-z]\.)+[a-z]")
_LONGEST_ABBREVIATION = 24   # longer words ending in '.' are never abbreviations


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the '.' at ``dot`` ends an abbreviation or initial rather than a sentence."""
    if text[dot] != ".":
        return False
    if dot >= 7 and text[dot - 7:dot].isalpha():   # a long word: no abbreviation is that long
        return False
    window = text[max(0, dot - _LONGEST_ABBREVIATION):dot]
    if not window or window[-1].isspace():
        return False
    word = window.rsplit(None, 1)[-1]
    for opener in "(\"'“‘":
        if opener in word:
            word = word.rsplit(opener, 1)[1]
    word = word.lower()
    if "-" in word or "/" in word or "–" in word or "—" in word:
        word = _ABBREV_SPLIT.split(word)[-1]
    if not word:
        return False
    if word in _ABBREV or (len(word) == 1 and word.isalpha()):
        return True
    return "." in word and _INITIALS.fullmatch(word) is not None  # U.S, e.g, a.m


def ends_sentence(token: str) -> bool:
    """Does a word as written ('Road.', 'St.', 'U.S.', 'won!') end its sentence?"""
    return token.endswith((".", "!", "?")) and not _is_abbreviation(token, len(token) - 1)


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Character spans of the sentences in ``text[start:end]``, whitespace trimmed, none empty."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    for m in _END.finditer(text, start, end):
        a, b = m.span()
        if text[a] == "." and _is_abbreviation(text, a):
            continue
        while cursor < b and text[cursor].isspace():    # _add_span, inlined: this loop is hot
            cursor += 1
        e = b
        while e > cursor and text[e - 1].isspace():
            e -= 1
        if e > cursor:
            spans.append((cursor, e))
        cursor = b
    _add_span(text, cursor, end, spans)
    return spans


def _add_span(text: str, a: int, b: int, spans: list[tuple[int, int]]) -> None:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    if b > a:
        spans.append((a, b))


@dataclass(frozen=True)
class Chunk:
    source: str
    start: int
    end: int
    text: str
    context: str = ""       # the label of the region it is in ("Setup › Linux"), embedded with the text

    @property
    def id(self) -> str:
        return chunk_id(self.text)

    def embedded_text(self) -> str:
        return embedded_text(self.text, self.context)

    def __repr__(self) -> str:
        return f"Chunk({self.source!r}, {self.start}:{self.end}, {self.text[:40]!r}…)"


def embedded_text(text: str, context: str) -> str:
    """What the embedding model sees of a chunk: its region's label on a line before its text.
    (A chunk's id is of its text alone: the same text in two places is embedded once.)"""
    return f"{context}\n{text}" if context else text


def chunk_id(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


class Chunker:
    """Cheap to build, validates its settings; ``count_tokens`` comes from the embedder."""

    def __init__(self, count_tokens: CountTokens, max_tokens: int = 200, overlap_tokens: int = 40):
        if max_tokens < 8:
            raise ConfigError("chunks must hold at least 8 tokens")
        if not 0 <= overlap_tokens < max_tokens:
            raise ConfigError("chunk overlap must be at least 0 and smaller than the chunk size")
        self.count_tokens = count_tokens
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens

    def settings(self) -> dict:
        return {"max_tokens": self.max_tokens, "overlap_tokens": self.overlap_tokens, "splitter": "sentence-v3"}

    def split(self, source: str, text: str, regions: Sequence[Region] = ()) -> list[Chunk]:
        return list(self.iter_chunks(source, text, regions=regions))

    def iter_chunks(self, source: str, text: str, block: int = 1 << 20,
                    regions: Sequence[Region] = ()) -> Iterator[Chunk]:
        """Chunks of ``text``, computed a block of text at a time so memory stays bounded."""
        return self.iter_chunks_stream(source, (text,), block, regions)

    def iter_chunks_stream(self, source: str, pieces: Iterable[str], block: int = 1 << 20,
                           regions: Sequence[Region] = ()) -> Iterator[Chunk]:
        """Chunks of the text made of ``pieces`` in order (e.g. a file decoded block by block).

        Only about one block of text is held at a time, and the chunks are exactly those of the
        whole text: offsets count characters from the start of the first piece. ``regions`` may
        grow while the pieces are read (headings found as the text streams past): a region must
        be in it once the piece holding its start has been read.
        """
        it = iter(pieces)
        buf, off, pos, more = "", 0, 0, True    # buf holds text[off:off + len(buf)]
        while True:
            while more and off + len(buf) - pos <= block:
                piece = next(it, None)
                if piece is None:
                    more = False
                    break
                if pos - off > 2 * _LONGEST_ABBREVIATION:  # drop chunked text, keep a little context
                    keep = pos - _LONGEST_ABBREVIATION
                    buf, off = buf[keep - off:], keep
                buf += piece
            end = off + len(buf)
            if pos >= end:
                return
            stop = min(end, pos + block)
            if stop < end:  # end the block at a line end, else between words, where possible
                low, high = pos + block // 2 - off, stop - off
                cut = buf.rfind("\n", low, high)
                if cut < 0:
                    cut = max(buf.rfind(" ", low, high), buf.rfind("\t", low, high))
                if cut >= 0:
                    stop = off + cut + 1
            units = self._units(buf, pos - off, stop - off)
            for part, context in _by_region(units, off, regions):
                yield from self._pack(source, buf, part, off, context)
            pos = stop

    def _units(self, text: str, start: int, end: int) -> list[tuple[int, int, int]]:
        """(start, end, tokens) of sentences, with over-long sentences cut into word windows."""
        spans = split_sentences(text, start, end)
        counts = self.count_tokens([text[a:b] for a, b in spans])
        units: list[tuple[int, int, int]] = []
        for (a, b), n in zip(spans, counts):
            if n <= self.max_tokens:
                units.append((a, b, n))
            else:
                units.extend(self._cut_long(text, a, b))
        return units

    def _cut_long(self, text: str, a: int, b: int) -> list[tuple[int, int, int]]:
        words = [(m.start(), m.end()) for m in _WORD.finditer(text, a, b)]
        counts = self.count_tokens([text[s:e] for s, e in words])
        out: list[tuple[int, int, int]] = []
        cur_start, cur_end, cur_n = None, None, 0
        for (s, e), n in zip(words, counts):
            if n > self.max_tokens:  # one absurd "word": cut it by characters
                if cur_start is not None:
                    out.append((cur_start, cur_end, cur_n))
                    cur_start, cur_n = None, 0
                step = max(1, (e - s) * self.max_tokens // (2 * n))
                for p in range(s, e, step):
                    out.extend(self._fit(text, p, min(e, p + step)))
                continue
            if cur_start is not None and cur_n + n > self.max_tokens:
                out.append((cur_start, cur_end, cur_n))
                cur_start, cur_n = None, 0
            if cur_start is None:
                cur_start = s
            cur_end, cur_n = e, cur_n + n
        if cur_start is not None:
            out.append((cur_start, cur_end, cur_n))
        return out

    def _fit(self, text: str, a: int, b: int) -> list[tuple[int, int, int]]:
        """``text[a:b]`` as one unit, or halved until every piece fits: token density varies."""
        n = self.count_tokens([text[a:b]])[0]
        if n <= self.max_tokens or b - a <= 1:
            return [(a, b, n)]
        mid = (a + b) // 2
        return self._fit(text, a, mid) + self._fit(text, mid, b)

    def _pack(self, source: str, text: str, units: list[tuple[int, int, int]], base: int = 0,
              context: str = "") -> Iterator[Chunk]:
        i = 0
        while i < len(units):
            j, total = i, 0
            while j < len(units) and total + units[j][2] <= self.max_tokens:
                total += units[j][2]
                j += 1
            if j == i:  # cannot happen: every unit fits; guard against an endless loop anyway
                j = i + 1
            start, end = units[i][0], units[j - 1][1]
            yield Chunk(source, base + start, base + end, text[start:end], context)
            if j >= len(units):
                break
            # Step back over trailing sentences that fit in the overlap, but always move forward:
            # the next chunk must still have room for the first unit this one could not take.
            k, back = j, 0
            room = self.max_tokens - units[j][2]
            while k - 1 > i and back + units[k - 1][2] <= min(self.overlap_tokens, room):
                k -= 1
                back += units[k][2]
            i = k


def _by_region(units: list[tuple[int, int, int]], base: int,
               regions: Sequence[Region]) -> Iterator[tuple[list[tuple[int, int, int]], str]]:
    """``units`` (offsets from ``base``) in runs that lie in one region each, with its label."""
    if not regions:
        yield units, ""
        return
    starts = [r.start for r in regions]
    run: list[tuple[int, int, int]] = []
    current = None
    for unit in units:
        i = bisect.bisect_right(starts, base + unit[0]) - 1
        if run and i != current:
            yield run, regions[current].label if current >= 0 else ""
            run = []
        current = i
        run.append(unit)
    if run:
        yield run, regions[current].label if current >= 0 else ""
