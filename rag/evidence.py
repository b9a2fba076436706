"""From retrieved chunks to a few numbered evidence passages, each one verbatim span of a file:
the sentences that best match the question, each shown with its neighbours up to WINDOW_CHARS.

The model sees only these passages; a citation ``[n]`` quotes passage n exactly. Passages that say
the same thing (the same sentence in two files, or a near-paraphrase) are shown once and remember
every file they came from.
"""
from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace

import numpy as np

from .chunk import split_sentences
from .embed import Embedder
from .index import Location
from .retrieve import Hit
from .kinds import expected_kind, full_name, has_kind
from .dates import full_dates
from .text import content_words, numbers

MIN_PASSAGE_CHARS = 25
NEAR_DUPLICATE_COSINE = 0.9
# A chosen sentence is shown with its neighbours in the chunk up to this many characters: short
# news-style snippets whole, the sentence before one that starts "It …", the date line above.
WINDOW_CHARS = 200
# A sentence scoring this far below the best one is not shown: it is about something else, costs
# prompt time, and gives a small model a wrong fact to pick (chosen on the dev halves as the
# smallest margin that kept every answer-bearing passage; about 1 passage in 3 fewer on the seeds).
FAR_BELOW_BEST = 0.5


@dataclass
class Passage:
    n: int
    text: str
    location: Location                      # where the quote is (source, start, end)
    also: list[tuple[Location, str]] = field(default_factory=list)  # the same fact elsewhere: (where, its text)
    score: float = 0.0                      # relevance to the question (higher is better)
    cosine: float = 0.0
    chunk_id: str = ""
    context: str = ""                       # the text of the chunk the sentence came from
    vector: np.ndarray | None = None
    span: tuple[int, int] = (0, 0)          # the sentence's place in ``context``


def _candidate_sentences(hits: list[Hit]) -> list[tuple]:
    seen: set[str] = set()
    out = []
    for rank, hit in enumerate(hits):
        rec = hit.chunk
        primary, *others = rec.locations
        for a, b in split_sentences(rec.text):
            text = rec.text[a:b]
            key = " ".join(text.split()).lower()
            if len(text) < MIN_PASSAGE_CHARS or key in seen:
                continue
            seen.add(key)
            loc = Location(primary.source, primary.start + a, primary.start + b)
            also = [(Location(o.source, o.start + a, o.start + b), text) for o in others]
            out.append((text, loc, also, rec, 1.0 / (rank + 1), (a, b)))
    return out


def _lexical_overlap(question_words: set[str], text: str) -> float:
    if not question_words:
        return 0.0
    return len(question_words & set(content_words(text))) / len(question_words)


# Weights of a sentence's score: cosine to the question, plus these.
W = {
    "overlap": 0.35,        # share of the question's content words in the sentence
    "prior": 0.05,          # 1 / rank of the chunk in the fused retrieval
    "number": 0.3,          # share of the question's numbers (a year, 'Q2') in the sentence
    "number_context": 0.3,  # ... found only in its chunk (a date line before the sentence)
    "question": 0.3,        # penalty: the sentence is itself a question, not a statement
    "kind": 0.2,            # the sentence states the kind of fact asked for (a number, a date, a name)
    "full_date": 0.3,       # ... and, asked 'when', gives a whole date ('December 1, 2017', 'May 2012')
    "full_name": 0.3,       # ... and, asked 'who', gives a full name ('Sanae Takaichi')
}


_CACHE_SIZE = 20_000          # sentence vectors kept (about 30 MB at 384 dimensions)
_cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_cache_lock = threading.Lock()


def _sentence_vectors(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Embed sentences, reusing the vectors of sentences seen by earlier questions (the same
    passages come back often, and embedding them is most of the time evidence selection takes)."""
    name = f"{getattr(embedder, 'name', type(embedder).__name__)}/{getattr(embedder, 'dim', '')}"
    out: list[np.ndarray | None] = []
    missing: list[int] = []
    with _cache_lock:
        for i, t in enumerate(texts):
            v = _cache.get((name, t))
            if v is not None:
                _cache.move_to_end((name, t))
            else:
                missing.append(i)
            out.append(v)
    if missing:
        fresh = embedder.embed_documents([texts[i] for i in missing])
        with _cache_lock:
            for i, v in zip(missing, fresh):
                out[i] = v
                _cache[(name, texts[i])] = v
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    return np.vstack(out).astype(np.float32)


def select(question: str, query_vector: np.ndarray, hits: list[Hit], embedder: Embedder,
           k: int = 5) -> list[Passage]:
    """The ``k`` sentences of ``hits`` that best match the question, numbered from 1."""
    cands = _candidate_sentences(hits)
    if not cands:
        return []
    vecs = _sentence_vectors(embedder, [c[0] for c in cands])
    cos = vecs @ np.asarray(query_vector, dtype=np.float32)
    qwords = set(content_words(question))
    qnums = numbers(question)
    kind = expected_kind(question)
    scored = []
    chunk_numbers: dict[str, set[str]] = {}   # by chunk id: a chunk gives several sentences
    for (text, loc, also, rec, chunk_prior, span), v, c in zip(cands, vecs, cos):
        score = float(c) + W["overlap"] * _lexical_overlap(qwords, text) + W["prior"] * chunk_prior
        if qnums:
            if rec.id not in chunk_numbers:
                chunk_numbers[rec.id] = numbers(rec.text)
            in_sentence = len(qnums & numbers(text)) / len(qnums)
            in_context = len(qnums & chunk_numbers[rec.id]) / len(qnums)
            score += W["number"] * in_sentence + W["number_context"] * max(0.0, in_context - in_sentence)
        if text.rstrip().endswith("?"):
            score -= W["question"]
        if kind and W["kind"] and has_kind(text, kind, question):
            score += W["kind"]
            if kind == "time" and full_dates(text):
                score += W["full_date"]
            elif kind == "name" and _asks_who(question) and full_name(text, question):
                score += W["full_name"]
        scored.append(Passage(0, text, loc, list(also), score, float(c), rec.id, rec.text, v, span))
    scored.sort(key=lambda p: -p.score)
    chosen: list[Passage] = []
    for p in scored:
        if chosen and p.score < chosen[0].score - FAR_BELOW_BEST:
            break                          # the rest are far less relevant than the best
        shown = [q.span for q in chosen if q.chunk_id == p.chunk_id]
        if any(a <= p.span[0] and p.span[1] <= b for a, b in shown):
            continue                       # already inside a chosen passage's window
        twin = next((q for q in chosen if float(q.vector @ p.vector) >= NEAR_DUPLICATE_COSINE), None)
        if twin is not None:
            twin.also.append((p.location, p.text))
            twin.also.extend(p.also)
            continue
        chosen.append(_widen(p, WINDOW_CHARS, shown) if WINDOW_CHARS else p)
        if len(chosen) == k:
            break
    for i, p in enumerate(chosen, 1):
        p.n = i
    return chosen


def _widen(p: Passage, limit: int, taken: list[tuple[int, int]]) -> Passage:
    """``p`` with the sentences around it in its chunk, up to ``limit`` characters in all, without
    reaching into the ``taken`` spans of other passages. The widened text is still one verbatim
    span of the file: a date line before the sentence, or the sentence that names what "it" is."""
    spans = split_sentences(p.context)
    a, b = p.span
    here = [i for i, (x, y) in enumerate(spans) if x <= a and b <= y]
    if not here:
        return p
    i = j = here[0]

    def free(x: int, y: int) -> bool:
        return not any(x < tb and ta < y for ta, tb in taken)

    grew = True
    while grew:
        grew = False
        if i > 0 and spans[j][1] - spans[i - 1][0] <= limit and free(*spans[i - 1]):
            i -= 1
            grew = True
        if j + 1 < len(spans) and spans[j + 1][1] - spans[i][0] <= limit and free(*spans[j + 1]):
            j += 1
            grew = True
    lo, hi = min(a, spans[i][0]), max(b, spans[j][1])
    if (lo, hi) == (a, b):
        return p
    text = p.context[lo:hi]
    sentence = p.context[a:b]
    loc = p.location
    shift = (lo - a, hi - b)
    # Other files holding this same chunk hold the same neighbours; a near-paraphrase twin does not.
    also = [(Location(l.source, l.start + shift[0], l.end + shift[1]), text) if t == sentence else (l, t)
            for l, t in p.also]
    return replace(p, text=text, location=Location(loc.source, loc.start + shift[0], loc.end + shift[1]),
                   also=also, span=(lo, hi))


def _asks_who(question: str) -> bool:
    return bool(re.match(r"\s*(who|whom)\b", question, re.I))


_WS = re.compile(r"\s+")


def compact(text: str) -> str:
    return _WS.sub(" ", text).strip()
