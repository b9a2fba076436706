"""Does the evidence address the question at all? Checks that decide an abstention even when the
model produced a fluent, quote-backed sentence (it may be about something else).

- Every name the question asks about must appear near the cited quote (in its chunk).
- A rare word of the question (an uncommon English word, e.g. 'dysprosium') that appears nowhere in
  the retrieved text means the documents found do not talk about it.
"""
from __future__ import annotations

import re

from .text import (NUMBER_WORDS, QUESTION_WORDS, STOPWORDS, agent_verb, content_words, fold, initials_spelled_out,
                   mentioned, numbers, said_in_any_form, says_not, shares_root, stem, strip_markers, verb_stem, words)

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


_MONTHS = ("january february march april may june july august september october november december "
           "monday tuesday wednesday thursday friday saturday sunday "
           "jan feb mar apr jun jul aug sep sept oct nov dec").split()
_WHICH_NAMED = re.compile(r" (?:which|what) (?:other )?(?:city|cities|country|countries|company|companies|state|"
                          r"states|town|place|person|team|teams|nation|nations|firm|firms|organi[sz]ation) ")
_COLOURS = frozenset("black white grey gray red green blue yellow orange purple violet pink brown golden gold silver "
                     "crimson scarlet maroon navy teal turquoise cyan magenta beige ivory amber bronze copper azure "
                     "emerald indigo lavender lilac olive tan cream ochre rust coral".split())


def expected_kind(question: str) -> str | None:
    """What kind of fact the question asks for: 'number', 'time', 'colour', 'country', 'name', 'reason'
    or None (anything)."""
    q = " " + " ".join(words(question)) + " "
    if any(k in q for k in (" how much ", " how many ", " how long ", " how tall ", " how old ", " how far ",
                            " how big ", " how large ", " how heavy ", " how fast ", " what percentage ",
                            " what price ", " price ", " cost ", " percent ", " what caliber ", " what calibre ",
                            " what temperature ", " what age ")):
        return "number"
    if _WHAT_AMOUNT.search(q):
        return "number"
    if " what colour " in q or " what color " in q or " which colour " in q or " which color " in q:
        return "colour"
    if q.startswith(" why ") or any(k in q for k in (" for what reason ", " what is the reason ", " what was the reason ")):
        return "reason"
    if q.startswith(" when ") or _WHAT_TIME.search(q) or any(k in q for k in (" release date ", " premiere date ",
                                                                               " the date of ")):
        return "time"
    if _WHICH_COUNTRY.search(q):
        return "country"
    if q.startswith(" who ") or " whom " in q or q.startswith(" where ") or _WHICH_NAMED.search(q):
        return "name"
    return None


# 'What tariff rate …', 'What share of …', 'What proportion …': an amount, under another word.
_WHAT_AMOUNT = re.compile(r" (?:what|which)(?: \w+)? (?:rate|rates|share|proportion|percentage|amount|sum|total) ")
_WHAT_TIME = re.compile(r" (?:what|which) (?:day|days|date|dates|year|years|month|months|decade|century) ")
_WHICH_COUNTRY = re.compile(r" (?:which|what) (?:other )?(?:country|countries|nation|nations) ")
# Abbreviations are matched as written ('US', not the pronoun 'us').
_COUNTRY_ABBREVIATIONS = re.compile(r"(?<![\w.])(?:U\.S\.A\.?|U\.S\.?|USA|US|U\.K\.?|UK|UAE|PRC|DPRK)(?![\w])")
_COUNTRY_ALIASES = ("America", "Britain", "Great Britain", "England", "Scotland", "Wales", "Northern Ireland",
                    "Russia", "Turkey", "Czech Republic", "Holland", "Ivory Coast", "Korea", "Palestine", "Congo",
                    "Burma", "Macedonia", "Swaziland", "Cape Verde", "East Timor")
_country_names: frozenset[str] | None = None


def country_names() -> frozenset[str]:
    """Country names, folded: pycountry's names, common and official names, and everyday aliases."""
    global _country_names
    if _country_names is None:
        import pycountry

        names = set(_COUNTRY_ALIASES)
        for c in pycountry.countries:
            for attr in ("name", "common_name", "official_name"):
                value = getattr(c, attr, None)
                if value:
                    names.add(value.split(",")[0] if "," in value and attr == "name" else value)
        _country_names = frozenset(" ".join(words(n)) for n in names if "," not in n)
    return _country_names


def countries_in(text: str) -> set[str]:
    """The countries ``text`` names, as written folded ('japan', 'south korea', 'us')."""
    found = {fold(m.group(0)).replace(".", "") for m in _COUNTRY_ABBREVIATIONS.finditer(text)}
    plain = " " + " ".join(words(text)) + " "
    found |= {name for name in country_names() if f" {name} " in plain}
    return found


A_YEAR = re.compile(r"(1[5-9]|20)\d\d")       # a number that is a year (fullmatch)


def has_kind(text: str, kind: str | None, question: str = "") -> bool:
    """Does ``text`` state a fact of that kind (a number; a date or time; a name) that the question
    does not already contain?"""
    if kind is None:
        return True
    plain = strip_markers(text)
    asked = set(words(question))
    new_words = [w for w in words(plain) if w not in asked]
    has_number = any(any(ch.isdigit() for ch in w) or w in NUMBER_WORDS for w in new_words)
    if kind == "number":     # an amount, not a year ('How long is the bridge?' is not answered by '1971')
        return any((any(ch.isdigit() for ch in w) and not A_YEAR.fullmatch(w)) or w in NUMBER_WORDS
                   for w in new_words)
    if kind == "time":
        return has_number or any(w in _MONTHS for w in new_words)
    if kind == "reason":
        return bool(_REASON.search(fold(plain)))
    if kind == "colour":
        return any(w in _COLOURS or w.removesuffix("ish") in _COLOURS for w in new_words)
    if kind == "country":    # 'Which other countries …' is not answered by 'Tokyo' or by the question's 'U.S.'
        return bool(countries_in(plain) - countries_in(question))
    asked_names = set(question_names("x " + question))
    toks = [t.strip(".,;:!?\"'()[]“”‘’") for t in re.split(r"[\s\-–—/]+", plain)]
    for i, tok in enumerate(toks):
        if "." in tok or len(tok) < 3:
            continue  # 'U.S', 'AI': abbreviations, not the name asked for
        if tok[:1].isupper() and fold(tok) not in asked_names and fold(tok) not in asked \
                and fold(tok) not in _MONTHS and not (i == 0 and tok.lower() in STOPWORDS) \
                and not _qualifies_asked(toks[i + 1:], asked_names):
            return True
    return False


def _qualifies_asked(rest: list[str], asked_names: set[str]) -> bool:
    """Is a capitalised word only a title before a name the question gives ('Prime Minister' in
    'Prime Minister Shinzo Abe' for 'Who assassinated Shinzo Abe?'): its run of capitalised words
    goes on into an asked name?"""
    for tok in rest:
        if not tok[:1].isupper():
            return False
        if fold(tok).removesuffix("'s").removesuffix("’s") in asked_names:
            return True
    return False


# Words that give a cause or a purpose: what an answer to 'why' must hold.
_REASON = re.compile(r"\b(?:because|due to|owing to|thanks to|since|so that|in order to|so as to|as a result|"
                     r"results? of|caused by|causes?|led to|leads to|reasons?|as (?:it|they|he|she|we|its|their|this|there)|"
                     r"(?:over|after|for|from) (?:a|an|the|its|their|his|her|fears?|concerns?|complaints?))\b")


_FULL_NAME = re.compile(r"\b([A-Z][\w'’-]+)\s+([A-Z][\w'’-]+)")


def full_name(text: str, question: str = "") -> bool:
    """Does ``text`` name someone in full: two capitalised words in a row ('Sanae Takaichi'), neither
    of them in the question, a stop word or a month?"""
    asked = set(words(question))
    for m in _FULL_NAME.finditer(strip_markers(text)):
        first, second = fold(m.group(1)), fold(m.group(2))
        if not ({first, second} & asked) and first not in STOPWORDS and first not in _MONTHS \
                and second not in _MONTHS:
            return True
    return False


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

