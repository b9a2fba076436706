"""Does the evidence address the question at all? Checks that decide an abstention even when the
model produced a fluent, quote-backed sentence (it may be about something else).

- Every name the question asks about must appear near the cited quote (in its chunk).
- A rare word of the question (an uncommon English word, e.g. 'dysprosium') that appears nowhere in
  the retrieved text means the documents found do not talk about it.
"""
from __future__ import annotations

from .text import QUESTION_WORDS, STOPWORDS, fold, mentioned, stem, words

RARE_ZIPF = 3.5     # wordfreq Zipf frequency below which a word counts as rare


def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


def question_names(question: str) -> list[str]:
    """Capitalised words of the question after its first word, folded (e.g. 'Japan', 'NdPr')."""
    out = []
    tokens = question.replace("?", " ").split()
    for tok in tokens[1:]:
        tok = tok.strip(".,;:!\"'()[]“”‘’")
        for part in tok.replace("-", " ").replace("–", " ").split():
            if part[:1].isupper() and len(part) > 1 and part.lower() not in STOPWORDS | QUESTION_WORDS:
                out.append(fold(part).removesuffix("'s").removesuffix("’s"))
    return list(dict.fromkeys(out))


def rare_terms(question: str) -> list[str]:
    out = []
    for w in words(question):
        if len(w) > 3 and w.isalpha() and w not in STOPWORDS and w not in QUESTION_WORDS and _zipf(w) < RARE_ZIPF:
            out.append(w)
    return out


def missing_names(question: str, context: str) -> list[str]:
    ctx = set(words(context.replace(".", "")))
    names = [n.replace(".", "") for n in question_names(question)]
    return [n for n in names if n and not mentioned(n, ctx)]


def missing_rare_terms(question: str, context: str) -> list[str]:
    ctx_stems = {stem(w) for w in words(context)}
    ctx_words = set(words(context))
    return [w for w in rare_terms(question) if stem(w) not in ctx_stems and not mentioned(w, ctx_words)]
