"""Check every sentence of a draft answer against the passage it cites.

A sentence is *supported* by a passage when every number and name it states appears in the
passage, enough of its content words do, and one statement of the passage states it (``claim``:
its facts and their relation together in one sentence, said of the same party, the same way
round), and words it puts in quotation marks are the passage's own, word for word. A sentence
citing a passage that does not support it is re-cited to one that does, or dropped. Links and
images that are not verbatim in a cited passage are removed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .chunk import split_sentences
from .claim import UNSTATED_RELATION, Statement, find as find_statement
from .wording import same_word
from .evidence import Passage
from .prompt import NOT_FOUND
from .text import (citation_markers, content_words, flips_a_word, fold, names, negated, numbers, shares_root,
                   strip_markers, words)

MIN_WORD_OVERLAP = 0.5

_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)\s]*)[^)]*\)|<(https?://[^>\s]+)>|\bhttps?://[^\s)\]>]+", re.I)
_REFUSAL = re.compile(
    r"not found|(passages|documents|text|context)\s+(do|does)\s+not\s+(contain|mention|say|provide|include|specify)"
    r"|no information|not (mentioned|provided|specified|stated)|cannot (be )?(answer|determine|find)", re.I)


@dataclass
class Support:
    ok: bool
    missing: list[str] = field(default_factory=list)   # numbers or names absent from the passage
    overlap: float = 0.0
    unstated: str = ""        # why the passage holds the claim's facts but does not state the claim
    statement: Statement | None = None   # the clause or sentence of the passage that states it


@dataclass
class VerifiedSentence:
    text: str                 # the sentence without markers
    cites: list[int]          # passage numbers that support it
    dropped_cites: list[int] = field(default_factory=list)
    statement: Statement | None = None   # where the first cited passage states it (None: no new fact to place)


@dataclass
class Verdict:
    sentences: list[VerifiedSentence]
    dropped: list[str]        # sentences removed as unsupported
    refused: bool             # the model said the passages do not answer
    notes: list[str] = field(default_factory=list)
    # Passages a dropped sentence cites where one sentence holds every one of its facts but says their
    # relation in other words ('Warsaw was the beloved city of Isaac Bashevis Singer' for 'Singer loved
    # Warsaw'): the place the model took its answer from, quoted if it answers the question itself.
    held: list[int] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)    # why each dropped sentence was, for the reader

    @property
    def supported(self) -> bool:
        return bool(self.sentences)


def support(sentence: str, passage_text: str, question: str = "", context: str = "") -> Support:
    """Does ``passage_text`` back every fact ``sentence`` states? Numbers must be in the passage
    itself; a name may also be in its surrounding ``context`` (the passage may say "it" for "China")."""
    claim = strip_markers(sentence)
    own_words = words(passage_text)
    # A name may come from the surrounding text only when the passage refers back to something
    # ("It expanded those measures" after "China imposed …").
    refers_back = any(w in _ANAPHORA for w in own_words)
    passage_words = set(own_words) | (set(words(context)) if refers_back else set())
    passage_numbers = numbers(passage_text)
    # Every number must be in the passage itself, even one the question gives ('day 10' is what the
    # question is about). A name the question gives ('the 92nd Academy Awards Ceremony') is not a new
    # claim; whether the passages are about it at all is checked for the whole answer
    # (answerable.missing_names).
    missing = [n for n in sorted(numbers(claim)) if n not in passage_numbers]
    asked = {fold(w.replace(".", "")).removesuffix("'s") for w in words(question)}
    missing += [n for n in sorted(names(claim))
                if not same_word(n, passage_words) and n.replace(".", "") not in asked]
    # 'the men's singles' is not backed by a quote about the women's singles, even though the
    # question supplied the words.
    claim_words = {w.removesuffix("'s") for w in words(claim)}
    quote_words = {w.removesuffix("'s") for w in own_words}
    missing += [w for w, other in _OPPOSITES if w in claim_words and w not in quote_words and other in quote_words]
    # Words the question supplies are not new claims; measure the rest.
    qwords = set(content_words(question))
    cwords = (set(content_words(claim)) - qwords) or set(content_words(claim))
    pwords = set(content_words(passage_text))
    overlap = len(cwords & pwords) / len(cwords) if cwords else 1.0
    closest = _closest_sentences(claim, passage_text)
    if negated(claim) != negated(closest) or flips_a_word(claim, closest):
        missing.append("negation")
    missing += [f"“{q}”" for q in misquoted(claim, f"{passage_text} {context}")]
    if missing or overlap < MIN_WORD_OVERLAP:
        return Support(ok=False, missing=missing, overlap=overlap)
    unstated, statement = find_statement(claim, passage_text, question, context)
    return Support(ok=not unstated, missing=missing, overlap=overlap, unstated=unstated, statement=statement)


# Words the claim puts in quotation marks: two or more words, not running past the sentence.
_QUOTED = re.compile(r'"([^"\n]+?\s[^"\n]+?)"|“([^”\n]+?\s[^”\n]+?)”')


def misquoted(claim: str, passage_text: str) -> list[str]:
    """What ``claim`` quotes that ``passage_text`` does not hold word for word: a quotation is the
    passage's own words or it is not one ('imperialism was the lowest form of capitalism' is not
    quoted by '"imperialism was the highest form of capitalism …"'). Case and punctuation may differ,
    and an ellipsis may stand for words left out."""
    quotes = [a or b for a, b in _QUOTED.findall(claim)]
    if not quotes:
        return []
    held = f" {' '.join(words(passage_text))} "
    # an ellipsis marks words left out: each part is quoted on its own
    return [q for q in quotes if any(words(part) and f" {' '.join(words(part))} " not in held
                                     for part in re.split(r"\.\.\.|…", q))]


_OPPOSITES = [("men", "women"), ("women", "men"), ("man", "woman"), ("woman", "man"), ("male", "female"),
              ("female", "male"), ("boys", "girls"), ("girls", "boys")]

_ANAPHORA = frozenset("it its they their them he she his her this these those there".split())

def _closest_sentences(claim: str, passage_text: str) -> str:
    """The passage's sentences sharing the most content words with ``claim``: whether the passage
    negates the claim is read there, not from an unrelated sentence ('Day 1 goes without issue.
    Day 2 – you emerge in a grotto')."""
    cwords = set(content_words(claim))
    best, best_n = [], 0
    for a, b in split_sentences(passage_text):
        for line in passage_text[a:b].split("\n"):
            n = len(cwords & set(content_words(line)))
            if n > best_n:
                best, best_n = [line], n
            elif n == best_n and n:
                best.append(line)
    return " ".join(best) if best else passage_text


def _supports(passage: Passage, sentence: str, question: str) -> Support:
    return support(sentence, passage.text, question, passage.context)


def _why_unsupported(sup: Support | None) -> str:
    """Why the first passage a sentence cites does not back it, in words for the reader. The facts it
    lacks are not named: what the model made up is never shown as if said."""
    if sup is None:
        return "no passage shown states it"
    if sup.unstated == UNSTATED_RELATION:
        return "the passage it cites holds its facts but does not state its relation"
    if sup.unstated:
        return sup.unstated
    if "negation" in sup.missing:
        return "the passage it cites says it the other way (with or without a “not”)"
    if sup.missing:
        return "the passage it cites does not have a number, name or quotation it states"
    return "the passage it cites has too few of its words"


def _relevant(passage: Passage, question_words: set[str]) -> bool:
    """A passage (with its surrounding chunk) that shares no word with the question cannot answer it;
    this is what stops a draft that obeys an instruction hidden in an unrelated passage."""
    if not question_words:
        return True
    return shares_root(question_words, set(content_words(passage.context or passage.text)))


_DANGLING = frozenset("a an the of on in at to for with by from and or but as than into onto about via per is are was "
                      "were be its their his her".split())


def _cut_short(sentence: str) -> bool:
    """'MP Materials is listed on' — a sentence ending in a word that needs a continuation."""
    tail = words(sentence.rstrip(" .!;:,"))
    return bool(tail) and tail[-1] in _DANGLING


def is_refusal(text: str) -> bool:
    return bool(_REFUSAL.search(text)) or fold(text).startswith(fold(NOT_FOUND))


def _strip_links(sentence: str, allowed: str) -> str:
    def repl(m: re.Match) -> str:
        whole = m.group(0)
        trail = ""
        if not whole.startswith(("[", "!", "<")):  # a bare URL: sentence punctuation is not part of it
            core = whole.rstrip(".,;:!?")
            whole, trail = core, whole[len(core):]
        if whole in allowed:
            return whole + trail
        return (m.group(1) or "") + trail
    return _LINK.sub(repl, sentence).strip()


def verify(draft: str, passages: list[Passage], question: str = "") -> Verdict:
    by_n = {p.n: p for p in passages}
    qwords = set(content_words(question))
    kept: list[VerifiedSentence] = []
    dropped: list[str] = []
    reasons: list[str] = []
    notes: list[str] = []
    refused = False
    held: list[int] = []
    for a, b in split_sentences(draft):
        raw = draft[a:b]
        cites = [n for n in dict.fromkeys(citation_markers(raw))]
        text = strip_markers(raw)
        if not content_words(text) or text.rstrip().endswith("?"):
            continue  # no claim ("Answer:", a lone marker, the question repeated)
        if is_refusal(text):
            refused = True
            continue
        if _cut_short(text):
            dropped.append(text)
            reasons.append("it stops mid-claim")
            continue
        sups = {n: _supports(by_n[n], text, question) for n in cites if n in by_n and _relevant(by_n[n], qwords)}
        good = [n for n in cites if n in sups and sups[n].ok]
        bad = [n for n in cites if n not in good]
        if not good:
            # the passage that backs every number and name of it, the most overlapping first
            checked = [(p, _supports(p, text, question)) for p in passages
                       if p.n not in cites and _relevant(p, qwords)]
            checked.sort(key=lambda pair: -pair[1].overlap)
            found = [(p.n, sup) for p, sup in checked if sup.ok][:1]
            sups.update(found)
            good = [n for n, _ in found]
            if good and cites:
                notes.append(f"re-cited [{good[0]}] for a sentence citing {cites}")
        if not good:
            dropped.append(text)
            reasons.append(_why_unsupported(next((sups[n] for n in cites if n in sups), None)))
            held += [n for n in cites if n in sups and sups[n].unstated == UNSTATED_RELATION and n not in held]
            continue
        allowed = " ".join(by_n[n].text for n in good)
        text = _strip_links(text, allowed)
        kept.append(VerifiedSentence(text, good, bad, sups[good[0]].statement))
    return Verdict(kept, dropped, refused, notes, held, reasons)
