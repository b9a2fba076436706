"""Follow-up questions: the retrieval query takes the conversation into account.

"How much will they invest?" asked after a question about the US–Japan deal says nothing about
the deal itself, so searching the documents with it alone finds nothing useful. When a question
leans on the conversation (a pronoun or demonstrative, or too few words of its own to search with),
the retrieval query is the question, its own key terms twice more (so they keep their weight), and
up to six terms borrowed from the previous question and the names in the quotes its answer cited. No model is asked to rewrite anything.

Only retrieval uses the expanded query: the prompt and the verifier still see the user's own words.

``history`` is the conversation so far, oldest first. Each turn may be an ``Answer``, a dict with
``question`` (and optionally ``answer``, ``citations`` with ``quote``, ``retrieval_query``, as
``Answer.to_dict()`` gives), a ``(question, answer)`` pair, or just the previous question as a string.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from .text import QUESTION_WORDS, STOPWORDS, content_words, fold

# Words that point back into the conversation.
REFERRING = frozenset("""
they them their theirs it its this that these those he she him her his hers there thereby such
both either neither former latter same one ones
""".split())
# A question with fewer content words than this cannot stand on its own ("Why?", "And Japan?").
MIN_OWN_TERMS = 3
MAX_TERMS = 6               # terms borrowed from the conversation, at most
# Filler that a question often starts with and that means nothing to a search.
_FILLER = frozenset("tell know explain describe give list happen happened mean means did does do "
                    "and or so also about exactly".split())


@dataclass
class Turn:
    question: str
    answer: str = ""
    quotes: list[str] = field(default_factory=list)
    retrieval_query: str = ""


def as_turn(item) -> Turn | None:
    """One history entry in any of the accepted shapes, or None when it carries no question."""
    if item is None:
        return None
    if isinstance(item, str):
        return Turn(item) if item.strip() else None
    if isinstance(item, (tuple, list)):
        if not item:
            return None
        q = str(item[0] or "")
        a = str(item[1] or "") if len(item) > 1 else ""
        return Turn(q, a) if q.strip() else None
    if isinstance(item, dict):
        q = str(item.get("question") or "")
        cites = item.get("citations") or []
        quotes = [str(c.get("quote", "")) for c in cites if isinstance(c, dict)]
        rq = str(item.get("retrieval_query") or "")
        return Turn(q, str(item.get("answer") or ""), quotes, rq) if q.strip() else None
    q = getattr(item, "question", None)
    if isinstance(q, str) and q.strip():
        cites = getattr(item, "citations", None) or []
        quotes = [getattr(c, "quote", "") for c in cites] if not getattr(item, "abstained", False) else []
        return Turn(q, str(getattr(item, "answer", "") or ""), quotes,
                    str(getattr(item, "retrieval_query", "") or ""))
    return None


def turns(history: Iterable | None) -> list[Turn]:
    return [t for t in (as_turn(item) for item in (history or [])) if t is not None]


def leans_on_context(question: str) -> bool:
    """Does the question need the conversation to be understood?"""
    tokens = [w for w in re.findall(r"[\w’']+", fold(question))]
    if any(w in REFERRING for w in tokens):
        return True
    own = [w for w in tokens if w not in STOPWORDS and w not in QUESTION_WORDS and w not in _FILLER
           and len(w) > 1]
    return len(own) < MIN_OWN_TERMS


def key_terms(text: str) -> list[str]:
    """The words of ``text`` worth searching with, in order, without repeats (by stem)."""
    out: list[str] = []
    seen: set[str] = set()
    for tok in re.findall(r"[\w’'$%]+(?:[.,]\d+)*", text):
        low = fold(tok)
        if low in STOPWORDS or low in QUESTION_WORDS or low in REFERRING or low in _FILLER or len(low) < 2:
            continue
        stems = content_words(low) or [low]
        if stems[0] in seen:
            continue
        seen.add(stems[0])
        out.append(tok)
    return out


def names_in(text: str) -> list[str]:
    """Capitalised words of ``text`` not at a sentence start (likely names), without repeats."""
    out: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+|\n", text):
        words = re.findall(r"[\w’'.-]+", sentence)
        for w in words[1:]:
            w = w.strip(".-")
            if w[:1].isupper() and fold(w) not in STOPWORDS and w not in out:
                out.append(w)
    return out


def retrieval_query(question: str, history: Sequence | None = None) -> str:
    """The text to search the documents with for ``question`` asked after ``history``."""
    question = " ".join((question or "").split())
    past = turns(history)
    if not question or not past or not leans_on_context(question):
        return question
    prev = past[-1]
    # The previous question as it was searched: a follow-up of a follow-up keeps the topic.
    base = prev.retrieval_query or prev.question
    own = key_terms(question)
    borrowed: list[str] = []
    seen = {s for w in own for s in content_words(w)}
    for term in key_terms(base) + [n for q in prev.quotes for n in names_in(q)]:
        stems = content_words(term) or [fold(term)]
        if stems[0] in seen:
            continue
        seen.add(stems[0])
        borrowed.append(term)
        if len(borrowed) == MAX_TERMS:
            break
    if not borrowed:
        return question
    # The question's own terms are repeated so that the borrowed ones do not outweigh them.
    return " ".join([question, *own, *own, *borrowed])
