"""What kind of fact a question asks for ('How many …': a number, 'When …': a time, 'Who …': a
name, 'Why …': a reason, 'Which country …', 'What colour …'), and whether a text states a fact of
that kind that the question does not already give."""
from __future__ import annotations

import re

from .answerable import question_names
from .text import NUMBER_WORDS, STOPWORDS, fold, strip_markers, words


_MONTHS = ("january february march april may june july august september october november december "
           "monday tuesday wednesday thursday friday saturday sunday "
           "jan feb mar apr jun jul aug sep sept oct nov dec").split()
# Words that say when without a date: a part of the day or year, a span, or a word placing it
# against an event ('as soon as they enter into force', 'after the war', 'in the late 19th century');
# an answer to 'When …?', not to a question asking for a day, a year or a date.
_TIME_WORDS = frozenset("after before during until till upon soon later ago century centuries decade decades era "
                        "morning afternoon evening night midnight noon dawn dusk spring summer autumn winter week "
                        "weeks weekend daily weekly monthly annually yearly whenever".split())
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
        # 'When …?' may be answered against an event ('after the war'); 'Which day …?', 'What year …?' not
        relative = not _WHAT_TIME.search(" " + " ".join(words(question)) + " ")
        return has_number or any(w in _MONTHS or (relative and w in _TIME_WORDS) for w in new_words)
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
