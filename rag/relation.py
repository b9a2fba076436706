"""Who did what to whom: checks that a statement the claim rests on says it of the same party, the
same way round, with the same verb. Each gives a reason when it fails, '' when it passes.

- ``says_opposite``: the statement says the opposite word ("fell" for "rose", "producer" for
  "consumer").
- ``same_direction``: two names the claim and the statement both hold, joined by the same verb, stand
  in the same order ("B invests in A" is not "A invests in B").
- ``same_frame``: the words around a number are the same but for the party ("4% of the placebo
  group" is not "4% of the Veloxin group").
- ``number_of_another``: the statement gives the claim's number for another party and another number
  for the claim's ("sample A conducted 45 … and sample B conducted 12" is not "sample B reached 45").
- ``in_the_asked_part``: the claimed name stands in the part of the sentence that says what is asked.
- ``said_to_lose``: a name the passage says was defeated, and never says won, did not win.

Whose fact it is (another party's role, fact, act or sentence) is checked in ``party``.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .text import (STOPWORDS, acronyms, content_words, fold, mentioned, numbers, shares_root,
                   spelled_out, stem, words)
from .wording import (NUMBER_SPAN, TOKEN, folded_names, lowercase_words, name_runs, name_spans, names_a_date,
                      number_kind, relation_words, same_word)

if TYPE_CHECKING:
    from .claim import Facts, Statement

_PASSIVE = frozenset("by from".split())


BE = frozenset("is are was were be been being 's".split())


# Words that say the opposite of each other ('won' against 'lost to'), by stem, each pair both ways;
# an adjective's comparative and superlative both ('higher', 'highest').
_OPPOSITE_PAIRS = [pair.split(":") for pair in """
win:lose rise:fall increas:decreas gain:lose buy:sell approv:reject accept:reject higher:lower highest:lowest
above:below join:leav hire:fire import:export lend:borrow produc:consum impos:lift introduc:lift open:close
allow:ban larger:smaller largest:smallest maximum:minimum expand:shrink support:oppos win:nomin
""".split()]


_OPPOSITE: dict[str, set[str]] = {}


for _a, _b in _OPPOSITE_PAIRS:
    _OPPOSITE.setdefault(_a, set()).add(_b)
    _OPPOSITE.setdefault(_b, set()).add(_a)


def says_opposite(relation: set[str], said: set[str]) -> tuple[str, str] | None:
    """(a word of ``relation``, its opposite) when ``said`` holds the opposite and not the word."""
    flipped = sorted((w, o) for w in relation if not shares_root({w}, said)
                     for o in _OPPOSITE.get(w, ()) if shares_root({o}, said))
    return flipped[0] if flipped else None


_DEFEAT = re.compile(r"\b(?:defeated|defeating|defeats|beat|beats|beating|over|edged|edging|outlasted)\s+((?:[A-Z][\w'’.-]+\s?)+)")


_LOST_TO = re.compile(r"((?:[A-Z][\w'’.-]+\s?)+)\s(?:lost|loses|losing|fell)\s+to\b")


_WON = re.compile(r"((?:[A-Z][\w'’.-]+\s?)+)\s(?:won|wins|defeated|defeats|beat|beats)\b")


def said_to_lose(f: "Facts", relation: set[str], text: str) -> str:
    """'' unless the claim says a name won that ``text`` says lost ('A defeated B', 'A beat B', 'B lost
    to A') and never says won."""
    if "win" not in relation:
        return ""
    lost = folded_names([m.group(1) for m in _DEFEAT.finditer(text)] + [m.group(1) for m in _LOST_TO.finditer(text)])
    won = folded_names([m.group(1) for m in _WON.finditer(text)])
    lost -= folded_names([m.group(1) for m in _DEFEAT.finditer(f.claim)])   # 'A defeated B to win' claims A won
    beaten = [run for _, run in name_runs(f.claim) if run in lost and run not in won]
    return f"the passage says {beaten[0]} lost" if beaten else ""


_LABEL = re.compile(r"([\w’'-]+)\s*:(?!\d)")      # 'chair: Wenna Pryor', not a time '10:30'


def same_direction(claim: str, statement: str) -> str:
    """'' unless two names stand in the claim and the statement in opposite orders around the same
    verb, in the active voice in both ('Gamma bought Acme' against 'Acme bought Gamma')."""
    c_runs, s_runs = name_runs(claim), name_runs(statement)
    c_toks, s_toks = [fold(t) for t in TOKEN.findall(claim)], [fold(t) for t in TOKEN.findall(statement)]

    def where(name: str) -> int | None:
        """Where the statement names ``name``: a run holding each of its words ('Shinzo Abe' in 'Prime
        Minister Shinzo Abe', 'Japan' in 'Japanese'), when exactly one run does."""
        found = [pos for pos, run in s_runs if all(mentioned(w, set(run.split())) for w in name.split())]
        return found[0] if len(found) == 1 else None

    s_pos = {name: where(name) for _, name in c_runs}
    # a field's label relates by a noun too, either way round ('Osk Mills (chair: Wenna Pryor)')
    labels = set(content_words(" ".join(_LABEL.findall(statement))))
    for i, (pa, a) in enumerate(c_runs):
        for pb, b in c_runs[i + 1:]:
            if s_pos[a] is None or s_pos[b] is None or s_pos[a] <= s_pos[b]:
                continue
            between_c = c_toks[pa:pb]
            between_s = s_toks[s_pos[b]:s_pos[a]]
            # 'A was the engineer of B' relates by a noun, which may be written either way round
            if (_PASSIVE | BE) & set(between_c) or _PASSIVE & set(between_s):
                continue
            shared = set(content_words(" ".join(between_c))) & set(content_words(" ".join(between_s)))
            shared -= set(content_words(a + " " + b)) | labels
            if shared:
                return f"the passage says it the other way round: {b} before {a}"
    return ""


def same_frame(claim: str, statement: str) -> str:
    """'' unless the words around a number of the claim and the same number in the statement are the
    same but for one word next to it: '4% of the placebo group' against '4% of the Veloxin group',
    'sample B conducted 45' against 'sample A conducted 45'. The statement gives the number for
    another party, in the very frame the claim uses (wherever the number stands in the statement)."""
    c_raw, s_raw = TOKEN.findall(claim), TOKEN.findall(statement)
    c_toks = [fold(t).strip(".,;:") for t in c_raw]
    s_toks = [fold(t).strip(".,;:") for t in s_raw]

    def word(toks: list[str], raw: list[str], n: int) -> bool:      # a word that can name a party ('B', 'Veloxin')
        label = len(raw[n].strip(".,;:")) == 1 and raw[n][:1].isupper() and n > 0
        return label or (toks[n] not in STOPWORDS and not any(ch.isdigit() for ch in toks[n]))

    def swapped(i: int, j: int) -> tuple[str, str] | None:
        """The (claim's, statement's) word that differs in an otherwise shared frame around i and j: the
        word next to the number and the one beyond the differing word are the same in both (a word
        right next to it that differs is another wording, '4410 tonnes' for 'Tonnes: 4410')."""
        for step in (1, -1):
            for k in range(1, 4):
                a, b = i + step * k, j + step * k
                if not (0 <= a < len(c_toks) and 0 <= b < len(s_toks)) or c_toks[a] != s_toks[b]:
                    break
            else:
                continue
            a2, b2 = a + step, b + step
            if k >= 2 and 0 <= a < len(c_toks) and 0 <= b < len(s_toks) and 0 <= a2 < len(c_toks) and 0 <= b2 < len(s_toks) \
                    and c_toks[a2] == s_toks[b2] and word(c_toks, c_raw, a) and word(s_toks, s_raw, b) \
                    and stem(c_toks[a]) != stem(s_toks[b]) and not same_word(c_toks[a], {s_toks[b]}):
                return c_toks[a], s_toks[b]
        return None

    for i, tok in enumerate(c_toks):
        if not any(ch.isdigit() for ch in tok):
            continue
        found = [swapped(i, j) for j, other in enumerate(s_toks) if other == tok]
        if found and all(found):
            return f"the passage gives {tok} for “{found[0][1]}”, not for “{found[0][0]}”"
    return ""


def number_of_another(claim: str, statement: str) -> str:
    """'' unless the statement pairs the claim's number with another party, and the claim's party with
    another number of the same measure: 'sample A conducted 45 siemens and sample B conducted 12
    siemens' does not say 'Sample B reached 45 siemens', whatever the verb. A number's party is the
    name last written before it, since the number before."""
    lower = lowercase_words(claim, statement)
    told = _numbers_with_party(statement, lower)
    for number, unit, party in _numbers_with_party(claim, lower):
        owner = next((p for n, _, p in told if n == number), None)
        if party and owner and owner != party \
                and any(p == party and n != number and u == unit for n, u, p in told):
            return f"the passage gives {number} for “{owner}”, not for “{party}”"
    return ""


def _numbers_with_party(text: str, lower: set[str]) -> list[tuple[str, str, str]]:
    """(number, the word after it, the party named last before it) for each number of ``text``; a
    party is a run of words written as a name (not words seen in lower case) or a one-letter label ('B')."""
    toks = [t.strip(".,;:") for t in TOKEN.findall(text)]
    out, party, last = [], "", -2
    for i, tok in enumerate(toks):
        low = fold(tok).removesuffix("'s")
        if any(ch.isdigit() for ch in tok):
            after = fold(toks[i + 1]) if i + 1 < len(toks) else ""
            out.append((low, "" if any(ch.isdigit() for ch in after) else after, party))
            party = ""
        elif tok[:1].isupper() and ((len(tok) == 1 and i > 0) or (low not in STOPWORDS and low not in lower
                                                                   and not names_a_date(tok))):
            party, last = (f"{party} {low}" if last == i - 1 else low), i     # a name of several words is one party
    return out


def alternatives(claim: str, statement: Statement, question: str) -> tuple[str, list[str]]:
    """The first new fact of ``claim`` as it writes it, and the other facts of the same kind that
    ``statement`` gives (names for a name, numbers for a number), as written there: what else the
    statement might be saying fills the question's gap."""
    lower = lowercase_words(statement.sentence, claim, question)
    q_words = set(words(question.replace(".", "")))
    q_numbers = numbers(question)
    for m in NUMBER_SPAN.finditer(claim):
        if numbers(m.group(0)) - q_numbers:
            others = [n.group(0) for n in NUMBER_SPAN.finditer(statement.text)
                      if not numbers(n.group(0)) & numbers(claim) and not numbers(n.group(0)) & q_numbers
                      and number_kind(n.group(0)) == number_kind(m.group(0))]
            return m.group(0), list(dict.fromkeys(others))
    spans = name_spans(claim, lower)
    new = [(text, folded) for text, folded in spans if not all(mentioned(w, q_words) for w in folded.split())]
    if not new:
        return "", []
    claim_words = set(words(claim.replace(".", "")))
    # the words a name of the claim or question abbreviates name the same party ('FIS': 'Front Islamique de Salut')
    spelled = [x for a in acronyms(f"{claim} {question}") for x in spelled_out(a, statement.text)]
    others = [text for text, folded in name_spans(statement.text, lower)
              if not any(mentioned(w, claim_words) or mentioned(w, q_words) for w in folded.split())
              and not any(text in x for x in spelled)]
    return new[0][0], list(dict.fromkeys(others))


# The stretches of a statement between commas, semicolons, colons, brackets and dashes.
_PART_BREAK = re.compile(r"[,;:()\[\]\u2013\u2014]|\s-\s")


def in_the_asked_part(claim: str, st: Statement, question: str) -> str:
    """'' unless the stretch of the statement that says what the question asks (between commas or
    brackets, holding most of the question's words) names another party, and the claimed name
    stands only in stretches that say nothing the question asks: "Takaichi is Japan's
    first female leader, rising to power after the assassination of Shinzo Abe" does not say Shinzo
    Abe is Japan's first female leader ("…a parser, written by Mei Chen" still says who wrote it)."""
    fact, others = alternatives(claim, st, question)
    asked = relation_words(question)
    if not fact or not others or len(asked) < 2 or NUMBER_SPAN.fullmatch(fact.strip()):
        return ""                  # numbers are left to the checks above: commas split dates and lists
    parts = [p for p in _PART_BREAK.split(st.text) if p.strip()]
    held = [len(asked & relation_words(p)) for p in parts]
    best = max(held)
    if len(parts) < 2 or best * 2 < len(asked) or held.count(best) > 1:
        return ""                                   # no one stretch clearly says what is asked
    part = parts[held.index(best)]
    if any(n for p, n in zip(parts, held) if _written_in(fact, p)):
        return ""
    rival = max((o for o in others if _written_in(o, part)), key=len, default=None)
    return f"the passage says this of {rival}, not of {fact}" if rival else ""


def _written_in(name: str, text: str) -> bool:
    """Is ``name`` written in ``text`` as whole words ('Japan' is not written in 'Japanese')?"""
    return re.search(rf"(?<!\w){re.escape(fold(name))}(?!\w)", fold(text)) is not None
