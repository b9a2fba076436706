"""Does the evidence address the question at all? Checks that decide an abstention even when the
model produced a fluent, quote-backed sentence (it may be about something else).

- Every name the question asks about must appear near the cited quote (in its chunk).
- A rare word of the question (an uncommon English word, e.g. 'dysprosium') that appears nowhere in
  the retrieved text means the documents found do not talk about it.
"""
from __future__ import annotations

import re

from .text import (IRREGULAR, QUESTION_WORDS, STOPWORDS, agent_verb, clauses, content_words, fold,
                   initials_spelled_out, mentioned, negated, numbers, said_in_any_form, says_not, shares_root, stem,
                   strip_markers, verb_stem, words)

RARE_ZIPF = 4.0     # wordfreq Zipf frequency below which a word counts as uncommon (about 10 per million words)


def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


_NOT_NAMES = STOPWORDS | QUESTION_WORDS


def question_name_runs(question: str) -> list[list[str]]:
    """Runs of consecutive capitalised words of the question after the first word of each of its
    sentences, folded:
    'Who won Best Actor at the 92nd Academy Awards Ceremony?' -> [['best', 'actor'],
    ['academy', 'awards', 'ceremony']]."""
    runs: list[list[str]] = []
    current: list[str] = []
    toks = question.replace("?", "? ").split()
    for prev, raw in zip(toks, toks[1:]):
        if prev.endswith(("?", "!")) or (prev.endswith(".") and len(prev.strip(".")) > 3):
            continue       # a sentence's first word is capitalised anyway ('… NdPr? Please consider …')
        tok = raw.strip(".,;:!?\"'()[]“”‘’")
        parts = [part for part in tok.replace("-", " ").replace("–", " ").split()
                 if part[:1].isupper() and len(part) > 1 and part.lower() not in _NOT_NAMES]
        if not parts:
            if current:
                runs.append(current)
                current = []
            continue
        current.extend(fold(part).removesuffix("'s").removesuffix("’s") for part in parts)
        if raw.endswith((",", ";", ":")):      # 'Japan, Australia': two names
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def question_names(question: str) -> list[str]:
    """Capitalised words of the question after its first word, folded (e.g. 'Japan', 'NdPr')."""
    return list(dict.fromkeys(n for run in question_name_runs(question) for n in run))


def rare_terms(question: str) -> list[str]:
    out = []
    for w in words(question):
        if len(w) > 3 and w.isalpha() and w not in STOPWORDS and w not in QUESTION_WORDS and _zipf(w) < RARE_ZIPF:
            out.append(w)
    return out


def missing_names(question: str, context: str, found: str | None = None) -> list[str]:
    """The question's names that ``context`` does not mention. A run of capitalised words is one
    name, mentioned when any word of it is ('Academy Awards Ceremony' by 'the 92nd Academy Awards',
    'French Presidential Election' by 'the presidential election'); 'Xi Jinping' needs 'Xi' or 'Jinping'.
    A name written in capitals is also mentioned by the words it is the initials of ('EU' by 'the
    European Union').

    With ``found`` (all the text retrieved for the question), a qualifying name may be missing from
    ``context``: one shorter than a name ``context`` does mention and itself mentioned in ``found``
    ('… Super Mario Odyssey on Nintendo Switch?' answered from a passage about Super Mario Odyssey)."""
    ctx = set(words(context.replace(".", "")))
    ctx |= initials_spelled_out(question, context)    # 'WW' by 'World War'
    runs = [[n.replace(".", "") for n in run] for run in question_name_runs(question)]
    runs = [[n for n in run if n] for run in runs]
    present = [run for run in runs if run and any(mentioned(n, ctx) for n in run)
               and not other_qualifier(run, ctx, context)]
    longest = max((len(run) for run in present), default=0)
    found_words = set(words(found.replace(".", ""))) if found is not None else set()
    missing = []
    for run in runs:
        if not run or run in present:
            continue
        if found is not None and len(run) < longest and any(mentioned(n, found_words) for n in run):
            continue
        missing.extend(run)
    return list(dict.fromkeys(missing))


def other_qualifier(run: list[str], ctx: set[str], context: str) -> bool:
    """Is the name's last word in ``context`` only under another name ('British Open' asked, only
    'US Open' written)? Then the context is about something else of the same kind."""
    if len(run) < 2 or any(mentioned(n, ctx) for n in run[:-1]):
        return False
    head = run[-1]
    before = [m.group(1) for m in re.finditer(r"(\S+)\s+" + re.escape(head) + r"\b", context, re.I)]
    starts = len(re.findall(r"(?:^|[.!?]\s+)" + re.escape(head) + r"\b", context, re.I))
    qualifiers = [b.strip("\"'“”‘’(") for b in before]
    return bool(qualifiers) and not starts and all(
        q[:1].isupper() and fold(q).replace(".", "").removesuffix("'s") not in STOPWORDS.union(run)
        for q in qualifiers)


def missing_rare_terms(question: str, context: str) -> list[str]:
    """The uncommon words of the question that ``context`` does not use in any form (a name in
    capitals may be spelled out: 'WWII' by 'World War II')."""
    ctx_stems = {stem(w) for w in words(context)}
    ctx_words = set(words(context))
    spelled = initials_spelled_out(question, context)
    return [w for w in rare_terms(question) if stem(w) not in ctx_stems and not mentioned(w, ctx_words)
            and w not in spelled]


_COUNT_OF = re.compile(r"\bhow many ([a-z][a-z'’-]+)")
_STATEMENT = re.compile(r"\bwhat (?:did|does|do|has|have|will) (.+?) (?:say|said|tell|told|announce|state|claim|"
                        r"write|wrote|declare|reply|respond)\b")
_SPEECH = re.compile(r"\b(?:said|says|say|stated|states|told|tells|announced|announces|declared|claimed|wrote|"
                     r"replied|responded|added|noted|according to|statement|remarks?|quoted)\b|[“\"]")
_NOT_UNITS = frozenset("times people persons individuals things items units more of the".split())


def counted_unit(question: str) -> str | None:
    """The thing a 'how many X' question counts ('tonnes', 'loaves'), if any."""
    m = _COUNT_OF.search(fold(question))
    if not m:
        return None
    word = m.group(1).strip("'’-")
    if word in STOPWORDS or word in _NOT_UNITS or len(word) < 3:
        return None
    return word


_YES_NO = frozenset("is are was were do does did can could has have had will would should may might".split())


def yes_no(question: str) -> bool:
    """Is it a yes/no question ('Did …', 'Is …')? It may be answered either way."""
    first = words(question)[:1]
    return bool(first) and first[0] in _YES_NO


def adds_nothing(question: str, answer: str) -> bool:
    """An answer whose every content word is already in the question ('Saga stabbed Scratch' to 'Why
    did Saga stab Scratch?') states no fact. A yes/no question may be answered that way."""
    if yes_no(question):
        return False
    if numbers(strip_markers(answer)) - numbers(question):
        return False          # a number is a fact: 'France joined the agreement in 1911'
    asked = set(content_words(question))
    said = set(content_words(strip_markers(answer)))
    return bool(said) and said <= asked


def asks_what_is_not(question: str) -> bool:
    """Does the question ask about what is not so ('What is not …', 'a non-binary …', 'unknown')?
    A yes/no question may be answered either way."""
    return not yes_no(question) and says_not(question)


# Words that deny what follows them besides 'not', 'never', 'without' …, as stems ('refused to allow',
# 'failed to distinguish', 'the lack of').
_DENYING = frozenset("refus fail declin lack absenc unabl".split())
# How far before a word its negation may stand ('did not even have a …').
_NOT_REACH = 4


def denied_word(question: str) -> str:
    """The word a question's 'not' denies ('What is not commonly believed …?' -> 'believed'), or ''."""
    toks = words(question)
    for i, tok in enumerate(toks):
        if tok in ("not", "never", "cannot") or tok.endswith("n't"):
            return next((w for w in toks[i + 1:i + 4] if w not in STOPWORDS and not w.endswith("ly")), "")
    return ""


def says_what_is_denied(question: str, clause: str) -> str:
    """The word a question asks is not so ('What does not change …?') when ``clause`` says it and does
    not deny it there ('… nonconservative forces act to change …'), though it may deny something else
    ('It is believed that P is not equal to co-NP' for 'What is not believed …?'); else ''."""
    word = denied_word(question) if asks_what_is_not(question) else ""
    return word if word and _affirms(word, clause) else ""


def _affirms(word: str, clause: str) -> bool:
    """Does ``clause`` say ``word`` in some form, and nowhere under a negation just before it?"""
    toks = words(clause)
    found = [i for i, t in enumerate(toks) if verb_stem(t) == verb_stem(word)]

    def denied(i: int) -> bool:
        before = toks[max(0, i - _NOT_REACH):i]
        return negated(" ".join(before)) or any(stem(w) in _DENYING for w in before)

    return bool(found) and not any(denied(i) for i in found)


def denies_what_is_asked(question: str, sentence: str) -> bool:
    """Does a clause of ``sentence`` say that something is not so, without saying the very word the
    question denies ('The frost damaged the orchards, but the walnut groves were not affected' for
    'What was not damaged?'; not 'It is believed that P is not equal to co-NP' for 'What is not
    believed …?')?"""
    word = denied_word(question) if asks_what_is_not(question) else ""
    return any(says_not(c) and not (word and _affirms(word, c)) for c in clauses(sentence))


def missing_focus(question: str, context: str) -> str:
    """What the question is about that the context does not give, or '' when nothing is missing:
    the counted unit of 'how many tonnes …' must be in the context, and a 'what did X say' question
    needs a passage that reports speech; a number the question names ('day 10', 'Q2 2020') and an
    operator it asks about ('++') must be in the context."""
    unit = counted_unit(question)
    if unit:
        ctx_words = set(words(context))
        if stem(unit) not in {stem(w) for w in ctx_words} and not mentioned(unit, ctx_words):
            return f"the passages give no amount in {unit}"
    if _STATEMENT.search(fold(question)) and not _SPEECH.search(fold(context)):
        return "the passages do not report what was said"
    absent = sorted(numbers(question) - numbers(context), key=len)
    if absent:
        return f"the passages do not mention {', '.join(absent)}"
    symbols = [s for s in operators(question) if s not in context]
    if symbols:
        return f"the passages do not mention {', '.join(symbols)}"
    return ""


def operators(question: str) -> list[str]:
    """Tokens of the question made only of symbols ('++', '|>', '->'): what it asks about, which
    words cannot stand for."""
    tokens = (tok.rstrip("?.,!;:").strip("\"'“”‘’()") for tok in question.split())
    return [t for t in tokens if len(t) >= 2 and not any(ch.isalnum() for ch in t)]


# Words that name the kind of fact asked, not what it is about ('In which year …', 'Which country …'),
# and words that only place it in time ('Who is the new CEO …': an answer need not say 'new').
_KIND_WORDS = frozenset("year date day time month much many number amount country city place location name kind type"
                        " new current latest recent present first last".split())


# The share of what the question asks that the text an answer rests on must say: more than a third.
MIN_ASKED_SHARE = 1 / 3


def asked_words(question: str) -> set[str]:
    """What the question asks, as word stems: its words other than names, numbers and the kind of
    fact wanted ('Who was the first foreign leader to meet Takaichi?': foreign, leader, meet); all
    its content words when that is all it has."""
    names = {w for run in question_name_runs("x " + question) for w in run}
    plain_q = [w.removesuffix("'s").removesuffix("’s") for w in words(question)]
    return {verb_stem(w) for w in plain_q if w not in STOPWORDS and w not in QUESTION_WORDS and len(w) > 1
            and not w.isdigit() and w not in names and w not in _KIND_WORDS} or set(content_words(question))


def _said(text: str) -> set[str]:
    plain = strip_markers(text)
    return {verb_stem(w) for w in words(plain)} | set(content_words(plain))


def misses_the_question(question: str, answer: str) -> bool:
    """A sentence of more than a few words that gives none of the words of what the question asks
    (``asked_words``) answers something else: 'Who won Japan's 2022 election?' is not answered by
    'Takaichi is Japan's first female leader …', nor 'Who directed The Avengers?' by 'Robert Downey
    Jr. says they'd still be shooting it'. A short answer ('Manuel Neuer') may be only the fact asked for."""
    if bare(answer):
        return False
    asked = asked_words(question)
    return bool(asked) and not shares_root(asked | {agent_verb(w) for w in asked}, _said(answer))


# Words after 'Who' that are no act of its own ('Who is …', 'Who was the first …', 'Who has …').
_NOT_ACTS = frozenset("is was are were be been has had have did does do will would can could may might shall "
                      "should must else".split())


def asked_act(question: str) -> str:
    """The act a question asks the doer of, as its stem ('Who captained the side in 1931?' -> 'captain',
    'Who first proposed …?' -> 'propos'); '' for any other question ('Who was the first …?', 'What …?')."""
    m = re.match(r"\s*who\s+((?:\w+ly\s+|first\s+|also\s+|later\s+)*)([a-z]+)\b", question, re.I)
    if not m:
        return ""
    w = fold(m.group(2))
    if w in _NOT_ACTS or w in STOPWORDS or not (w in IRREGULAR or w.endswith("ed") or
                                                 (w.endswith("s") and not w.endswith("ss"))):
        return ""
    return verb_stem(w)


def says_the_act(question: str, text: str) -> bool:
    """Does ``text`` say the act the question asks the doer of, in any form of its word ('captained',
    'the captain', 'captaining'), or does the question ask no act? An answer to 'Who captained the
    side?' that says who 'led the side', or who joined the club, does not say who captained it; nor
    does a text that only asks it ('results … and who is winning the race')."""
    act = asked_act(question)
    said = _said(_without_asked(text))
    return not act or any(said_in_any_form(a, said) for a in {act} | _SAME_ACT.get(act, set()))


_AUX = frozenset("is are was were will would has have had did does do could might may".split())


def _without_asked(text: str) -> str:
    """``text`` without the verbs of the questions it asks ('see who won', '… and who is winning the
    race'); a 'who' after a name or a comma begins a clause about that name ('Anna Berg, who won the
    cup in 1931, …') and is kept."""
    toks = re.findall(r"[\w’'-]+|[,;:]", text)
    kept, skip = [], False
    for i, tok in enumerate(toks):
        if skip and tok.lower() not in _AUX:
            skip = False
            continue
        kept.append(tok)
        if tok.lower() in ("who", "whoever") and not (i and (toks[i - 1] == "," or toks[i - 1][:1].isupper())):
            skip = True
    return " ".join(kept)


# Acts said in other words that say the asked one: who beat or defeated the other won.
_SAME_ACT = {"win": {"beat", "defeat"}}


def bare(answer: str) -> bool:
    """A short answer, four words or fewer, that may be only the fact asked for ('Manuel Neuer')."""
    return len(words(strip_markers(answer))) <= 4


def says_too_little_asked(question: str, text: str, bare: bool = False) -> bool:
    """Does ``text`` say a third or less of what the question asks (``asked_words``, each in any
    form of its root), when it asks two words or more? The text an answer rests on must say more:
    'Takaichi is Japan's first female leader' says 'leader' of 'Who was the first foreign leader to
    meet Takaichi?', not whom she met. For a ``bare`` answer (the fact alone, 'Manuel Neuer'), which
    states no relation of its own, also when the question asks one word: 'Who was the runner-up?' is
    not answered by a name from a sentence that says nothing of a runner-up."""
    asked = asked_words(question)
    if len(asked) < (1 if bare else 2):
        return False        # one word is the relation, which a claim of more words states itself (claim.find)
    said = _said(text)
    return sum(said_in_any_form(w, said) for w in asked) <= MIN_ASKED_SHARE * len(asked)

