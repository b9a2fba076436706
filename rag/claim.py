"""Is a claim *stated* by a passage, not only assembled from its words?

A claim's facts (the numbers and names it adds to the question) and the relation between them must
be stated together in one place of the passage: one clause or sentence, or a sentence and the one it
refers back to ("She had run the water board" after "Dana Whitfield became mayor"). ``find`` looks
for that statement; each check gives a reason when it fails:

- ``_states``: the statement holds every new fact of the claim and most of its other words (the
  relation), not facts gathered from different sentences, and no verb it says the opposite of
  ("fell" for "rose").
- ``same_party``: a name the claim borrows (from the sentence before, or the question's topic) may
  not stand where the statement names another party ("Acme bought Gamma for $5 million" does not
  say what Beta paid), and must be named before the statement.
- ``same_direction``: two names the claim and the statement both hold, joined by the same verb,
  stand in the same order ("B invests in A" is not "A invests in B").
- ``said_to_lose``: a name the passage says was defeated, and never says won, did not win.

``answering_statement`` is the same idea for a passage quoted as an answer: one of its sentences
must answer the question on its own.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .chunk import split_sentences
from .answerable import (A_YEAR, expected_kind, has_kind, missing_focus, other_qualifier,
                         question_name_runs)
from .dates import MONTHS
from .text import STOPWORDS, content_words, fold, mentioned, numbers, stem, words

# The share of the claim's own words (its relation) the statement must hold.
MIN_STATEMENT_OVERLAP = 0.5

# A clause of fewer words is a field of a record or a list, not a statement of its own.
MIN_CLAUSE_WORDS = 4
# ', and' starts a clause only before a subject ('…, and its score was …'), not before the last item
# of a list ('Windows, Xbox One, and Stadia').
_CLAUSE = re.compile(r";\s+|,?\s+(?:while|whereas|but|although|though)\s+|\s+and\s+then\s+"
                     r"|,\s+and\s+(?=(?:it|its|he|his|she|her|they|their|we|our|the|this|that|these|those)\b)",
                     re.I)
_TOKEN = re.compile(r"[\w’'.-]+")
_PRONOUNS = frozenset("it its they their them he she his her him".split())
_PASSIVE = frozenset("by from".split())
_BE = frozenset("is are was were be been being 's".split())


# Irregular English verbs: the past forms a stemmer leaves apart from the present ('won'/'wins').
_IRREGULAR = dict(pair.split(":") for pair in """
won:win paid:pay sold:sell bought:buy made:make took:take taken:take gave:give given:give led:lead ran:run
fell:fall fallen:fall rose:rise risen:rise grew:grow grown:grow began:begin begun:begin wrote:write
written:write held:hold met:meet left:leave found:find told:tell built:build spent:spend struck:strike
brought:bring became:become came:come went:go gone:go saw:see seen:see knew:know known:know chose:choose
chosen:choose drew:draw drawn:draw flew:fly threw:throw sank:sink shot:shoot stood:stand lost:lose
sent:send kept:keep felt:feel got:get sought:seek taught:teach caught:catch fought:fight forgot:forget
hid:hide hit:hit laid:lay lent:lend lit:light meant:mean rode:ride rang:ring sang:sing sat:sit slept:sleep
spoke:speak spoken:speak stole:steal swore:swear swam:swim tore:tear woke:wake wore:wear wound:wind
broke:break broken:break drove:drive driven:drive ate:eat eaten:eat froze:freeze shook:shake
""".split())


# Words that say the opposite of each other ('won' against 'lost to'), by stem.
_OPPOSITE = dict(pair.split(":") for pair in """
win:lose lose:win rise:fall fall:rise increas:decreas decreas:increas gain:lose buy:sell sell:buy
approv:reject reject:approv accept:reject higher:lower lower:higher above:below below:above
join:leav leav:join hire:fire import:export export:import lend:borrow borrow:lend
""".split())


_DEFEAT = re.compile(r"\b(?:defeated|defeating|defeats|beat|beats|beating|over|edged|edging|outlasted)\s+((?:[A-Z][\w'’.-]+\s?)+)")
_LOST_TO = re.compile(r"((?:[A-Z][\w'’.-]+\s?)+)\s(?:lost|loses|losing|fell)\s+to\b")


_WON = re.compile(r"((?:[A-Z][\w'’.-]+\s?)+)\s(?:won|wins|defeated|defeats|beat|beats)\b")


def _folded_names(found: list[str]) -> set[str]:
    return {" ".join(fold(w).removesuffix("'s").replace(".", "") for w in name.split()) for name in found}


def said_to_lose(f: "Facts", relation: set[str], text: str) -> str:
    """'' unless the claim says a name won that ``text`` says lost ('A defeated B', 'A beat B', 'B lost
    to A') and never says won."""
    if "win" not in relation:
        return ""
    lost = _folded_names([m.group(1) for m in _DEFEAT.finditer(text)] + [m.group(1) for m in _LOST_TO.finditer(text)])
    won = _folded_names([m.group(1) for m in _WON.finditer(text)])
    lost -= _folded_names([m.group(1) for m in _DEFEAT.finditer(f.claim)])   # 'A defeated B to win' claims A won
    beaten = [run for _, run in _name_runs(f.claim) if run in lost and run not in won]
    return f"the passage says {beaten[0]} lost" if beaten else ""


def relation_words(text: str) -> set[str]:
    """The stems of ``text``'s content words, irregular past forms as their present ('won' -> 'win'),
    without tokens holding digits (those are facts, checked as numbers)."""
    out = set()
    for w in words(text):
        if w in STOPWORDS or len(w) < 2 or any(ch.isdigit() for ch in w):
            continue
        out.add(stem(_IRREGULAR.get(w, w)))
    return out


@dataclass(frozen=True)
class Statement:
    text: str          # a clause or sentence of the passage
    before: str        # the sentence before it, when it refers back to it with a pronoun; else ''
    sentence: str      # the whole sentence it is part of (a clause may leave out what it shares: 'while B's is 1.1')

    @property
    def scope(self) -> str:
        return f"{self.before} {self.text}".strip()


def name_words(text: str, lowercase: set[str] | None = None) -> set[str]:
    """Folded words of ``text`` written as names: capitalised, not stop words, not initials ('U. S.').
    A sentence's first word is capitalised anyway, so it counts only when it is not written in lower
    case in ``lowercase`` (the words seen in lower case nearby: 'Patients … the patients')."""
    out = set()
    for a, b in split_sentences(text):
        for i, m in enumerate(_TOKEN.finditer(text[a:b])):
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
    return {fold(t).removesuffix("'s") for text in texts for t in _TOKEN.findall(text) if t[:1].islower()}


def statements(passage: str, preceding: str = "") -> list[list[Statement]]:
    """The places a claim may be stated, sentence by sentence: a sentence's clauses, then the whole
    sentence. A statement with a pronoun may draw on the sentence before it (for the passage's first
    sentence, the last one of ``preceding``, the text above the passage)."""
    sentences = [passage[a:b] for a, b in split_sentences(passage)]
    above = [preceding[a:b] for a, b in split_sentences(preceding)][-1:]
    out = []
    for i, sent in enumerate(sentences):
        parts = [p.strip() for p in _CLAUSE.split(sent) if p and p.strip()]
        if any(len(p.split()) < MIN_CLAUSE_WORDS for p in parts):   # 'Ship: Albatross; Captain: …' is one record
            parts = [sent]
        earlier = sentences[i - 1] if i else (above[0] if above else "")
        group = []
        for part in (parts if len(parts) > 1 else []) + [sent]:
            before = earlier if set(words(part)) & _PRONOUNS else ""
            group.append(Statement(part, before, sent))
        out.append(group)
    return out


@dataclass
class Facts:
    claim: str
    new: set[str]              # numbers and names the claim adds to the question (or, without any, its new words)
    asked: set[str]            # numbers the claim repeats from the question
    asked_names: list[list[str]]   # names of the question the claim repeats, each a run of folded words
    names: set[str]            # every name of the claim


def facts(claim: str, question: str, passage: str) -> Facts:
    claim_names = name_words(claim, lowercase_words(passage, claim, question))
    q_words = set(words(question.replace(".", "")))
    q_numbers = numbers(question)
    new = {n for n in numbers(claim) if n not in q_numbers}
    asked = {n for n in numbers(claim) if n in q_numbers}
    new |= {name for name in claim_names if not mentioned(name, q_words)}
    runs = [[n for n in run if mentioned(n, claim_names)] for run in question_name_runs("x " + question)]
    if not new:   # 'The plant produces steel, glass and cement': the answer is in plain words
        new = set(content_words(claim)) - set(content_words(question))
        new = {w for w in new if not any(ch.isdigit() for ch in w)}
    return Facts(claim, new, asked, [r for r in runs if r], claim_names)


def same_word(fact: str, scope_words: set[str]) -> bool:
    """Is ``fact`` (a folded word) among ``scope_words``, as ``text.mentioned`` reads it, or the same
    month under another spelling ('Nov' and 'November')?"""
    month = MONTHS.get(fact)
    return mentioned(fact, scope_words) or (month is not None and any(MONTHS.get(w) == month for w in scope_words))


def find(claim: str, passage: str, question: str = "", context: str = "") -> tuple[str, Statement | None]:
    """('', the statement of ``passage`` that states ``claim``) or (why none does, None). ``context``
    is the text around the passage (its chunk), where the topic a question names may be."""
    f = facts(claim, question, passage)
    if not f.new:
        return "", None
    lower = lowercase_words(context, passage, claim, question)
    # the words that state the relation: not the facts themselves, nor the names the question gives
    relation = relation_words(claim) - relation_words(" ".join(f.new | f.asked | f.names))
    q_words = {w for w in words(question.replace(".", "")) if len(w) > 2}
    at = context.find(passage)
    earlier = context[:at] if at >= 0 else context     # a topic is named before it is referred to
    reason = "its facts are not stated together in one sentence of the passage"
    for group in statements(passage, earlier):
        # the tightest statements first: a sentence counts only when none of its clauses holds the facts
        for st in group:
            before = f"{earlier} {passage[:passage.find(st.sentence)]} {st.before} {st.text}"
            why = _states(f, relation, st, q_words, before, lower)
            if why is None:
                continue
            if not why:
                why = same_direction(claim, st.text) or said_to_lose(f, relation, f"{context} {passage}") \
                    or in_the_asked_part(claim, st, question)
                if not why:
                    return "", st
            reason = why
            break
    return reason, None


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
                      and _number_kind(n.group(0)) == _number_kind(m.group(0))]
            return m.group(0), list(dict.fromkeys(others))
    spans = name_spans(claim, lower)
    new = [(text, folded) for text, folded in spans if not all(mentioned(w, q_words) for w in folded.split())]
    if not new:
        return "", []
    claim_words = set(words(claim.replace(".", "")))
    others = [text for text, folded in name_spans(statement.text, lower)
              if not any(mentioned(w, claim_words) or mentioned(w, q_words) for w in folded.split())]
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
    return fold(name) in fold(text)


NUMBER_SPAN = re.compile(r"[$£€]?\d+(?:[.,]\d+)*(?:\s?(?:%|per cent|percent|million|billion|thousand))?")


def _number_kind(span: str) -> tuple:
    """What a written number measures, roughly: money, a share, a year, a scale word, a plain number."""
    digits = span.lstrip("$£€")
    return (span[:1] in "$£€", "%" in span or "per" in span, bool(A_YEAR.fullmatch(digits)),
            any(w in span for w in ("million", "billion", "thousand")))


def name_spans(text: str, lower: set[str]) -> list[tuple[str, str]]:
    """(as written, folded) for each run of capitalised words of ``text``."""
    toks = list(_TOKEN.finditer(text))
    out = []
    for first, stop, folded in _runs(text, lower):
        a, b = toks[first].start(), toks[stop - 1].end()
        out.append((text[a:b].rstrip(".-'’").removesuffix("'s").removesuffix("’s"), folded))
    return out


def _states(f: Facts, relation: set[str], st: Statement, q_words: set[str], earlier: str,
            lower: set[str]) -> str | None:
    """None when ``st`` does not hold the claim's new facts; else '' when it states the claim, or why not."""
    own_words, own_numbers = set(words(st.text.replace(".", ""))), numbers(st.text)
    scope_words = own_words | set(words(st.before.replace(".", "")))
    own_stems = set(content_words(st.text))
    for x in f.new:
        if x[:1].isdigit():
            if x not in own_numbers:      # a number is stated by the statement itself, never borrowed
                return None
        elif x in f.names:                # a name may be what a pronoun of the statement stands for
            if not same_word(x, scope_words):
                return None
        elif not (same_word(x, own_words) or x in own_stems):
            return None
    said = relation_words(f"{st.scope} {st.sentence}")
    flipped = sorted(w for w in relation if w not in said and _OPPOSITE.get(w) in said)
    if flipped:
        return f"the passage says “{_OPPOSITE[flipped[0]]}”, not “{flipped[0]}”"
    # One word of relation ('won') is too little to judge by; the facts and the party decide then.
    if len(relation) >= 2 and len(relation & said) / len(relation) < MIN_STATEMENT_OVERLAP:
        return "the sentence that holds its facts does not state its relation"
    return same_party(f, st, own_numbers, q_words, earlier, lower)


def _present(run: str, text: str, lower: set[str] | None = None) -> bool:
    """Is the name ``run`` (folded words) in ``text``: one of its words there (written as a name,
    with ``lower``), and not only under another name ('Ardent Bridge' is not in 'the Lowgate Bridge')?"""
    parts = run.split()
    all_words = set(words(text.replace(".", "")))
    if lower is not None:
        written = name_words(text, lower)
    else:   # in other words: by a word other than the name's head ('the bridge' may be another bridge)
        written, parts = all_words, parts[:-1] or parts
    return any(same_word(n, written) for n in parts) and not other_qualifier(run.split(), all_words, text)


def same_party(f: Facts, st: Statement, own_numbers: set[str], q_words: set[str], earlier: str,
               lower: set[str]) -> str:
    """'' unless the claim borrows a party the statement does not name as such (from the sentence
    before, or the topic the question names) and either the statement says it of another party in
    the claim's first place ('France joined in 1911' for 'Spain joined in 1911'), or the borrowed party
    is named nowhere up to the statement, not even in other words ('the presidential election')."""
    claim_runs = [run for _, run in _name_runs(f.claim, lower)]
    borrowed = [run for run in claim_runs if not _present(run, st.text, lower)]
    borrowed += [" ".join(run) for run in f.asked_names
                 if " ".join(run) not in borrowed and not _present(" ".join(run), st.text, lower)]
    if claim_runs and claim_runs[0] in borrowed:
        first = next((run for _, run in _name_runs(st.text, lower)), "")
        if first and not all(mentioned(w, f.names) or mentioned(w, q_words) for w in first.split()):
            return f"the passage says it of {first}, not of {claim_runs[0]}"
    numbers_borrowed = [x for x in sorted(f.asked) if x not in own_numbers]
    if numbers_borrowed and own_numbers - f.new - f.asked:
        rivals = ", ".join(sorted(own_numbers - f.new - f.asked))
        return f"the passage says it of {rivals}, not of {', '.join(numbers_borrowed)}"
    absent = [x for x in borrowed if not _present(x, earlier)]
    absent += [x for x in numbers_borrowed if x not in numbers(earlier)]
    return f"the passage does not mention {', '.join(absent)} before it says this" if absent else ""


def _name_runs(text: str, lower: set[str] | None = None) -> list[tuple[int, str]]:
    """(position, folded name) of each run of capitalised words of ``text``, in order; a sentence's
    first word only when ``lower`` (words seen in lower case) does not hold it."""
    return [(start, name) for start, _, name in _runs(text, lower)]


def _runs(text: str, lower: set[str] | None = None) -> list[tuple[int, int, str]]:
    """(first token, token after the last, folded name) of each run of capitalised words of ``text``."""
    out, run, start = [], [], 0
    toks = _TOKEN.findall(text)
    for i, tok in enumerate(toks + [""]):
        clean = tok.strip(".-'’")
        low = fold(clean).removesuffix("'s").replace(".", "")
        first = i == 0 or toks[i - 1].endswith((".", "!", "?"))
        if clean[:1].isupper() and low not in STOPWORDS and len(low) > 1 and not (first and lower and low in lower):
            if not run:
                start = i
            run.append(low.replace("-", " "))
        elif run:
            out.append((start, i, " ".join(run)))
            run = []
    return out


def same_direction(claim: str, statement: str) -> str:
    """'' unless two names stand in the claim and the statement in opposite orders around the same
    verb, in the active voice in both ('Gamma bought Acme' against 'Acme bought Gamma')."""
    c_runs, s_runs = _name_runs(claim), _name_runs(statement)
    c_toks, s_toks = [fold(t) for t in _TOKEN.findall(claim)], [fold(t) for t in _TOKEN.findall(statement)]
    s_pos = {name: pos for pos, name in s_runs}
    for i, (pa, a) in enumerate(c_runs):
        for pb, b in c_runs[i + 1:]:
            if a not in s_pos or b not in s_pos or s_pos[a] <= s_pos[b]:
                continue
            between_c = c_toks[pa:pb]
            between_s = s_toks[s_pos[b]:s_pos[a]]
            # 'A was the engineer of B' relates by a noun, which may be written either way round
            if (_PASSIVE | _BE) & set(between_c) or _PASSIVE & set(between_s):
                continue
            shared = set(content_words(" ".join(between_c))) & set(content_words(" ".join(between_s)))
            shared -= set(content_words(a + " " + b))
            if shared:
                return f"the passage says {b} {' '.join(sorted(shared))} {a}, not the reverse"
    return ""


def answering_statement(question: str, passage: str, context: str = "") -> Statement | None:
    """The statement of ``passage`` that could answer ``question`` on its own: it names every name
    and number the question names (a pronoun may stand for a name of the sentence before) and
    states a fact of the kind asked for (a number, a date, a name); None when no statement does.
    A passage is quoted as an answer only through such a statement."""
    kind = expected_kind(question)
    runs = [" ".join(run).replace(".", "") for run in question_name_runs("x " + question)]
    asked = numbers(question)
    at = context.find(passage)
    earlier = context[:at] if at >= 0 else ""
    lower = lowercase_words(context, passage, question)
    q_words = set(words(question.replace(".", "")))
    for group in statements(passage, earlier):
        st = group[-1]                       # the whole sentence; what the question names may be named above it
        upto = f"{earlier} {passage[:passage.find(st.sentence)]} {st.text}"
        if not (all(_present(run, upto) for run in runs) and asked <= numbers(upto)
                and has_kind(st.text, kind, question) and not missing_focus(question, st.scope)):
            continue
        # a name of the question the sentence itself does not hold may not stand where it names another party
        first = next((run for _, run in _name_runs(st.text, lower)), "")
        if any(not _present(run, st.text, lower) for run in runs) and first \
                and not all(mentioned(w, q_words) for w in first.split()):
            continue
        return st
    return None
