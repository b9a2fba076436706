"""Is a claim *stated* by a passage, not only assembled from its words?

A claim's facts (the numbers and names it adds to the question) and the relation between them must
be stated together in one place of the passage: one clause or sentence, or a sentence and the one it
refers back to ("She had run the water board" after "Dana Whitfield became mayor"), or a line of a
list and the line that leads into it ("Lakeside: 40" under "Ferry times from Port Elm, in minutes:"). ``find`` looks
for that statement; each check gives a reason when it fails:

- ``_states``: the statement holds every new fact of the claim and most of its other words (the
  relation, even when that is one word: "Karl Jansson directed Grey Harbour" is not stated by "its
  score was composed by Karl Jansson"; a word counts in any form of its root, "seized" in "the
  seizure"), not facts gathered from different sentences, and no verb it says the opposite of
  ("fell" for "rose").
- ``same_party``: a name the claim borrows (from the sentence before, or the question's topic) may
  not stand where the statement names another party ("Acme bought Gamma for $5 million" does not
  say what Beta paid), and must be named before the statement; a number it borrows may not stand
  where the statement gives another number of its kind (a year for a year: "the 46th president" does
  not say it of another year).
- ``same_direction``: two names the claim and the statement both hold, joined by the same verb,
  stand in the same order ("B invests in A" is not "A invests in B").
- ``said_to_lose``: a name the passage says was defeated, and never says won, did not win.

``answering_statement`` is the same idea for a passage quoted as an answer: one of its sentences
must answer the question on its own.
"""
from __future__ import annotations

from dataclasses import dataclass

from .chunk import split_sentences
from .answerable import asks_what_is_not, denies_what_is_asked, missing_focus, other_qualifier, question_name_runs
from .kinds import A_YEAR, expected_kind, has_kind
from .measure import same_measure
from .party import done_by_another, for_another, names_the_doer, role_of_another, said_in_brackets, swapped_name
from .relation import in_the_asked_part, number_of_another, said_to_lose, same_direction, same_frame, says_opposite
from .text import (acronyms, clauses, content_words, flips_a_word, mentioned, numbers, said_in_any_form,
                   spelled_out, swapped_word, words)
from .wording import first_party, lowercase_words, name_runs, named_subject, name_words, relation_words, same_word

# The share of the claim's own words (its relation) the statement must hold.
MIN_STATEMENT_OVERLAP = 0.5


# A clause of fewer words is a field of a record or a list, not a statement of its own.
MIN_CLAUSE_WORDS = 4


_PRONOUNS = frozenset("it its they their them he she his her him".split())


@dataclass(frozen=True)
class Statement:
    text: str          # a clause or sentence of the passage
    before: str        # the sentence before it, when it refers back to it with a pronoun; else ''
    sentence: str      # the whole sentence it is part of (a clause may leave out what it shares: 'while B's is 1.1')
    lead: str = ""     # for an item of a list, the line that leads into the list ('… the following speedups:')

    @property
    def scope(self) -> str:
        return f"{self.before} {self.text}".strip()

    @property
    def said(self) -> str:
        """Where the relation is stated: the sentence, and the line a list item sits under."""
        return f"{self.lead} {self.sentence}".strip()

    @property
    def whole(self) -> str:
        """The statement, and the line a list item sits under."""
        return f"{self.lead} {self.text}".strip()


def statements(passage: str, preceding: str = "") -> list[list[Statement]]:
    """The places a claim may be stated, sentence by sentence: a sentence's clauses, then the whole
    sentence. A statement with a pronoun may draw on the sentence before it (for the passage's first
    sentence, the last one of ``preceding``, the text above the passage). A line of a list under a
    lead-in that ends with ':' is read with that lead-in ('Speedup over the V100:' / 'ResNet: 1.4x')."""
    spans = split_sentences(passage)
    sentences = [passage[a:b] for a, b in spans]
    above_spans = split_sentences(preceding)[-1:]
    above = [preceding[a:b] for a, b in above_spans]
    # the text between each sentence and the one before it: a new line there starts a list item
    gaps = [(preceding[above_spans[0][1]:] if above_spans else "") + passage[:spans[0][0]] if spans else ""]
    gaps += [passage[spans[i - 1][1]:spans[i][0]] for i in range(1, len(spans))]
    out = []
    lead = ""
    for i, sent in enumerate(sentences):
        earlier = sentences[i - 1] if i else (above[0] if above else "")
        if earlier.endswith(":") and "\n" in gaps[i]:
            lead = earlier
        elif "\n" not in gaps[i] or (lead and gaps[i].count("\n") > 1 and lead != earlier):
            lead = ""           # the list ends where prose goes on, or at a blank line after its items
        parts = clauses(sent)
        if any(len(p.split()) < MIN_CLAUSE_WORDS for p in parts):   # 'Ship: Albatross; Captain: …' is one record
            parts = [sent]
        group = []
        for part in (parts if len(parts) > 1 else []) + [sent]:
            before = lead or (earlier if set(words(part)) & _PRONOUNS else "")
            group.append(Statement(part, before, sent, lead))
        out.append(group)
    return out


@dataclass
class Facts:
    claim: str
    new: set[str]              # numbers and names the claim adds to the question (or, without any, its new words)
    asked: set[str]            # numbers the claim repeats from the question
    asked_names: list[list[str]]   # names of the question the claim repeats, each a run of folded words
    names: set[str]            # every name of the claim
    question_names: list[list[str]]   # every name of the question, each a run of folded words
    left_out: set[str]         # years the question gives and the claim does not repeat
    initials: set[str]         # names the claim or the question writes in capitals ('eu'), folded


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
    left_out = {n for n in q_numbers - numbers(claim) if A_YEAR.fullmatch(n)}
    return Facts(claim, new, asked, [r for r in runs if r], claim_names, question_name_runs("x " + question),
                 left_out, acronyms(claim) | acronyms(question))


# Why a sentence holding every fact of a claim does not state it, when only its words differ (not
# when it says the facts of another party, another way round or as another measure).
UNSTATED_RELATION = "the sentence that holds its facts does not state its relation"


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
    q_relation = relation_words(" ".join(q_words))
    at = context.find(passage)
    earlier = context[:at] if at >= 0 else context     # a topic is named before it is referred to
    reason = "its facts are not stated together in one sentence of the passage"
    sentences = [passage[a:b] for a, b in split_sentences(passage)]
    for group in statements(passage, earlier):
        # the tightest statements first: a sentence counts only when none of its clauses holds the facts
        for st in group:
            before = f"{said_before(passage, st, context)} {st.before} {st.text}"
            topic = relation_words(_heading(sentences, st)) & q_relation   # the question's words a heading says
            why = _states(f, relation, st, q_words, before, lower, topic)
            if why is None:
                continue
            if not why:
                why = same_direction(claim, st.whole) or said_to_lose(f, relation, f"{context} {passage}") \
                    or in_the_asked_part(claim, st, question) \
                    or same_frame(claim, st.whole) or number_of_another(claim, st.whole) \
                    or same_measure(claim, st.whole, question) \
                    or for_another(claim, st.whole, question) or names_the_doer(claim, f"{st.before} {st.whole}") \
                    or done_by_another(question, f.new, st.whole) \
                    or role_of_another(relation, st.whole, f.names | {w for run in f.question_names for w in run}) \
                    or said_in_brackets(claim, f.new, f.names, st.sentence) \
                    or _copies_another(claim, st, sentences, relation, lower)
                if not why:
                    return "", st
            reason = why
            break
    return reason, None


def said_before(passage: str, st: Statement, context: str = "") -> str:
    """What the passage's chunk (``context``) says before the statement: the text above the passage,
    and the passage up to the statement; the whole chunk above it when the passage is not found there."""
    at = context.find(passage)
    return f"{context[:at] if at >= 0 else context} {_up_to(passage, st)}"


def _up_to(passage: str, st: Statement) -> str:
    """The passage before the statement: the sentences before its sentence, and the clauses of its
    sentence before it ('The April frost damaged …, but the walnut groves were not affected')."""
    start = passage.find(st.sentence)
    if start < 0:
        return passage
    return passage[:start + max(st.sentence.find(st.text), 0)]


def _heading(sentences: list[str], st: Statement) -> str:
    """The line right above the statement's sentence when it is a heading, not a sentence of its own
    (no full stop: 'Day 2 – Ropers'); else ''."""
    i = sentences.index(st.sentence) if st.sentence in sentences else 0
    above = sentences[i - 1].strip() if i else ""
    return "" if above.endswith((".", "!", "?", "…")) else above


def _copies_another(claim: str, st: Statement, sentences: list[str], relation: set[str], lower: set[str]) -> str:
    """Why the claim reads as a sentence of the passage with another name put in (``swapped_name``),
    unless the statement that holds its facts states the whole relation itself ('Lena Holt won the
    prize. Tomas Berg won the prize for poetry.' does state that Tomas Berg won it)."""
    own = bool(relation) and relation <= relation_words(st.said)
    return next((why for s in sentences
                 if (s == st.sentence or not own) and (why := swapped_name(claim, s, lower))), "")


def _states(f: Facts, relation: set[str], st: Statement, q_words: set[str], earlier: str,
            lower: set[str], topic: set[str] = frozenset()) -> str | None:
    """None when ``st`` does not hold the claim's new facts; else '' when it states the claim, or why not.
    ``topic``: words of the question the heading above the statement says, as the topic the statement
    goes on about ('Day 2 – Ropers' above 'you emerge in a grotto')."""
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
    # the relation is stated here; the sentence before gives only whom a pronoun means
    said = relation_words(st.said)
    flipped = says_opposite(relation, said)
    if flipped:
        return f"the passage says “{flipped[1]}”, not “{flipped[0]}”"
    # Most of the relation's words, even of one ('Karl Jansson directed Grey Harbour' is not stated by
    # 'its score was composed by Karl Jansson'); a word of the question may be said in a heading above.
    if relation and sum(said_in_any_form(w, said | topic) for w in relation) / len(relation) < MIN_STATEMENT_OVERLAP:
        return UNSTATED_RELATION
    return same_party(f, st, own_numbers, q_words, earlier, lower)


def _present(run: str, text: str, lower: set[str] | None = None, initials: set[str] = frozenset()) -> bool:
    """Is the name ``run`` (folded words) in ``text``: one of its words there (written as a name,
    with ``lower``), and not only under another name ('Ardent Bridge' is not in 'the Lowgate Bridge')?
    A name written in capitals (one of ``initials``) is also there in the words it is the initials of."""
    if run in initials and spelled_out(run, text):
        return True
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
    is named nowhere up to the statement, not even in other words ('the presidential election').
    A name of the question that the claim leaves out is its party too: 'Hartop's Mill was bought for
    £40,000' answers 'How much did the Corby Guild pay for Hartop's Mill?' only from a statement that
    names the Corby Guild, or names no other party."""
    claim_runs = [run for _, run in name_runs(f.claim, lower)]
    caps = f.initials
    borrowed = [run for run in claim_runs if not _present(run, st.whole, lower, caps)]   # an item names what its lead-in names
    borrowed += [" ".join(run) for run in f.asked_names
                 if " ".join(run) not in borrowed and not _present(" ".join(run), st.text, lower, caps)]
    # a name of the question the claim leaves out is still whom it is said of ('42 tonnes of pears'
    # for the Ashby farm's pears; 'the floor was set at $110' for 'What floor did Japan set?'), unless
    # the statement or the sentence it refers back to names it, in any case
    left_out = [run for run in (" ".join(r).replace(".", "") for r in f.question_names)
                if not any(mentioned(w, f.names) for w in run.split())
                and not _present(run, f"{st.before} {st.whole}", initials=caps)]
    party = claim_runs[0] if claim_runs and claim_runs[0] in borrowed else next(iter(left_out), "")
    if party:
        first = named_subject(st.text, lower)
        if first and not all(mentioned(w, f.names) or mentioned(w, q_words) for w in first.split()):
            return f"the passage says it of {first}, not of {party}"
    numbers_borrowed = [x for x in sorted(f.asked) if x not in own_numbers]
    others = own_numbers - f.new - f.asked
    # a number of the statement rivals a borrowed one of its own kind: a year another year, not '46th'
    rivals = sorted(x for x in others
                    if any(bool(A_YEAR.fullmatch(x)) == bool(A_YEAR.fullmatch(b)) for b in numbers_borrowed))
    if rivals:
        return f"the passage says it of {', '.join(rivals)}, not of {', '.join(numbers_borrowed)}"
    # a claim that leaves out the year the question gives is said of that year ('412 barges' for 'in 1859?')
    years = sorted(x for x in others if A_YEAR.fullmatch(x))
    if years and f.left_out and not f.left_out & own_numbers:
        return f"the passage says it of {', '.join(years)}, not of {', '.join(sorted(f.left_out))}"
    absent = [x for x in borrowed if not _present(x, earlier, initials=caps)]
    absent += [x for x in numbers_borrowed if x not in numbers(earlier)]
    return f"the passage does not mention {', '.join(absent)} before it says this" if absent else ""


def answering_statement(question: str, passage: str, context: str = "") -> Statement | None:
    """The statement of ``passage`` that could answer ``question`` on its own: it names every name
    and number the question names (a pronoun may stand for a name of the sentence before), states a
    fact of the kind asked for (a number, a date, a name), says what is not so when that is what is
    asked, and puts no other word in place of one of the question's; None when no statement does.
    A passage is quoted as an answer only through such a statement."""
    kind = expected_kind(question)
    runs = [" ".join(run).replace(".", "") for run in question_name_runs("x " + question)]
    asked = numbers(question)
    at = context.find(passage)
    earlier = context[:at] if at >= 0 else ""
    lower = lowercase_words(context, passage, question)
    q_words = set(words(question.replace(".", "")))
    caps = acronyms(question)
    for group in statements(passage, earlier):
        st = group[-1]                       # the whole sentence; what the question names may be named above it
        upto = f"{earlier} {passage[:passage.find(st.sentence)]} {st.text}"
        if not (all(_present(run, upto, initials=caps) for run in runs) and asked <= numbers(upto)
                and has_kind(st.text, kind, question) and not missing_focus(question, st.scope)):
            continue
        # a name of the question the sentence itself does not hold may not stand where it names another party
        first = first_party(st.text, lower)
        if any(not _present(run, st.whole, lower, caps) for run in runs) and first \
                and not all(mentioned(w, q_words) for w in first.split()):
            continue
        if same_direction(question, st.whole) or says_opposite(relation_words(question), relation_words(st.scope)):
            continue        # 'How much will A invest in B?' is not 'B invests … in A'; 'consumer' is not 'producer'
        if asks_what_is_not(question) and not denies_what_is_asked(question, st.sentence):
            continue        # 'What is not used to …?' is not answered by '… is used to …'
        if flips_a_word(question, st.sentence):
            continue        # 'Whose value was known …?' is not answered by '… whose value was unknown …'
        if swapped_word(question, st.sentence):
            continue        # '… multiple possible past actions?' is not answered by '… possible future actions'
        return st
    return None
