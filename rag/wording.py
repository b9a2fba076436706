"""How the claim checks read words: names (runs of capitalised words), numbers and what they
measure, and the stems of the words that state a relation ('won' and 'wins' alike)."""
from __future__ import annotations

import re

from .kinds import A_YEAR
from .chunk import ends_sentence, split_sentences
from .dates import MONTHS
from .text import STOPWORDS, fold, mentioned, verb_stem, words

TOKEN = re.compile(r"[\w’'.-]+")


def relation_words(text: str) -> set[str]:
    """The stems of ``text``'s content words, irregular past forms as their present ('won' -> 'win'),
    without tokens holding digits (those are facts, checked as numbers)."""
    out = set()
    for w in words(text):
        if w in STOPWORDS or len(w) < 2 or any(ch.isdigit() for ch in w):
            continue
        out.add(verb_stem(w))
    return out


def name_words(text: str, lowercase: set[str] | None = None) -> set[str]:
    """Folded words of ``text`` written as names: capitalised, not stop words, not initials ('U. S.').
    A sentence's first word is capitalised anyway, so it counts only when it is not written in lower
    case in ``lowercase`` (the words seen in lower case nearby: 'Patients … the patients')."""
    out = set()
    for a, b in split_sentences(text):
        for i, m in enumerate(TOKEN.finditer(text[a:b])):
            for j, part in enumerate(m.group(0).split("-")):          # 'U.S.-Japan' names two
                tok = part.strip(".'’")
                low = fold(tok).removesuffix("'s").replace(".", "")
                if not tok[:1].isupper() or len(low) < 2 or low in STOPWORDS or not any(c.isalpha() for c in low):
                    continue
                if i == 0 and j == 0 and low in (lowercase or set()):
                    continue
                out.add(low)
    return out


def lowercase_words(*texts: str) -> set[str]:
    return {fold(t).removesuffix("'s") for text in texts for t in TOKEN.findall(text) if t[:1].islower()}


def same_word(fact: str, scope_words: set[str]) -> bool:
    """Is ``fact`` (a folded word) among ``scope_words``, as ``text.mentioned`` reads it, or the same
    month under another spelling ('Nov' and 'November')?"""
    month = MONTHS.get(fact)
    return mentioned(fact, scope_words) or (month is not None and any(MONTHS.get(w) == month for w in scope_words))


# The first three letters of months and weekdays: capitalised words that are dates, not names.
CALENDAR = frozenset("jan feb mar apr may jun jul aug sep oct nov dec mon tue wed thu fri sat sun".split())


def names_a_date(name: str) -> bool:
    """Is a word of ``name`` a month or weekday ('March', 'Nov', 'Monday')?"""
    return any(fold(w)[:3] in CALENDAR for w in name.split())

# Not the digits of a name ("A100", "NS-1", "v3"): as text.numbers reads them.
NUMBER_SPAN = re.compile(r"(?<![A-Za-z0-9_])(?<![A-Za-z]-)[$£€]?\d+(?:[.,]\d+)*(?:\s?(?:%|per cent|percent|million|billion|thousand))?")


def number_kind(span: str) -> tuple:
    """What a written number measures, roughly: money, a share, a year, a scale word, a plain number."""
    digits = span.lstrip("$£€")
    return (span[:1] in "$£€", "%" in span or "per" in span, bool(A_YEAR.fullmatch(digits)),
            any(w in span for w in ("million", "billion", "thousand")))


def name_spans(text: str, lower: set[str]) -> list[tuple[str, str]]:
    """(as written, folded) for each run of capitalised words of ``text``."""
    toks = list(TOKEN.finditer(text))
    out = []
    for first, stop, folded in name_token_runs(text, lower):
        a, b = toks[first].start(), toks[stop - 1].end()
        out.append((text[a:b].rstrip(".-'’").removesuffix("'s").removesuffix("’s"), folded))
    return out


def first_party(text: str, lower: set[str] | None = None) -> str:
    """The first name ``text`` gives that is not a month ('In the January 2006 election … it won'
    names no party in 'January'), folded; '' when it names none."""
    return next((run for _, run in _parties(text, lower)), "")


# Pronouns that stand as a sentence's subject ('Trained as a lawyer he chose journalism, and wrote
# about Islam' is said of him, not of Islam); not the possessives ('His son Carl founded …' names Carl).
SUBJECT_PRONOUNS = frozenset("he she it they".split())


def named_subject(text: str, lower: set[str] | None = None) -> str:
    """``first_party``, unless a subject pronoun comes before it: then '' (the sentence is said of
    whom the pronoun means, named before it)."""
    start, run = next(iter(_parties(text, lower)), (0, ""))
    toks = [fold(t.strip(".-'’")) for t in TOKEN.findall(text)[:start]]
    return "" if SUBJECT_PRONOUNS & set(toks) else run


def _parties(text: str, lower: set[str] | None) -> list[tuple[int, str]]:
    return [(i, run) for i, run in name_runs(text, lower) if not all(MONTHS.get(w) for w in run.split())]


def name_runs(text: str, lower: set[str] | None = None) -> list[tuple[int, str]]:
    """(position, folded name) of each run of capitalised words of ``text``, in order; a sentence's
    first word only when ``lower`` (words seen in lower case) does not hold it."""
    return [(start, name) for start, _, name in name_token_runs(text, lower)]


def name_token_runs(text: str, lower: set[str] | None = None) -> list[tuple[int, int, str]]:
    """(first token, token after the last, folded name) of each run of capitalised words of ``text``."""
    out, run, start = [], [], 0
    toks = TOKEN.findall(text)
    for i, tok in enumerate(toks + [""]):
        clean = tok.strip(".-'’")
        low = fold(clean).removesuffix("'s").replace(".", "")
        first = i == 0 or toks[i - 1].endswith((".", "!", "?"))
        is_name = (clean[:1].isupper() and low not in STOPWORDS and len(low) > 1
                   and not (first and lower and low in lower))
        # a run ends at a word that is no name, and with its sentence ('… Mill Road. Pinevale …')
        if run and (not is_name or ends_sentence(toks[i - 1])):
            out.append((start, i, " ".join(run)))
            run = []
        if is_name:
            if not run:
                start = i
            run.append(low.replace("-", " "))
    return out


def folded_names(found: list[str]) -> set[str]:
    return {" ".join(fold(w).removesuffix("'s").replace(".", "") for w in name.split()) for name in found}
