"""What to return for a question: the model's verified answer, a passage quoted verbatim, or "the
documents do not answer this". Each step is a named check that gives a reason when it fails.

The model's answer is used when the verifier kept some of it and every answer check passes:
  on_topic         — the passages it cites are about what the question names;
  adds_a_fact      — it does more than repeat the question, says something of what it asks, and names
                     nothing else where the question names what it asks about;
  says_the_act     — asked who did an act ('Who captained …?'), it says the act in some form of its
                     word (a sentence that says who led the side does not say who captained it); a
                     bare name, the sentence it rests on does;
  cites_strong     — it does not cite a passage far less relevant than the best one;
  states_kind      — it states the kind of fact asked for (a number, a date, a name, a reason);
  same_polarity    — asked what is not so ('What is not …', 'Who never …'), it says what is not, or
                     rests on a sentence that does, and that sentence does not say the very word the
                     question denies without denying it ('It is commonly believed that the bridge is
                     not safe' for 'What is not commonly believed …?'); and the sentence it rests on
                     does not use a word of the question under a negating prefix, or the other way
                     round ('unknown' for 'known');
  same_terms       — the sentence it rests on does not say the question's words around another word
                     ('multiple possible future actions' for '… past actions?'): that is another thing;
  rests_on_what_is_asked — each sentence's passage, up to the sentence it rests on, says more than a
                     third of what the question asks ('Takaichi is Japan's first female leader' for 'Who
                     was the first foreign leader to meet Takaichi?' says 'leader', not who met her);
                     for a bare answer ('Manuel Neuer'), also the one word a question may ask ('runner-up');
  fills_the_gap    — shown only the sentence that states it, the model does not find another fact of
                     the same kind there a clearly better answer ('Harbor City won' against
                     'Oakridge United beat Harbor City');
Otherwise a passage is quoted only when one of its sentences answers the question on its own (it
names what the question names, states the kind of fact asked, says what is not so when that is
what is asked, and puts no other word in place of one of the question's), it passes on_topic, it
says the act asked of a doer, and it says something of what the question asks besides its names (a
passage naming a company, a quarter and a number of vehicles does not answer what its revenue was);
else abstain. The passages tried are
those clearly about the question, and first the passage the model's answer came from: when the answer
took the wrong part of it, or when its sentence was dropped because the passage holds its facts but
says their relation in other words (then that sentence itself must say something of what is asked).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from . import answerable, kinds
from .evidence import Passage
from .claim import answering_statement, said_before
from .party import another_in_its_place
from .relation import alternatives
from .judge import fills_gap
from .text import content_words, flips_a_word, initials_spelled_out, says_not, swapped_word
from .verify import Verdict

# A model answer citing a passage this far below the best passage's relevance score is not trusted,
# unless it states the kind of fact the question asks for (a number, a date, a name): then any shown
# passage may back it (evidence selection shows none more than evidence.FAR_BELOW_BEST below the best).
WEAK_CITATION_GAP = 0.3
# Shown only the stating sentence, another fact of the claim's kind this much likelier (in nats) in
# the claim's place than the claim's own fact means the claim took the wrong one.
FILL_MAX_MARGIN = 1.0
# A passage is quoted as the answer only when it is clearly about the question ...
QUOTE_MIN_COSINE = 0.55
QUOTE_MIN_OVERLAP = 0.6


@dataclass
class Decision:
    kind: str                                   # "answer", "quote" or "abstain"
    passage: Passage | None = None              # the passage quoted
    notes: list[str] = field(default_factory=list)


def decide(question: str, passages: list[Passage], verdict: Verdict, generator=None) -> Decision:
    d = Decision("abstain")
    kind = kinds.expected_kind(question)
    by_n = {p.n: p for p in passages}
    quotable: list[Passage] = []     # the passage the model's answer came from, when it states the kind asked
    too_little: set[int] = set()     # passages the model's answer rested on that say too little of what is asked
    if verdict.supported:
        failed, problem = answer_problem(question, passages, verdict, generator)
        if failed is rests_on_what_is_asked:
            too_little = {s.cites[0] for s in verdict.sentences if s.cites}
        if not problem:
            d.kind = "answer"
            return d
        d.notes.append(f"the model's answer was not used: {problem}")
        if failed is states_kind:
            # The model found a passage that backs its sentence but took the wrong part of it.
            cited = list({n: by_n[n] for s in verdict.sentences for n in s.cites}.values())
            quotable = [p for p in cited if kinds.has_kind(p.text, kind, question)]
    # A sentence dropped because a sentence of its passage holds its facts but says their relation in
    # other words: that passage, if that sentence says something of what the question asks.
    held = [by_n[n] for n in verdict.held if n in by_n and by_n[n] not in quotable]
    quotable += held
    if verdict.refused and not quotable:
        return d
    candidates = quotable + [p for p in passages if p not in quotable and clearly_about(question, p)]
    for p in candidates:
        st = answering_statement(question, p.text, p.context)
        if st is None or on_topic(question, [p], passages):
            continue
        if answerable.misses_the_question(question, st.sentence if p in held else p.text):
            continue        # a held passage was not chosen for its closeness: its own sentence must say it
        if p not in held and not answerable.says_the_act(question, p.text):
            continue        # 'Who won …?' is not answered by a passage that says nothing of winning
        if p.n in too_little and answerable.says_too_little_asked(question, _rests_on(p, st)):
            continue        # what made the model's answer from it no answer makes the quote none
        d.kind, d.passage = "quote", p
        d.notes.append("the passage the model's answer came from is quoted instead" if p in quotable
                       else "the best matching passage is quoted instead of a model-written answer")
        return d
    return d


def answer_problem(question: str, passages: list[Passage], verdict: Verdict,
                   generator=None) -> tuple[Callable[..., str] | None, str]:
    """The first answer check the verified answer fails and why, or (None, '') when it passes them all:
    first what it cites (on_topic, cites_strong), then what it says (``claim_problem``)."""
    kind = kinds.expected_kind(question)
    by_n = {p.n: p for p in passages}
    cited = list({n: by_n[n] for s in verdict.sentences for n in s.cites}.values())
    text = " ".join(s.text for s in verdict.sentences)
    for check, args in [(on_topic, (question, cited, passages)),
                        (cites_strong, (question, text, kind, cited, passages))]:
        problem = check(*args)
        if problem:
            return check, problem
    return claim_problem(question, verdict, generator, passages)


def claim_problem(question: str, verdict: Verdict, generator=None,
                  passages: list[Passage] = ()) -> tuple[Callable[..., str] | None, str]:
    """The first check of what the verified answer says that it fails, and why; (None, '') if none.
    ``passages``: those the verdict's sentences cite, for the text above a stating sentence."""
    kind = kinds.expected_kind(question)
    text = " ".join(s.text for s in verdict.sentences)
    for check, args in [(adds_a_fact, (question, text)),
                        (says_the_act, (question, text, verdict)),
                        (states_kind, (question, text, kind)),
                        (same_polarity, (question, verdict)),
                        (same_terms, (question, verdict)),
                        (rests_on_what_is_asked, (question, verdict, passages)),
                        (fills_the_gap, (question, verdict, generator))]:
        problem = check(*args)
        if problem:
            return check, problem
    return None, ""


def on_topic(question: str, cited: list[Passage], passages: list[Passage]) -> str:
    """Why the cited passages cannot be the answer to this question, or '' when they can."""
    names = answerable.missing_names(question, " ".join(p.context for p in cited),
                                     found=" ".join(p.context for p in passages))
    if names:
        return f"the cited passages do not mention {', '.join(names)}"
    rare = answerable.missing_rare_terms(question, " ".join(p.context for p in passages))
    if rare:
        return f"the documents found do not mention {', '.join(rare)}"
    return answerable.missing_focus(question, " ".join(p.context for p in cited))


def adds_a_fact(question: str, text: str) -> str:
    if answerable.adds_nothing(question, text):
        return "it only repeats the question"
    if answerable.misses_the_question(question, text):
        return "it says nothing of what the question asks"
    other = another_in_its_place(question, text)
    if other:
        return other
    return ""


def says_the_act(question: str, text: str, verdict: Verdict) -> str:
    if answerable.bare(text):       # a name alone: the sentence it rests on must say the act
        text += " " + " ".join(s.statement.said for s in verdict.sentences if s.statement is not None)
    if not answerable.says_the_act(question, text):
        return "it does not say who did what the question asks"
    return ""


def cites_strong(question: str, text: str, kind: str | None, cited: list[Passage], passages: list[Passage]) -> str:
    if kind and kinds.has_kind(text, kind, question):
        return ""
    if max(p.score for p in cited) < passages[0].score - WEAK_CITATION_GAP:
        return "it cites a passage much less related to the question than the best one"
    return ""


def states_kind(question: str, text: str, kind: str | None) -> str:
    if not kinds.has_kind(text, kind, question):
        return f"it states no {kind}, which the question asks for"
    return ""


def same_polarity(question: str, verdict: Verdict) -> str:
    if any(s.statement is not None and flips_a_word(question, s.statement.sentence) for s in verdict.sentences):
        return "the passage uses a word of the question under a negating prefix, or the other way round"
    if not answerable.asks_what_is_not(question):
        return ""
    if not any(says_not(s.text) or (s.statement is not None and says_not(s.statement.sentence)) for s in verdict.sentences):
        return "the question asks what is not so, and the answer says what is"
    for s in verdict.sentences:
        word = s.statement is not None and answerable.says_what_is_denied(question, s.statement.text)
        if word:
            return f"the question asks what is not “{word}”, and the passage says what is"
    return ""


def same_terms(question: str, verdict: Verdict) -> str:
    for s in verdict.sentences:
        swap = s.statement is not None and swapped_word(question, s.statement.sentence)
        if swap:
            return f"the passage says “{swap[1]}” where the question says “{swap[0]}”"
    return ""


def rests_on_what_is_asked(question: str, verdict: Verdict, passages: list[Passage]) -> str:
    by_n = {p.n: p for p in passages}
    for s in verdict.sentences:
        st = s.statement
        if st is None:
            continue
        p = by_n.get(s.cites[0]) if s.cites else None
        # a bare answer states no relation of its own: the text it rests on must say even one asked word
        if answerable.says_too_little_asked(question, _rests_on(p, st), answerable.bare(s.text)):
            return "the passage it rests on says too little of what the question asks"
    return ""


def _rests_on(p: Passage | None, st) -> str:
    """What an answer resting on statement ``st`` of passage ``p`` rests on: what the passage says up to
    it (the question's subject may be named above it in words it refers back to, 'the agreement' for
    'the critical minerals framework') and the statement."""
    above = said_before(p.text, st, p.context or p.text) if p is not None else ""
    return f"{above} {st.before} {st.said}"


def fills_the_gap(question: str, verdict: Verdict, generator) -> str:
    if generator is None:
        return ""
    for s in verdict.sentences:
        if s.statement is None:
            continue
        fact, others = alternatives(s.text, s.statement, question)
        shown = f"{s.statement.before} {s.statement.sentence}".strip()
        fill = fills_gap(generator, question, shown, s.text, fact, others)
        if fill and fill.margin > FILL_MAX_MARGIN:
            return f"shown only the sentence it cites, the model finds “{fill.best}” fits the question better than “{fill.fact}”"
    return ""


def clearly_about(question: str, passage: Passage) -> bool:
    """Close in meaning to the question and sharing most of its content words (a name written in
    capitals is shared by the words it is the initials of: 'EU' by 'European Union')."""
    qwords = set(content_words(question))
    if not qwords:
        return False
    shared = set(content_words(passage.text)) | initials_spelled_out(question, passage.text)
    overlap = len(qwords & shared) / len(qwords)
    return passage.cosine >= QUOTE_MIN_COSINE and overlap >= QUOTE_MIN_OVERLAP
