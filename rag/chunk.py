"""Sentence-aware, overlapping chunks that remember where they came from.

A chunk is a run of whole sentences from one document, at most ``max_tokens`` embedding-model
tokens long; consecutive chunks share up to ``overlap_tokens`` of trailing sentences. A sentence
longer than a chunk is cut at word boundaries. Every chunk keeps its character offsets, so
``document.text[start:end] == chunk.text`` always holds.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from .errors import ConfigError

CountTokens = Callable[[Sequence[str]], list[int]]

_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)|\n")
_WORD = re.compile(r"\S+")
_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "inc", "ltd", "co",
    "corp", "no", "fig", "gen", "gov", "sen", "rep", "approx", "dept", "est", "jan", "feb", "mar",
    "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "mt", "ft", "vol", "pp",
}


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the '.' at ``dot`` ends an abbreviation or initial rather than a sentence."""
    if text[dot] != ".":
        return False
    start = dot
    while start > 0 and not text[start - 1].isspace() and text[start - 1] not in "(\"'“‘":
        start -= 1
    word = re.split(r"[-/–—]", text[start:dot].lower())[-1]
    if not word:
        return False
    if word in _ABBREV or (len(word) == 1 and word.isalpha()):
        return True
    return bool(re.fullmatch(r"(?:[a-z]\.)+[a-z]", word))  # U.S, e.g, a.m


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Character spans of the sentences in ``text[start:end]``, whitespace trimmed, none empty."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    for m in _END.finditer(text, start, end):
        if m.group() != "\n" and _is_abbreviation(text, m.start()):
            continue
        _add_span(text, cursor, m.end(), spans)
        cursor = m.end()
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

    @property
    def id(self) -> str:
        return chunk_id(self.text)

    def __repr__(self) -> str:
        return f"Chunk({self.source!r}, {self.start}:{self.end}, {self.text[:40]!r}…)"


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
        return {"max_tokens": self.max_tokens, "overlap_tokens": self.overlap_tokens, "splitter": "sentence-v2"}

    def split(self, source: str, text: str) -> list[Chunk]:
        return list(self.iter_chunks(source, text))

    def iter_chunks(self, source: str, text: str, block: int = 1 << 20) -> Iterator[Chunk]:
        """Chunks of ``text``, computed a block of text at a time so memory stays bounded."""
        pos = 0
        while pos < len(text):
            stop = min(len(text), pos + block)
            if stop < len(text):  # end the block at a line end, else between words, where possible
                low = pos + block // 2
                cut = text.rfind("\n", low, stop)
                if cut < 0:
                    cut = max(text.rfind(" ", low, stop), text.rfind("\t", low, stop))
                stop = cut + 1 if cut > 0 else stop
            units = self._units(text, pos, stop)
            yield from self._pack(source, text, units)
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

    def _pack(self, source: str, text: str, units: list[tuple[int, int, int]]) -> Iterator[Chunk]:
        i = 0
        while i < len(units):
            j, total = i, 0
            while j < len(units) and total + units[j][2] <= self.max_tokens:
                total += units[j][2]
                j += 1
            if j == i:  # cannot happen: every unit fits; guard against an endless loop anyway
                j = i + 1
            start, end = units[i][0], units[j - 1][1]
            yield Chunk(source, start, end, text[start:end])
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
